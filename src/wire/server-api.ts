// Stable API ("Versioned API") spec: a client that declares an API version
// sends it with every command, with apiStrict and apiDeprecationErrors when
// the user set them. getMore included: since MongoDB 5.0 (SERVER-56550) a
// getMore must repeat the API parameters of the command that opened the
// cursor, or it fails with APIMismatchError.
import type { Document } from 'bson';

/** The serverApi dial option: the API version the application declares (Stable API spec), sent with every command. */
export interface ServerApi {
  /** The API version; '1' is the only one. */
  version: '1';
  /** The server refuses commands outside the declared API (apiStrict). */
  strict?: boolean;
  /** The server refuses deprecated commands of the API (apiDeprecationErrors). */
  deprecationErrors?: boolean;
}

const NONE: Readonly<Document> = Object.freeze({});

/** The fields a command carries for the declared API version (none without one). */
export function serverApiFields(api: ServerApi | undefined): Readonly<Document> {
  if (!api) return NONE;
  const fields: Document = { apiVersion: api.version };
  if (api.strict !== undefined) fields.apiStrict = api.strict;
  if (api.deprecationErrors !== undefined) fields.apiDeprecationErrors = api.deprecationErrors;
  return Object.freeze(fields);
}
