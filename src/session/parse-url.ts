// parseURL(): mgo's ParseURL, the connection string as the DialInfo that
// dialWithInfo() takes, so that an application can read the URL, adjust the
// DialInfo and dial with it. The URL goes through the same parser and option
// table as dial() (src/uri): mgo's own keys (connect=direct, poolLimit, j,
// gssapiServiceName...) are aliases there. What DialInfo has a field for
// goes there; every other option the URL sets goes to DialInfo.options, so
// that dialWithInfo(parseURL(url)) runs with what dial(url) would.
import { MgoError } from '../errors.js';
import { parseConnectionString, redactUri, type HostAddress } from '../uri/connection-string.js';
import { checkOptionRules, type OptionName, type OptionValues } from '../uri/options.js';
import { checkRefused, checkSupported } from '../uri/resolve.js';
import type { DialInfo, DialOptions } from './dial-info.js';
import { modeOfReadPreference } from './modes.js';
import { emitOptionWarnings } from './option-warnings.js';
import { safeFromOptions } from './write-concern.js';

/** Options that DialInfo has a field for (the others go to DialInfo.options). */
const OWN_FIELDS: ReadonlySet<OptionName> = new Set<OptionName>([
  'directConnection',
  'replicaSet',
  'authSource',
  'authMechanism',
  'tls',
  'maxPoolSize',
  'waitQueueTimeoutMS',
  'appName',
  'readPreference',
  'readPreferenceTags',
  'minPoolSize',
  'maxIdleTimeMS',
  'w',
  'journal',
  'wTimeoutMS',
  'readConcernLevel',
]);

function addressOf({ type, host, port }: HostAddress): string {
  if (type === 'unix') return host;
  const shown = type === 'ip_literal' ? `[${host}]` : host;
  return port === null ? shown : `${shown}:${port}`;
}

/**
 * Parses a mongodb:// connection string into mgo's DialInfo (mgo ParseURL),
 * for dialWithInfo(). Throws what dial() would for an invalid string or
 * value (with the password never in the message); unknown and ignored keys
 * are reported through process.emitWarning (code MGO_CONNECTION_OPTION).
 * The credentials are kept in the DialInfo (username, password).
 * Differs from mgo: mongodb+srv:// is refused (a DialInfo lists servers,
 * and the SRV lookup is asynchronous: dial() it instead); w=0 means
 * unacknowledged writes (safe: null), where mgo read it as a tag name.
 */
export function parseURL(url: string): DialInfo {
  const parsed = parseConnectionString(url);
  const [invalid] = parsed.invalid;
  if (invalid) throw invalid;
  if (parsed.srv) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `parseURL: ${redactUri(url)} is a mongodb+srv:// string, whose servers come from DNS; pass it to dial() instead`);
  }
  const given = parsed.options;
  checkOptionRules(given, { count: parsed.hosts.length, srv: false });
  for (const [name, value] of Object.entries(given)) {
    checkRefused(name as OptionName, name, value);
    checkSupported(name as OptionName, name, value);
  }
  emitOptionWarnings('parseURL', parsed.warnings);

  const info: DialInfo = { addrs: parsed.hosts.map(addressOf) };
  const put = <K extends keyof DialInfo>(field: K, value: DialInfo[K] | undefined) => {
    if (value !== undefined) info[field] = value;
  };
  put('direct', given.directConnection);
  put('database', parsed.database ?? undefined);
  put('username', parsed.username ?? undefined);
  put('password', parsed.password ?? undefined);
  put('source', given.authSource);
  put('mechanism', given.authMechanism);
  put('replicaSetName', given.replicaSet);
  put('tls', given.tls);
  put('poolLimit', given.maxPoolSize);
  put('poolTimeoutMS', given.waitQueueTimeoutMS);
  put('appName', given.appName);
  if (given.readPreference !== undefined || given.readPreferenceTags !== undefined) {
    const mode = modeOfReadPreference(given.readPreference ?? 'primary');
    info.readPreference = given.readPreferenceTags ? { mode, tagSets: given.readPreferenceTags.map((tags) => ({ ...tags })) } : { mode };
  }
  const { w, journal, wTimeoutMS, readConcernLevel } = given;
  if (w !== undefined || journal !== undefined || wTimeoutMS !== undefined || readConcernLevel !== undefined) {
    info.safe = safeFromOptions({ w, journal, wTimeoutMS, readConcernLevel });
  }
  put('minPoolSize', given.minPoolSize);
  put('maxIdleTimeMS', given.maxIdleTimeMS);

  const options: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given) as [OptionName, OptionValues[OptionName]][]) {
    if (!OWN_FIELDS.has(name)) options[name] = value;
  }
  if (Object.keys(options).length > 0) info.options = options as DialOptions;
  return info;
}
