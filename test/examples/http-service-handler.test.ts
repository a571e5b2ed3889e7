// The HTTP service example's request handler (examples/http-service/
// handler.ts) on an in-process node:http server over a fake store: which
// documents a /page reads, that exactly --write-ratio of the pages write
// (spread evenly), the rendered page and its ETag, /health without the
// store, 404s, a failing store as a 500 counted as an error, and
// whenIdle() waiting for the pages in flight.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Document } from 'bson';
import { PAGES, VIEWS, createHandler, renderAndHash, type HandlerOptions } from '../../examples/http-service/handler.js';
import type { Store } from '../../examples/http-service/store.js';
import { waitFor } from '../fixtures/wait.js';

class FakeStore implements Store {
  reads: unknown[] = [];
  writes: Document[] = [];
  fail = false;
  /** While set, reads wait for it. */
  gate: Promise<void> | undefined;

  async findById(collection: string, id: unknown): Promise<Document | null> {
    assert.equal(collection, PAGES);
    await this.gate;
    if (this.fail) throw new Error('store down');
    this.reads.push(id);
    return id === 3 ? null : { _id: id, title: `<Page ${String(id)}>` };
  }

  async insert(collection: string, doc: Document): Promise<void> {
    assert.equal(collection, VIEWS);
    this.writes.push(doc);
  }

  async close(): Promise<void> {}
}

async function serve(store: Store, options: HandlerOptions) {
  const made = createHandler(store, options);
  const server: Server = createServer(made.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { ...made, base, close };
}

describe('the HTTP service handler', () => {
  const store = new FakeStore();
  let service: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    service = await serve(store, { appMicros: 50, writeRatio: 0.25, reads: 3, docs: 10 });
  });
  after(() => service.close());

  test('/page?id=N reads N, N+1, ... modulo docs, renders them escaped, and sets the ETag', async () => {
    store.reads = [];
    const res = await fetch(`${service.base}/page?id=9`);
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.deepEqual(store.reads.sort(), [0, 1, 9]);
    assert.match(body, /&lt;Page 9&gt;/);
    assert.doesNotMatch(body, /<Page/);
    assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
  });

  test('a missing document renders as not found', async () => {
    const body = await (await fetch(`${service.base}/page?id=2`)).text();
    assert.match(body, /not found/);
  });

  test('without id, pages take the next first id in turn', async () => {
    store.reads = [];
    await fetch(`${service.base}/page`);
    await fetch(`${service.base}/page`);
    assert.equal(store.reads.length, 6);
  });

  test('exactly writeRatio of the pages write one document, spread evenly', async () => {
    const writes0 = store.writes.length;
    const steps: number[] = [];
    for (let i = 0; i < 20; i++) {
      await fetch(`${service.base}/page?id=${i}`);
      steps.push(store.writes.length - writes0);
    }
    assert.equal(store.writes.length - writes0, 5);
    // One write in every four pages, never two in a row.
    for (let i = 4; i < steps.length; i++) assert.equal(steps[i]! - steps[i - 4]!, 1);
  });

  test('/health answers without the store; other paths and methods are 404', async () => {
    store.reads = [];
    const health = await fetch(`${service.base}/health`);
    assert.equal(await health.text(), 'ok\n');
    assert.equal(store.reads.length, 0);
    assert.equal((await fetch(`${service.base}/nope`)).status, 404);
    assert.equal((await fetch(`${service.base}/page`, { method: 'POST' })).status, 404);
  });

  test('a failing store is a 500, counted as an error', async () => {
    const errors0 = service.counters.errors;
    store.fail = true;
    try {
      const res = await fetch(`${service.base}/page?id=1`);
      assert.equal(res.status, 500);
      assert.match(await res.text(), /store down/);
    } finally {
      store.fail = false;
    }
    assert.equal(service.counters.errors, errors0 + 1);
    assert.equal(service.counters.inFlight, 0);
  });

  test('whenIdle() resolves once the pages in flight are answered', async () => {
    let open!: () => void;
    store.gate = new Promise<void>((resolve) => (open = resolve));
    const pages = [fetch(`${service.base}/page?id=1`), fetch(`${service.base}/page?id=2`)];
    let idle = false;
    // The requests must have reached the handler before whenIdle() is asked.
    await waitFor('two pages in the handler', () => service.counters.inFlight === 2, 30_000);
    const whenIdle = service.whenIdle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(idle, false, 'idle while two pages wait for the store');
    store.gate = undefined;
    open();
    await whenIdle;
    assert.equal(service.counters.inFlight, 0);
    for (const res of await Promise.all(pages)) assert.equal(res.status, 200);
  });
});

describe('renderAndHash', () => {
  test('the same documents give the same page and ETag; at least one hash round at appMicros 0', () => {
    const a = renderAndHash([{ _id: 1, at: new Date(0), tags: ['x'] }], 0);
    const b = renderAndHash([{ _id: 1, at: new Date(0), tags: ['x'] }], 0);
    assert.equal(a.etag, b.etag);
    assert.match(a.etag, /^[0-9a-f]{32}$/);
    assert.match(a.body, /1970-01-01T00:00:00\.000Z/);
    assert.match(a.body, /<code>\[&quot;x&quot;\]<\/code>/);
  });
});
