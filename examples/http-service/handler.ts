// The request handler, the same for both drivers (store.ts):
//   GET /health       200 "ok", touches no database: it must stay fast under load.
//   GET /page[?id=N]  reads `reads` documents by _id (N, N+1, ... modulo
//                     `docs`; without id, the next N in turn), writes one
//                     document on `writeRatio` of the requests, renders the
//                     documents as HTML and hashes the page for its ETag,
//                     taking `appMicros` µs of CPU in all (render, then hash
//                     rounds until the time is spent): the application's own
//                     work, on the main thread, as in a real service.
//   anything else     404.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Document } from 'bson';
import type { Store } from './store.js';

export interface HandlerOptions {
  /** Application CPU per /page request, µs (render and hash). */
  appMicros: number;
  /** Fraction of /page requests that also write one document (0..1). */
  writeRatio: number;
  /** Documents read by _id per /page request. */
  reads: number;
  /** The _ids read are 0 .. docs - 1. */
  docs: number;
}

/** Requests received, answered and failed since start, and /page requests being handled now; the service reports them. */
export interface HandlerCounters {
  /** /page requests received. */
  received: number;
  pages: number;
  health: number;
  errors: number;
  inFlight: number;
}

export const PAGES = 'pages';
export const VIEWS = 'views';

export function createHandler(store: Store, options: HandlerOptions) {
  const counters: HandlerCounters = { received: 0, pages: 0, health: 0, errors: 0, inFlight: 0 };
  let nextId = 0;
  let idle: (() => void)[] = [];
  const finished = (): void => {
    if (--counters.inFlight > 0 || idle.length === 0) return;
    const waiting = idle;
    idle = [];
    for (const resolve of waiting) resolve();
  };
  /** Resolves once no /page request is being handled. */
  const whenIdle = (): Promise<void> => (counters.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve)));
  // Writes are spread evenly rather than drawn at random: exactly
  // `writeRatio` of the requests write, whatever the run's length.
  let writeCredit = 0;

  async function page(first: number): Promise<{ body: string; etag: string }> {
    const ids = Array.from({ length: options.reads }, (_, i) => (first + i) % options.docs);
    const docs = await Promise.all(ids.map((id) => store.findById(PAGES, id)));
    writeCredit += options.writeRatio;
    if (writeCredit >= 1) {
      writeCredit -= 1;
      await store.insert(VIEWS, { page: first, at: new Date(), found: docs.filter(Boolean).length });
    }
    return renderAndHash(docs, options.appMicros);
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://service');
    if (req.method === 'GET' && url.pathname === '/health') {
      counters.health++;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/page') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const asked = url.searchParams.get('id');
    const first = asked !== null && /^\d+$/.test(asked) ? Number(asked) % options.docs : nextId++ % options.docs;
    counters.received++;
    counters.inFlight++;
    page(first).then(
      ({ body, etag }) => {
        finished();
        counters.pages++;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag: `"${etag}"` }).end(body);
      },
      (err: unknown) => {
        finished();
        counters.errors++;
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${(err as Error)?.message ?? String(err)}\n`);
      },
    );
  };
  return { handler, counters, whenIdle };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const escape = (text: string): string => text.replace(/[&<>"]/g, (c) => ESCAPES[c]!);

function renderValue(value: unknown): string {
  if (value === null || value === undefined) return '<i>none</i>';
  if (typeof value === 'object' && !(value instanceof Date)) return `<code>${escape(JSON.stringify(value))}</code>`;
  return escape(value instanceof Date ? value.toISOString() : String(value));
}

/** Renders the documents as an HTML page. */
export function render(docs: readonly (Document | null)[]): string {
  const items = docs.map((doc) =>
    doc === null
      ? '<article class="missing">not found</article>'
      : `<article><dl>${Object.entries(doc)
          .map(([k, v]) => `<dt>${escape(k)}</dt><dd>${renderValue(v)}</dd>`)
          .join('')}</dl></article>`,
  );
  return `<!doctype html><html><head><meta charset="utf-8"><title>page</title></head><body>${items.join('\n')}</body></html>\n`;
}

/**
 * Renders the page, then hashes it (SHA-256, each round over the page and
 * the previous digest) until `appMicros` µs have passed since the render
 * began: at least one round, so the ETag is always the page's.
 */
export function renderAndHash(docs: readonly (Document | null)[], appMicros: number): { body: string; etag: string } {
  const t0 = performance.now();
  const body = render(docs);
  const end = t0 + appMicros / 1000;
  let digest = '';
  do digest = createHash('sha256').update(body).update(digest).digest('hex');
  while (performance.now() < end);
  return { body, etag: digest.slice(0, 32) };
}
