// Connection strings (connection-string spec): mongodb:// and mongodb+srv://
// URLs split into hosts, userinfo, auth database and options. This module only
// parses, as the spec says: an unknown key or an invalid value is a warning,
// and the value is ignored. resolveOptions then decides what the driver uses.
//
// Credentials never appear in a message. When an '@' follows the host list, a
// password holding an unescaped '/' or '?' may have spilled into the hosts,
// the path or the options, so every message then withholds what it would
// otherwise quote from the string, and such an '@' is refused wherever it
// cannot be part of a known option's value.

import { isIPv4, isIPv6 } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import {
  checkOptionRules,
  deprecationNotice,
  findOption,
  invalidValue,
  optionLabel,
  settableInUrl,
  showValue,
  specOf,
  type FoundOption,
  type OptionName,
  type OptionValues,
} from './options.js';

/** What a connection string's host is: a name, an IPv4 address, an IPv6 literal or a Unix socket path. */
export type HostType = 'hostname' | 'ipv4' | 'ip_literal' | 'unix';

/** One host of a connection string, as written. */
export interface HostAddress {
  /** What kind of host it is. */
  type: HostType;
  /** Host name, IP address (IPv6 without brackets) or Unix socket path, decoded. */
  host: string;
  /** null when the URL gives none; always null for a Unix socket. */
  port: number | null;
}

/** A connection string taken apart (parseConnectionString()): hosts, userinfo, database and options as written, nothing resolved. */
export interface ConnectionString {
  /** A mongodb+srv:// string (its one host is looked up in DNS at dial). */
  srv: boolean;
  /** The hosts, in order. */
  hosts: HostAddress[];
  /** The userinfo's user, decoded; null without userinfo. */
  username: string | null;
  /** null without a ':' in the userinfo; '' for "user:@host". */
  password: string | null;
  /** The auth database (path part), decoded; null when absent. */
  database: string | null;
  /** The options the URL sets to valid values, by canonical name. */
  options: Partial<OptionValues>;
  /** Unknown keys, ignored values, repeated and deprecated keys. */
  warnings: string[];
  /** Invalid values, ignored per the spec (each is also a warning); resolveOptions refuses them. */
  invalid: InvalidOptionError[];
}

/** Quotes a part of the connection string for a message, or withholds it. */
type Quote = (text: string) => string;
const quoted: Quote = (text) => `'${text}'`;
const withheld: Quote = () => '<withheld>';

function uriError(message: string): InvalidOptionError {
  return new InvalidOptionError('ERR_INVALID_URI', message);
}

// Quotes nothing: the '@' most likely ends a username or password.
const strayAt = () =>
  uriError(
    "an '@' follows the host list: percent-encode '/', '?', ':' and '@' in the username and password (and '@' elsewhere, as %40)",
  );

interface Parts {
  /** "mongodb://", or '' when the string has no "://". */
  prefix: string;
  /** Userinfo and host list: up to the first '/' or '?' (the slash is optional). */
  authority: string;
  /** The rest: '', or '/' path and '?' options. */
  tail: string;
  /** An '@' follows the host list: see the header comment. */
  guarded: boolean;
}

function split(uri: string): Parts {
  const schemeEnd = uri.indexOf('://');
  const prefix = schemeEnd === -1 ? '' : uri.slice(0, schemeEnd + 3);
  const rest = uri.slice(prefix.length);
  const hostEnd = rest.search(/[/?]/);
  const authority = hostEnd === -1 ? rest : rest.slice(0, hostEnd);
  const tail = rest.slice(authority.length);
  return { prefix, authority, tail, guarded: tail.includes('@') };
}

// RFC 3986 section 2.1: '%' must start a two-hex-digit escape.
function decode(text: string): string | undefined {
  if (/%(?![0-9a-f]{2})/i.test(text)) return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined; // escapes that are not UTF-8
  }
}

/**
 * Parses a mongodb:// or mongodb+srv:// connection string per the
 * connection-string spec, without resolving it (no SRV lookup, no
 * defaults); throws an InvalidOptionError naming the bad part. Most callers
 * want parseURL() (mgo's ParseURL) or simply dial().
 */
