// Stable API ("Versioned API") spec: a client that declares an API version
// sends it with every command, with apiStrict and apiDeprecationErrors when
// the user set them. getMore included: since MongoDB 5.0 (SERVER-56550) a
// getMore must repeat the API parameters of the command that opened the
// cursor, or it fails with APIMismatchError.
import type { Document } from 'bson';

export interface ServerApi {
  version: '1';
  strict?: boolean;
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
