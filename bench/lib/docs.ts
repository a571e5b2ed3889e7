// The documents the benchmarks send and read: the driver benchmarking spec's
// data sets (../shared/bench-data, see its NOTICE.md) and a 16 KB document
// made from tweets, with the nominal sizes the spec scores tasks by.
import { readFileSync } from 'node:fs';
import { BSON, EJSON, type Document } from 'bson';
import { typedDocument } from '../../test/fixtures/bson-exact.js';

export const BENCH_DATA = new URL('../../../shared/bench-data/', import.meta.url);

/** Nominal sizes (bytes) fixed by the benchmarking spec (NOTICE.md). */
export const NOMINAL = {
  runCommand: 13, // {hello: true}: 130,000 B for 10,000 commands
  tweet: 1_622,
  smallDoc: 275,
  largeDoc: 2_731_089,
  ldjsonFile: 5_650_000,
} as const;

export type DocName = 'small_doc' | 'tweet' | '16kb' | 'typed16kb' | 'large_doc';
export const DOC_NAMES: readonly DocName[] = ['small_doc', 'tweet', '16kb', 'typed16kb', 'large_doc'];

export function readBenchJson(file: string): Document {
  return EJSON.parse(readFileSync(new URL(file, BENCH_DATA), 'utf8')) as Document;
}

/** About 16 KiB of BSON: tweets (without _id) in an array, then padding to exactly 16,384 bytes. */
function sixteenKB(tweet: Document): Document {
  const { _id, ...body } = tweet;
  const doc: Document = { items: [] as Document[], pad: '' };
  while (BSON.calculateObjectSize({ ...doc, items: [...doc.items, body] }) < 16_384) doc.items.push(body);
  doc.pad = 'x'.repeat(16_384 - BSON.calculateObjectSize(doc));
  return doc;
}

let cached: Record<DocName, Document> | undefined;

/** The four documents by name, without _id (each insert adds its own). */
export function benchDocs(): Record<DocName, Document> {
  if (cached) return cached;
  const { _id: _t, ...tweet } = readBenchJson('tweet.json');
  const { _id: _s, ...small } = readBenchJson('small_doc.json');
  const { _id: _l, ...large } = readBenchJson('large_doc.json');
  // 16 KB with BSON types in every item (ObjectId, Long, Date, Decimal128, Binary, UUID, Timestamp): what a typed reply costs.
  const { _id: _d, ...typed } = typedDocument(16_384, (d) => BSON.calculateObjectSize(d));
  cached = { small_doc: small, tweet, '16kb': sixteenKB(tweet), typed16kb: typed, large_doc: large };
  return cached;
}

/** BSON size of each document, for the report. */
export function docSizes(): Record<DocName, number> {
  const docs = benchDocs();
  return Object.fromEntries(DOC_NAMES.map((n) => [n, BSON.calculateObjectSize(docs[n])])) as Record<DocName, number>;
}
