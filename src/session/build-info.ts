// mgo's BuildInfo: the server version and build details from buildInfo,
// with versionArray always holding at least four numbers.
import type { Document } from 'bson';

/** mgo's BuildInfo: the server's version and build details (Session.buildInfo()). */
export class BuildInfo {
  /** The server version, e.g. "7.0.12". */
  readonly version: string;
  /** The version's numbers, at least four ([7, 0, 12, 0]). */
  readonly versionArray: number[];
  /** The git commit the server was built from. */
  readonly gitVersion: string;
  /** The OpenSSL version the server runs with ('' when it does not say). */
  readonly openSSLVersion: string;
  /** System information ('' on servers that no longer report it). */
  readonly sysInfo: string;
  /** 64 or 32. */
  readonly bits: number;
  /** A debug build. */
  readonly debug: boolean;
  /** The largest document the server accepts, in bytes (maxBsonObjectSize). */
  readonly maxObjectSize: number;

  /** Reads a buildInfo command reply. */
  constructor(reply: Document) {
    this.version = typeof reply.version === 'string' ? reply.version : '';
    const array = Array.isArray(reply.versionArray) ? reply.versionArray.map(Number).filter(Number.isInteger) : [];
    if (array.length === 0) {
      for (const part of this.version.split('.')) {
        if (!/^\d+$/.test(part)) break;
        array.push(Number(part));
      }
    }
    while (array.length < 4) array.push(0);
    this.versionArray = array;
    // " modules: enterprise" and the like follow the git hash.
    this.gitVersion = typeof reply.gitVersion === 'string' ? reply.gitVersion.split(' ')[0]! : '';
    const openssl = reply.OpenSSLVersion ?? reply.openssl?.running;
    this.openSSLVersion = typeof openssl === 'string' ? openssl : '';
    this.sysInfo = reply.sysInfo === 'deprecated' || typeof reply.sysInfo !== 'string' ? '' : reply.sysInfo;
    this.bits = Number(reply.bits ?? 0);
    this.debug = reply.debug === true;
    this.maxObjectSize = Number(reply.maxBsonObjectSize ?? 0);
  }

  /** Whether the version is at least `version` (major, minor, patch, ...). */
  versionAtLeast(...version: number[]): boolean {
    for (let i = 0; i < version.length; i++) {
      if (i === this.versionArray.length) return false;
      const have = this.versionArray[i]!;
      if (have !== version[i]) return have >= version[i]!;
    }
    return true;
  }
}
