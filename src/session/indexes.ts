// Index descriptions in mgo's form: a key is a list of field names, each
// written "[$<kind>:][-]<field>" ("-" for descending, "$text:body",
// "$2dsphere:loc", or "@loc" for a 2d index), from which the index name is
// derived as the server shell derives it ("a_1_b_-1"). Converts them to the
// createIndexes specification and back from listIndexes.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';

/**
 * mgo's Index: what ensureIndex() creates and indexes() lists. The key is
 * in mgo's notation: field names, "-field" for descending, "$kind:field"
 * for a special index ("$text:title", "$2dsphere:loc", "$hashed:_id").
 */
export interface Index {
  /** Field names in mgo's notation (see above). */
  key: string[];
  /** No two documents may have the same key. */
  unique?: boolean;
  /**
   * mgo's DropDups: accepted and never sent. Servers since 3.0 ignore it and
   * strip it from the spec (SERVER-14710: duplicates make a unique index
   * build fail instead of being dropped), and FerretDB refuses the whole
   * createIndexes as naming an unknown option.
   */
  dropDups?: boolean;
  /** Build without blocking the database (ignored by servers since 4.2, which always do). */
  background?: boolean;
  /** Only documents that have the indexed field are indexed. */
  sparse?: boolean;
  /** Only documents matching this filter are indexed. */
  partialFilter?: Document;
  /** TTL: documents whose indexed date is older than this many seconds are removed. */
  expireAfterSeconds?: number;
  /** Defaults to the name derived from the key. */
  name?: string;
  /** 2d index bounds and precision. */
  min?: number;
  /** 2d index upper bound. */
  max?: number;
  /** 2d index precision, in bits of geohash. */
  bits?: number;
  /** geoHaystack bucket size (servers before 5.0). */
  bucketSize?: number;
  /** Text index options. */
  defaultLanguage?: string;
  /** Text index: the document field that names each document's language. */
  languageOverride?: string;
  /** Text index: each text field's weight (mgo's Weights). */
  weights?: Record<string, number>;
  /** The index's collation. */
  collation?: Document;
}

export interface IndexKey {
  /** The derived index name. */
  name: string;
  /** The key document. */
  key: Document;
  /** Weights of the text fields, for text indexes. */
  weights: Record<string, number> | undefined;
}

function invalidKey(raw: string): MgoError {
  return new MgoError('ERR_INVALID_ARGUMENT', `invalid index key: want "[$<kind>:][-]<field name>", got ${JSON.stringify(raw)}`);
}

export function parseIndexKey(fields: readonly string[]): IndexKey {
  const key: Document = {};
  const names: string[] = [];
  let weights: Record<string, number> | undefined;
  for (const raw of fields) {
    if (typeof raw !== 'string') throw invalidKey(String(raw));
    let field = raw;
    let order: number | string = 1;
    let suffix = '1';
    if (field.startsWith('$')) {
      const colon = field.indexOf(':');
      if (colon < 2 || colon === field.length - 1) throw invalidKey(raw);
      order = field.slice(1, colon);
      suffix = order;
      field = field.slice(colon + 1);
      if (/^[-+@]/.test(field)) throw invalidKey(raw);
    } else if (field.startsWith('@')) {
      order = '2d';
      suffix = '2d';
      field = field.slice(1);
    } else if (field.startsWith('-')) {
      order = -1;
      suffix = '-1';
      field = field.slice(1);
    } else if (field.startsWith('+')) {
      field = field.slice(1);
    }
    if (field === '') throw invalidKey(raw);
    names.push(`${field}_${suffix}`);
    if (order === 'text') {
      if (!weights) {
        key._fts = 'text';
        key._ftsx = 1;
        weights = {};
      }
      weights[field] = 1;
    } else {
      key[field] = order;
    }
  }
  if (names.length === 0) throw new MgoError('ERR_INVALID_ARGUMENT', 'invalid index key: no fields provided');
  return { name: names.join('_'), key, weights };
}

/** The createIndexes specification of an index. */
export function indexSpec(index: Index): Document {
  if (index.sparse && index.partialFilter) throw new MgoError('ERR_INVALID_ARGUMENT', 'ensureIndex: cannot mix sparse and partial indexes');
  const parsed = parseIndexKey(index.key ?? []);
  const spec: Document = { key: parsed.key, name: index.name || parsed.name };
  for (const flag of ['unique', 'background', 'sparse'] as const) if (index[flag]) spec[flag] = true;
  for (const field of ['bits', 'min', 'max', 'bucketSize'] as const) if (index[field] !== undefined) spec[field] = index[field];
  if (index.expireAfterSeconds !== undefined && index.expireAfterSeconds > 0) spec.expireAfterSeconds = index.expireAfterSeconds;
  if (parsed.weights) {
    const weights = { ...parsed.weights };
    for (const [field, weight] of Object.entries(index.weights ?? {})) {
      if (!(field in weights)) throw new MgoError('ERR_INVALID_ARGUMENT', `ensureIndex: weight given for field '${field}', which is not a text field of the index key`);
      weights[field] = weight;
    }
    spec.weights = weights;
  }
  if (index.defaultLanguage) spec.default_language = index.defaultLanguage;
  if (index.languageOverride) spec.language_override = index.languageOverride;
  if (index.partialFilter) spec.partialFilterExpression = index.partialFilter;
  if (index.collation) spec.collation = index.collation;
  return spec;
}

function keyField(field: string, value: unknown): string {
  if (typeof value === 'string') return `$${value}:${field}`;
  return Number(value) < 0 ? `-${field}` : field;
}

/** An index as listIndexes describes it, in mgo's form. */
export function indexFromSpec(spec: Document): Index {
  const index: Index = { name: String(spec.name), key: Object.entries((spec.key ?? {}) as Document).map(([f, v]) => keyField(f, v)) };
  if (spec.textIndexVersion !== undefined && spec.weights) {
    const weights = Object.fromEntries(Object.entries(spec.weights as Document).map(([f, w]) => [f, Number(w)]));
    index.key = Object.keys(weights).map((f) => `$text:${f}`);
    index.weights = weights;
  }
  for (const flag of ['unique', 'background', 'sparse'] as const) if (spec[flag] === true) index[flag] = true;
  for (const field of ['bits', 'min', 'max', 'bucketSize', 'expireAfterSeconds'] as const) {
    if (spec[field] !== undefined) index[field] = Number(spec[field]);
  }
  if (spec.partialFilterExpression) index.partialFilter = spec.partialFilterExpression;
  if (typeof spec.default_language === 'string') index.defaultLanguage = spec.default_language;
  if (typeof spec.language_override === 'string') index.languageOverride = spec.language_override;
  if (spec.collation) index.collation = spec.collation;
  return index;
}