export function parseConnectionString(uri: string): ConnectionString {
  if (typeof uri !== 'string' || uri === '') throw uriError('the connection string must be a non-empty string');
  const { prefix, authority, tail, guarded } = split(uri);
  const scheme = prefix.slice(0, -3).toLowerCase();
  if (scheme !== 'mongodb' && scheme !== 'mongodb+srv') {
    const shown = /^[a-z][a-z0-9+.-]*$/.test(scheme) ? ` '${scheme}'` : '';
    throw uriError(`invalid scheme${shown}: a connection string starts with 'mongodb://' or 'mongodb+srv://'`);
  }
  const srv = scheme === 'mongodb+srv';
  const quote = guarded ? withheld : quoted;

  // Connection-string spec, reference implementation: the userinfo ends at
  // the last '@' of the host information.
  const at = authority.lastIndexOf('@');
  const { username, password } = at === -1 ? { username: null, password: null } : parseUserinfo(authority.slice(0, at));
  const hosts = parseHostList(authority.slice(at + 1), tail, quote);
  if (srv) checkSrvHost(hosts, quote);

  const query = tail.indexOf('?');
  const path = tail.slice(tail.startsWith('/') ? 1 : 0, query === -1 ? undefined : query);
  const database = parseDatabase(path, quote);
  const parsed = parseOptionString(query === -1 ? '' : tail.slice(query + 1), guarded);
  checkOptionRules(parsed.values, { count: hosts.length, srv });
  return { srv, hosts, username, password, database, options: parsed.values, warnings: parsed.warnings, invalid: parsed.invalid };
}

// ---------------------------------------------------------------------------
// Userinfo (connection-string spec, "Userinfo"; RFC 3986 section 3.2.1)

const USERINFO_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=%:]*$/;
const ENCODE = 'percent-encode it in the username and password';

function parseUserinfo(userinfo: string): { username: string; password: string | null } {
  if (userinfo.includes('@')) throw uriError(`the userinfo contains an unescaped '@': ${ENCODE} as %40`);
  if (!USERINFO_CHARS.test(userinfo)) {
    throw uriError(`the userinfo contains a character that RFC 3986 does not allow there unescaped: ${ENCODE}`);
  }
  const colon = userinfo.indexOf(':');
  if (colon !== userinfo.lastIndexOf(':')) throw uriError(`the userinfo contains more than one ':': ${ENCODE} as %3A`);
  const username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password = colon === -1 ? null : decode(userinfo.slice(colon + 1));
  if (username === undefined || password === undefined) {
    throw uriError(`the userinfo contains a '%' that does not start a valid escape: ${ENCODE} as %25`);
  }
  if (username === '') throw uriError('the username is empty');
  return { username, password };
}

// ---------------------------------------------------------------------------
// Hosts (connection-string spec, "Host Information")

function parseHostList(list: string, tail: string, quote: Quote): HostAddress[] {
  if (list === '') {
    // "mongodb:///tmp/mongodb.sock": the spec requires socket paths to be encoded.
    const hint = tail.startsWith('/') ? " (a Unix domain socket path must be percent-encoded, e.g. '%2Ftmp%2Fmongodb-27017.sock')" : '';
    throw uriError(`the connection string has no host${hint}`);
  }
  return list.split(',').map((text) => parseHost(text, quote));
}

