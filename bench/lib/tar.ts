// A minimal reader of gzipped tar archives (ustar and GNU headers: name,
// prefix, size, type), enough for the benchmarking spec's parallel.tgz. It
// streams: the archive is gunzipped chunk by chunk with node:zlib and
// reading stops as soon as `wanted` said it has all it needs, so taking the
// first few of 100 LDJSON files does not inflate the 565 MB behind them.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

export interface TarEntry {
  name: string;
  data: Buffer;
}

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function entryHeader(header: Buffer): { name: string; size: number; type: string } {
  const name = field(header, 0, 100);
  const size = parseInt(field(header, 124, 12).trim() || '0', 8);
  const type = field(header, 156, 1) || '0';
  const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
  return { name: prefix ? `${prefix}/${name}` : name, size, type };
}

/**
 * The regular files of the archive at `path` for which `accept(name)` is
 * true, in archive order, stopping after `limit` of them.
 */
export async function readTarGz(path: string, accept: (name: string) => boolean, limit = Infinity): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  if (limit <= 0) return entries;
  const input = createReadStream(path);
  const gunzip = createGunzip();
  input.pipe(gunzip);
  let pending: Buffer = Buffer.alloc(0);
  /** The entry being read: its data is kept only if accepted. */
  let current: { name: string; size: number; keep: boolean; chunks: Buffer[]; left: number } | undefined;
  let skipPadding = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (skipPadding > 0) {
          const n = Math.min(skipPadding, pending.length);
          pending = pending.subarray(n);
          skipPadding -= n;
          if (skipPadding > 0) break;
        }
        if (current) {
          const n = Math.min(current.left, pending.length);
          if (current.keep) current.chunks.push(pending.subarray(0, n));
          pending = pending.subarray(n);
          current.left -= n;
          if (current.left > 0) break;
          if (current.keep) entries.push({ name: current.name, data: Buffer.concat(current.chunks) });
          if (entries.length >= limit) return entries;
          skipPadding = (BLOCK - (current.size % BLOCK)) % BLOCK;
          current = undefined;
          continue;
        }
        if (pending.length < BLOCK) break;
        const header = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        if (header.every((b) => b === 0)) continue; // end-of-archive blocks
        const { name, size, type } = entryHeader(header);
        const regular = type === '0' || type === '\0';
        current = { name, size, keep: regular && accept(name), chunks: [], left: size };
        if (size === 0) {
          if (current.keep) entries.push({ name, data: Buffer.alloc(0) });
          current = undefined;
          if (entries.length >= limit) return entries;
        }
      }
    }
    return entries;
  } finally {
    input.unpipe(gunzip);
    input.destroy();
    gunzip.destroy();
  }
}
