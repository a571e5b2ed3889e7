// From dial(url, options) to the values the driver runs with: parse the URL,
// merge the options object over it, look up a mongodb+srv:// seed list, check
// the rules between options, fill in defaults, and refuse what mgo-threads
// does not do (yet). Precedence, low to high: defaults, TXT record, URL,
// options object (the connection-string spec asks drivers to document it).

import { resolveCredential, type Credential } from '../auth/credential.js';
import { InvalidOptionError } from '../errors.js';
import { parseConnectionString, type HostAddress } from './connection-string.js';
import {
  OPTIONS,
  OPTION_NAMES,
  checkOptionRules,
  optionLabel,
  readObjectOptions,
  showValue,
  specOf,
  type OptionName,
  type OptionValues,
} from './options.js';
import { lookupSeedlist, type DnsResolver } from './srv.js';

/** A seed server: its host as written, with the port defaulted, and its name in the topology. */
export interface ServerAddress extends HostAddress {
  /** The server's name in the topology: "host:port" ([v6]:port), or the socket path. */
  address: string;
}

/** The options object's `auth` is folded into `credentials`. */
export interface ResolvedOptions extends Omit<OptionValues, 'auth'> {
  /** The seeds: the URL's hosts, or those of the SRV records; ports defaulted to 27017. */
  hosts: ServerAddress[];
  /** The mongodb+srv:// host name, for SRV polling; undefined for mongodb://. */
  srvHost: string | undefined;
  /** The URL's path part (mgo's default database and auth database). */
  database: string | undefined;
  /** What every general-use socket authenticates with; undefined: no authentication. */
  credentials: Credential | undefined;
  /** Unknown URL keys, repeated or deprecated keys: for the caller to log. */
  warnings: string[];
}

export interface ResolveDependencies {
  /** DNS for mongodb+srv://; node:dns/promises by default. */
  dns?: DnsResolver;
}

export const DEFAULT_PORT = 27017;

/**
 * What dial(uri, options) runs with: the URL parsed, the options object
 * merged over it (it wins), a mongodb+srv:// seed list looked up, the rules
 * between options checked and defaults filled in; refuses, with an
 * InvalidOptionError, what mgo-threads does not implement. For tools that
 * want to validate options without dialing.
 */
export async function resolveOptions(
  uri: string,
  options: Readonly<Record<string, unknown>> = {},
  dependencies: ResolveDependencies = {},
): Promise<ResolvedOptions> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('ERR_INVALID_OPTION', 'the options argument must be an object');
  }
  const url = parseConnectionString(uri);
  // The spec lets a driver ignore an invalid URL value with a warning. A pool
  // limit or a timeout silently replaced by its default is the surprise
  // mgo-threads exists to remove, so here an invalid value fails.
  const [invalid] = url.invalid;
  if (invalid) throw invalid;
  const object = readObjectOptions(options);
  const warnings = [...url.warnings, ...object.warnings];
  let given: Partial<OptionValues> = { ...url.options, ...object.values };
  let hosts = url.hosts;
  const srvHost = url.srv ? url.hosts[0]!.host : undefined;

  if (srvHost !== undefined) {
    const serviceName = given.srvServiceName ?? OPTIONS.srvServiceName.default;
    const seedlist = await lookupSeedlist({ hostname: srvHost, serviceName, maxHosts: given.srvMaxHosts ?? 0 }, dependencies.dns);
    given = { ...seedlist.options, ...given };
    hosts = seedlist.hosts;
    warnings.push(...seedlist.warnings);
  }
  // Seedlist spec, "URI Validation": after the lookups, which may add options and hosts.
  checkOptionRules(given, { count: hosts.length, srv: url.srv });

  const values = {} as Record<OptionName, unknown>;
  for (const name of OPTION_NAMES) values[name] = given[name] ?? specOf(name).default;
  // Seedlist spec: mongodb+srv:// turns TLS on unless tls=false is given.
  values.tls = given.tls ?? url.srv;

  const keyOf = (name: OptionName) => object.keys.get(name) ?? name;
  for (const name of OPTION_NAMES) checkRefused(name, keyOf(name), values[name]);
  for (const name of OPTION_NAMES) checkSupported(name, keyOf(name), values[name]);

  // The object's `auth` fields override the URL's userinfo, field by field.
  const { auth, ...resolved } = values as unknown as OptionValues;
  const credentials = resolveCredential({
    username: auth?.username ?? url.username,
    password: auth?.password ?? url.password,
    database: url.database,
    authSource: resolved.authSource,
    authMechanism: resolved.authMechanism,
    authMechanismProperties: resolved.authMechanismProperties,
  });

  return {
    ...resolved,
    hosts: hosts.map(serverAddress),
    srvHost,
    database: url.database ?? undefined,
    credentials,
    warnings,
  };
}

/** A spec-valid value the table refuses (maxPoolSize=0...) fails, naming the option as `key`. */
export function checkRefused(name: OptionName, key: string, value: unknown): void {
  const why = value === undefined ? undefined : specOf(name).refuse?.(value);
  if (why !== undefined) {
    throw new InvalidOptionError('ERR_INVALID_OPTION', `invalid value ${showValue(name, value)} for option ${optionLabel(name, key)}: ${why}`);
  }
}

/**
 * An option the table marks unsupported fails unless its value is neutral;
 * every default is neutral, so only a value someone set can fail.
 */
export function checkSupported(name: OptionName, key: string, value: unknown): void {
  const spec = specOf(name);
  if (spec.supported === true || value === undefined || spec.neutral?.(value)) return;
  throw new InvalidOptionError(
    'ERR_UNSUPPORTED_OPTION',
    `option ${optionLabel(name, key)} set to ${showValue(name, value)} is not supported: ${spec.supported}`,
  );
}

function serverAddress({ type, host, port }: HostAddress): ServerAddress {
  if (type === 'unix') return { type, host, port: null, address: host };
  const p = port ?? DEFAULT_PORT;
  // SDAM compares addresses as lowercase "host:port".
  return { type, host, port: p, address: type === 'ip_literal' ? `[${host}]:${p}` : `${host.toLowerCase()}:${p}` };
}
