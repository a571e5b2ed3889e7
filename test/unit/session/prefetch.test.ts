// Session.setPrefetch(): mgo's session-wide default of when an iterator asks
// for its next batch, taken by the queries and pipes made after it and by
// copies of the session; Query.prefetch() still wins for its query.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long } from 'bson';
import type { Iter } from '../../../src/session/iter.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, cursorReply } from '../../fixtures/fake-router.js';

const CURSOR_ID = Long.fromNumber(77);

/** A server of 16 documents { i }, served batchSize at a time. */
function cursorServer() {
  const router = new FakeRouter();
  let next = 0;
  const take = (size: unknown) => {
    const docs = Array.from({ length: Math.min(Number(size ?? 101), 16 - next) }, (_, k) => ({ i: next + k }));
    next += docs.length;
    return docs;
  };
  router.on('find', (request) => cursorReply('d.c', take(request.command.batchSize), next >= 16 ? 0 : CURSOR_ID));
  router.on('getMore', (request) => cursorReply('d.c', take(request.command.batchSize), next >= 16 ? 0 : CURSOR_ID, 'nextBatch'));
  return { router, session: openSession(router) };
}

/** After each of the first batch's 8 documents is read: how many getMores went out. */
async function getMoresWhileReading(router: FakeRouter, iter: Iter): Promise<number[]> {
  const seen: number[] = [];
  for (let k = 0; k < 8; k++) {
    await iter.next();
    seen.push(router.requestsNamed('getMore').length);
  }
  await iter.close();
  return seen;
}

describe('Session.setPrefetch', () => {
  test('queries made after it ask for the next batch once fewer than p x batch documents are left', async () => {
    const { router, session } = cursorServer();
    session.setPrefetch(0.5);
    // floor(0.5 * 8) = 4: the getMore goes out when the 5th document is read (3 left < 4);
    // with mgo's default 0.25 it would wait for the 7th.
    assert.deepEqual(await getMoresWhileReading(router, session.db('d').c('c').find().batch(8).iter()), [0, 0, 0, 0, 1, 1, 1, 1]);
    await session.close();
  });

  test('copies inherit it; Query.prefetch() overrides it for one query', async () => {
    const { router, session } = cursorServer();
    session.setPrefetch(0);
    const copy = session.copy();
    // prefetch 0: nothing is fetched before the buffer is empty.
    assert.deepEqual(await getMoresWhileReading(router, copy.db('d').c('c').find().batch(8).iter()), [0, 0, 0, 0, 0, 0, 0, 0]);
    const overridden = cursorServer();
    overridden.session.setPrefetch(0);
    assert.deepEqual(await getMoresWhileReading(overridden.router, overridden.session.db('d').c('c').find().batch(8).prefetch(0.25).iter()), [0, 0, 0, 0, 0, 0, 1, 1]);
    await copy.close();
    await session.close();
    await overridden.session.close();
  });

  test('a fraction outside 0..1 is refused with ERR_INVALID_ARGUMENT', async () => {
    const { session } = cursorServer();
    for (const bad of [-0.1, 1.5, Number.NaN]) {
      assert.throws(() => session.setPrefetch(bad), { code: 'ERR_INVALID_ARGUMENT' });
    }
    await session.close();
  });
});
