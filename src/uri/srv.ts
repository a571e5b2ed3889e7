// mongodb+srv:// seed lists (Initial DNS Seedlist Discovery spec): the hosts
// come from the SRV records of _{srvServiceName}._tcp.{hostname}, and one TXT
// record on {hostname} may give authSource, replicaSet and loadBalanced.
// The resolver is a parameter so that tests never touch the network.

import type { SrvRecord } from 'node:dns';
import * as dns from 'node:dns/promises';
import { InvalidOptionError } from '../errors.js';
import { parseHost, parseOptionString, type HostAddress } from './connection-string.js';
import type { OptionName, OptionValues } from './options.js';

/** The part of node:dns/promises used here. */
export interface DnsResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

export interface Seedlist {
  hosts: HostAddress[];
  /** What the TXT record sets; the URL and the options object override it. */
  options: Partial<OptionValues>;
  warnings: string[];
}

export interface SeedlistQuery {
  /** The mongodb+srv:// host name. */
  hostname: string;
  serviceName: string;
  /** 0: every host; else at most this many, picked at random. */
  maxHosts: number;
}

// Seedlist spec, "Default Connection String Options".
const TXT_OPTIONS: readonly OptionName[] = ['authSource', 'replicaSet', 'loadBalanced'];
// Resolver answers meaning "no such record", which for TXT is no options.
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND']);

function srvError(message: string): InvalidOptionError {
  return new InvalidOptionError('ERR_SRV_LOOKUP', message);
}

function reason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message ?? error);
}

export async function lookupSeedlist(query: SeedlistQuery, resolver: DnsResolver = dns): Promise<Seedlist> {
  const hostname = query.hostname.toLowerCase();
  const srvName = `_${query.serviceName}._tcp.${hostname}`;
  const [records, txt] = await Promise.all([
    resolver.resolveSrv(srvName).catch((error: unknown) => {
      throw srvError(`SRV lookup of '${srvName}' failed: ${reason(error)}`);
    }),
    resolver.resolveTxt(hostname).catch((error: unknown) => {
      if (NO_RECORD.has(reason(error))) return [];
      throw srvError(`TXT lookup of '${hostname}' failed: ${reason(error)}`);
    }),
  ]);
  if (records.length === 0) throw srvError(`SRV lookup of '${srvName}' found no records`);

  // Seedlist spec, "Querying DNS": priority and weight are ignored.
  const hosts = records.map((record) => srvTarget(hostname, record));
  const { options, warnings } = txtOptions(hostname, txt);
  return { hosts: pick(hosts, query.maxHosts), options, warnings };
}

// Seedlist spec, "Querying DNS": a target must lie within the SRV host's
// {domainname} (the host minus its first label, or the whole host when it
// has fewer than three labels, in which case the target needs one more).
function srvTarget(hostname: string, record: SrvRecord): HostAddress {
  const target = record.name.toLowerCase().replace(/\.$/, '');
  const labels = hostname.split('.');
  const domain = labels.length >= 3 ? labels.slice(1).join('.') : hostname;
  if (!target.endsWith(`.${domain}`)) {
    throw srvError(`SRV record target '${target}' of '${hostname}' is not within the domain '${domain}'`);
  }
  try {
    return { ...parseHost(target), port: record.port };
  } catch {
    throw srvError(`SRV record target '${target}' of '${hostname}' is not a valid host name`);
  }
}

function txtOptions(hostname: string, records: string[][]): Pick<Seedlist, 'options' | 'warnings'> {
  if (records.length > 1) throw srvError(`'${hostname}' has ${records.length} TXT records; at most one is allowed`);
  // A record may be split in strings of up to 255 characters: joined, in order.
  const text = records[0]?.join('') ?? '';
  const where = `the TXT record of '${hostname}'`;
  let parsed;
  try {
    parsed = parseOptionString(text);
  } catch (error) {
    throw srvError(`${where}: ${(error as Error).message}`);
  }
  // Unlike the URL, the TXT record may hold no unknown key and no invalid value.
  const [invalid] = parsed.invalid;
  if (invalid) throw srvError(`${where}: ${invalid.message}`);
  const refused = [...parsed.unknown, ...Object.keys(parsed.values).filter((name) => !TXT_OPTIONS.includes(name as OptionName))];
  if (refused.length > 0) {
    throw srvError(`${where} sets '${refused.join("', '")}'; only ${TXT_OPTIONS.join(', ')} may be set there`);
  }
  return { options: parsed.values, warnings: parsed.warnings.map((w) => `${where}: ${w}`) };
}

// Seedlist spec: srvMaxHosts picks that many at random (Fisher-Yates).
function pick<T>(items: T[], max: number): T[] {
  if (max === 0 || max >= items.length) return items;
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  return shuffled.slice(0, max);
}