const PORT = 'expected an integer from 1 to 65535';
// What a host name may not contain once decoded (the delimiters of RFC 3986
// and characters no DNS name has); non-ASCII names are allowed.
const NOT_IN_HOSTNAME = /[\s\x00-\x1f\x7f/?#@[\]\\%:,<>"'{}|^`]/;

export function parseHost(text: string, quote: Quote = quoted): HostAddress {
  if (text === '') throw uriError('the host list has an empty entry (two commas, or a comma at an end)');
  if (text.startsWith('[')) return parseIpLiteral(text, quote);

  const colon = text.indexOf(':');
  if (colon !== text.lastIndexOf(':')) {
    throw uriError(`invalid host ${quote(text)}: more than one ':' (an IPv6 address goes in brackets, e.g. [::1]:27017)`);
  }
  const host = decode(colon === -1 ? text : text.slice(0, colon));
  if (host === undefined) throw uriError(`invalid percent-encoding in host ${quote(text)}`);
  const port = colon === -1 ? null : parsePort(text.slice(colon + 1), text, quote);

  // Connection-string spec, "Host": a socket path is encoded and ends in .sock.
  if (host.includes('/')) {
    if (!host.endsWith('.sock')) throw uriError(`Unix domain socket path ${quote(host)} must end in '.sock'`);
    if (port !== null) throw uriError(`Unix domain socket ${quote(host)} cannot have a port`);
    return { type: 'unix', host, port };
  }
  if (host === '' || NOT_IN_HOSTNAME.test(host)) throw uriError(`invalid host name in host ${quote(text)}`);
  return { type: isIPv4(host) ? 'ipv4' : 'hostname', host, port };
}

function parseIpLiteral(text: string, quote: Quote): HostAddress {
  const close = text.indexOf(']');
  const host = text.slice(1, close);
  if (close === -1 || !isIPv6(host)) throw uriError(`invalid IPv6 literal in host ${quote(text)}`);
  const after = text.slice(close + 1);
  if (after !== '' && !after.startsWith(':')) throw uriError(`unexpected text after ']' in host ${quote(text)}`);
  return { type: 'ip_literal', host, port: after === '' ? null : parsePort(after.slice(1), text, quote) };
}

function parsePort(port: string, host: string, quote: Quote): number {
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535) throw uriError(`invalid port ${quote(port)} in host ${quote(host)}: ${PORT}`);
  return n;
}

// Initial DNS seedlist discovery spec, "Validation Before Querying DNS".
function checkSrvHost(hosts: HostAddress[], quote: Quote): void {
  if (hosts.length !== 1) throw uriError(`mongodb+srv:// takes exactly one host name, not ${hosts.length}`);
  const [{ type, host, port }] = hosts as [HostAddress];
  if (type !== 'hostname') throw uriError(`mongodb+srv:// needs a host name, not an IP address or socket path: ${quote(host)}`);
  if (port !== null) throw uriError('mongodb+srv:// takes no port: the ports come from the SRV records');
}

// ---------------------------------------------------------------------------
// Auth database (connection-string spec, "Auth Database")

function parseDatabase(path: string, quote: Quote): string | null {
  if (path === '') return null;
  if (path.includes('@')) throw strayAt();
  const database = decode(path);
  if (database === undefined) throw uriError(`invalid percent-encoding in database name ${quote(path)}`);
  if (/[/\\ "$]/.test(database)) {
    throw uriError(`invalid database name ${quote(database)}: it may not contain '/', '\\', ' ', '"' or '$'`);
  }
  return database;
}

// ---------------------------------------------------------------------------
// Options (connection-string spec, "Connection Options" and "Values")

export interface UrlOptions {
  values: Partial<OptionValues>;
  warnings: string[];
  invalid: InvalidOptionError[];
  /** Keys the table does not know, as written. */
  unknown: string[];
}

interface Instance {
  found: FoundOption;
  text: string;
}

/**
 * Parses "key=value&key=value": a URL's options, or a TXT record. `guarded`:
 * an '@' follows the URL's host list (see the header comment).
 */
export function parseOptionString(query: string, guarded = false): UrlOptions {
  const out: UrlOptions = { values: {}, warnings: [], invalid: [], unknown: [] };
  const quote = guarded ? withheld : quoted;
  const instances = new Map<OptionName, Instance[]>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    // In a known option's value an '@' is plain text (replicaSet=my@rs).
    if (guarded && pair.includes('@') && !findOption(rawKey)) throw strayAt();
    if (eq === -1) throw uriError(`option ${quote(pair)} has no value: expected key=value`);
    const key = decode(rawKey);
    if (key === undefined) throw uriError(`invalid percent-encoding in option name ${quote(rawKey)}`);
    const found = findOption(key);
    const text = decode(pair.slice(eq + 1));
    if (text === undefined) {
      throw uriError(`invalid percent-encoding in the value of option ${found ? optionLabel(found.name, found.key) : quote(key)}`);
    }
    if (!found) {
      out.unknown.push(key);
      out.warnings.push(`unknown option ${quote(key)} ignored`);
    } else if (!settableInUrl(found)) {
      out.warnings.push(`option '${found.key}' can only be set in the options object; ignored in the URL`);
    } else {
      instances.set(found.name, [...(instances.get(found.name) ?? []), { found, text }]);
    }
  }
  for (const [name, list] of instances) settle(name, list, out, quote);
  return out;
}

