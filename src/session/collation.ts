// mgo's Collation: language-specific string comparison for queries, counts,
// distincts, findAndModify and pipelines (server 3.4+). Checked here, before
// anything is sent, so that a typo fails with ERR_INVALID_ARGUMENT naming
// the method and the field instead of a server error (or, worse, a
// collation field the server would silently read with its default).
import type { Document } from 'bson';
import { MgoError } from '../errors.js';

/**
 * How strings compare (https://www.mongodb.com/docs/manual/reference/collation/).
 * Only `locale` is required; the server's defaults apply to the rest.
 * Sent as the document of the same field names, as mgo sends its struct
 * (which omits false and zero fields: so does this).
 */
export interface Collation {
  /** An ICU locale ('en', 'fr_CA', 'simple' for binary comparison). */
  locale: string;
  /** Distinguish case at strengths 1 and 2. */
  caseLevel?: boolean;
  /** 'upper' or 'lower' sorts that case first; 'off' (the server's default) leaves it to the locale. */
  caseFirst?: 'upper' | 'lower' | 'off';
  /** 1 base letters, 2 + accents, 3 + case (the default), 4 + punctuation when shifted, 5 identical. */
  strength?: 1 | 2 | 3 | 4 | 5;
  /** Compare digit runs as numbers ('10' after '9'). */
  numericOrdering?: boolean;
  /** 'shifted' ignores spaces and punctuation below strength 4; 'non-ignorable' (the default) does not. */
  alternate?: 'non-ignorable' | 'shifted';
  /** With alternate 'shifted': 'punct' ignores spaces and punctuation, 'space' only spaces. */
  maxVariable?: 'punct' | 'space';
  /** Normalize text to Unicode NFD before comparing. */
  normalization?: boolean;
  /** Compare secondary differences (accents) from the end of the string, as French dictionaries do. */
  backwards?: boolean;
}

const CHOICES: Partial<Record<keyof Collation, readonly (string | number)[]>> = {
  caseFirst: ['upper', 'lower', 'off'],
  strength: [1, 2, 3, 4, 5],
  alternate: ['non-ignorable', 'shifted'],
  maxVariable: ['punct', 'space'],
};
const FLAGS = ['caseLevel', 'numericOrdering', 'normalization', 'backwards'] as const;
const FIELDS: ReadonlySet<string> = new Set(['locale', ...Object.keys(CHOICES), ...FLAGS]);

/** The collation document to send, checked; ERR_INVALID_ARGUMENT naming `method` and the field otherwise. */
export function collationDocument(method: string, collation: Collation): Document {
  const invalid = (why: string) => new MgoError('ERR_INVALID_ARGUMENT', `${method}: ${why}`);
  if (typeof collation !== 'object' || collation === null || Array.isArray(collation)) throw invalid('expected a Collation object');
  for (const key of Object.keys(collation)) if (!FIELDS.has(key)) throw invalid(`unknown collation field '${key}'`);
  if (typeof collation.locale !== 'string' || collation.locale === '') throw invalid('a collation needs a locale (a non-empty string)');
  const document: Document = { locale: collation.locale };
  for (const [field, allowed] of Object.entries(CHOICES) as [keyof Collation, readonly (string | number)[]][]) {
    const value = collation[field];
    if (value === undefined) continue;
    if (!allowed.includes(value as string | number)) throw invalid(`collation ${field} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`);
    document[field] = value;
  }
  for (const field of FLAGS) {
    const value = collation[field];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw invalid(`collation ${field} must be a boolean, got ${JSON.stringify(value)}`);
    if (value) document[field] = true;
  }
  return document;
}