/** Turns every instance of one option into its value, per the repeat rules. */
function settle(name: OptionName, instances: Instance[], out: UrlOptions, quote: Quote): void {
  const spec = specOf(name);
  // Connection-string spec, "Deprecated Key Value Pairs": a deprecated key is
  // not applied when its replacement is present.
  const current = instances.filter((i) => i.found.kind !== 'deprecated');
  for (const { found } of instances) {
    if (found.kind !== 'deprecated') continue;
    out.warnings.push(current.length > 0 ? `option '${found.key}' ignored: '${name}' is also set` : deprecationNotice(found));
  }
  let list = current.length > 0 ? current : instances;

  if (list.length > 1 && spec.repeat === 'error') {
    throw new InvalidOptionError('ERR_INVALID_OPTION', `option '${name}' may be given only once`);
  }
  if (list.length > 1 && spec.repeat === undefined) {
    // Connection-string spec, "Repeated Keys": precedence is ours to define.
    out.warnings.push(`option '${name}' is given ${list.length} times; the last one is used`);
    list = list.slice(-1);
  }

  const values: unknown[] = [];
  for (const { found, text: written } of list) {
    // An mgo key spells its values its own way (Alias.values).
    const text = found.values === undefined ? written : found.values[written];
    if (text === undefined) {
      const accepts = Object.keys(found.values!).map((v) => `'${v}'`).join(' or ');
      const error = new InvalidOptionError('ERR_INVALID_OPTION', `invalid value ${showValue(name, written, quote)} for option ${optionLabel(name, found.key)}: expected ${accepts}`);
      out.invalid.push(error);
      out.warnings.push(`${error.message}; ignored`);
      continue;
    }
    const value = spec.type.fromString(text);
    if (value !== undefined) {
      values.push(value);
      continue;
    }
    const error = invalidValue(name, found.key, written, quote);
    out.invalid.push(error);
    out.warnings.push(`${error.message}; ignored`);
  }
  if (values.length === 0) return;
  if (spec.repeat === 'same' && values.some((v) => !isDeepStrictEqual(v, values[0]))) {
    const keys = [...new Set(list.map((i) => `'${i.found.key}'`))].join(' and ');
    throw new InvalidOptionError('ERR_INVALID_OPTION', `option '${name}' is given different values (as ${keys}); they must agree`);
  }
  (out.values as Record<OptionName, unknown>)[name] = spec.repeat === 'list' ? values.flat() : values[0];
}

// ---------------------------------------------------------------------------

/**
 * The connection string with its userinfo replaced by "<credentials>" and
 * the values of secret options (proxyPassword...) by "<redacted>", for logs
 * and messages. Works on malformed strings too.
 */
export function redactUri(uri: string): string {
  const { prefix, authority, tail, guarded } = split(String(uri));
  const rest = authority + tail;
  // When an '@' follows the host list, redact through the last '@' of all:
  // it may end a password that holds an unescaped '/' or '?'.
  const at = guarded ? rest.lastIndexOf('@') : authority.lastIndexOf('@');
  const visible = at === -1 ? rest : `<credentials>@${rest.slice(at + 1)}`;
  return prefix + visible.replace(/([?&])([^?&=]*)=([^&]*)/g, (pair, separator: string, key: string) => {
    const found = findOption(decode(key) ?? key);
    return found && specOf(found.name).secret ? `${separator}${key}=<redacted>` : pair;
  });
}
