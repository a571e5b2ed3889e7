import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';
import { ScramKeyCache, pbkdf2Async, type DeriveKey } from '../../../src/auth/key-cache.js';

const salt = (n: number) => Buffer.alloc(16, n);

/** PBKDF2 that counts its calls and can be made to fail. */
function countingDerive(fail = false): DeriveKey & { calls: number } {
  const derive = Object.assign(
    async (...args: Parameters<DeriveKey>) => {
      derive.calls++;
      if (fail) throw new Error('derivation failed');
      return pbkdf2Async(...args);
    },
    { calls: 0 },
  );
  return derive;
}

describe('SCRAM key cache', () => {
  test('100 concurrent handshakes for one user derive once', async () => {
    const derive = countingDerive();
    const cache = new ScramKeyCache(64, derive);
    const input = { hash: 'sha256', password: 'pencil', salt: salt(1), iterations: 4096 } as const;
    const all = await Promise.all(Array.from({ length: 100 }, () => cache.keys({ ...input, salt: salt(1) })));
    assert.equal(derive.calls, 1);
    assert.equal(cache.derivations, 1);
    assert.ok(all.every((keys) => keys === all[0]));
    await cache.keys(input);
    assert.equal(derive.calls, 1, 'a later handshake is served from the cache');
  });

  test('distinct salts, iteration counts, hashes and passwords are distinct entries', async () => {
    const derive = countingDerive();
    const cache = new ScramKeyCache(64, derive);
    const base = { hash: 'sha256', password: 'pencil', salt: salt(1), iterations: 4096 } as const;
    const a = await cache.keys(base);
    const b = await cache.keys({ ...base, salt: salt(2) });
    const c = await cache.keys({ ...base, iterations: 4097 });
    const d = await cache.keys({ ...base, hash: 'sha1' });
    const e = await cache.keys({ ...base, password: 'pencil2' });
    assert.equal(derive.calls, 5);
    assert.equal(cache.size, 5);
    assert.equal(new Set([a, b, c, d, e].map((k) => k.clientKey.toString('hex'))).size, 5);
    assert.equal(d.clientKey.length, 20);
    assert.equal(a.clientKey.length, 32);
  });

  test('bounded: the least recently used entry goes first', async () => {
    const derive = countingDerive();
    const cache = new ScramKeyCache(2, derive);
    const input = (n: number) => ({ hash: 'sha1', password: 'pw', salt: salt(n), iterations: 4096 }) as const;
    await cache.keys(input(1));
    await cache.keys(input(2));
    await cache.keys(input(1)); // 1 is now the most recent
    await cache.keys(input(3)); // evicts 2
    assert.equal(cache.size, 2);
    assert.equal(derive.calls, 3);
    await cache.keys(input(1));
    assert.equal(derive.calls, 3, '1 stayed');
    await cache.keys(input(2));
    assert.equal(derive.calls, 4, '2 was evicted');
  });

  test('a failed derivation is not remembered', async () => {
    const derive = countingDerive(true);
    const cache = new ScramKeyCache(4, derive);
    const input = { hash: 'sha1', password: 'pw', salt: salt(1), iterations: 4096 } as const;
    await assert.rejects(cache.keys(input), /derivation failed/);
    assert.equal(cache.size, 0);
    await assert.rejects(cache.keys(input), /derivation failed/);
    assert.equal(derive.calls, 2);
  });

  test('the cache holds no password, in its keys or anywhere inspect can see', async () => {
    const password = 'correct horse battery staple';
    const cache = new ScramKeyCache();
    await cache.keys({ hash: 'sha256', password, salt: salt(1), iterations: 4096 });
    const seen = inspect(cache, { showHidden: true, depth: 10 });
    assert.ok(seen.includes('Map(1)'), seen);
    assert.ok(!seen.includes(password));
    assert.ok(!seen.includes(Buffer.from(password).toString('base64')));
  });

  test('PBKDF2 runs off the thread: a timer fires while a long derivation is under way', async () => {
    const cache = new ScramKeyCache();
    let settled = false;
    // ~100 ms of SHA-256 on this machine: long enough for the timer, bounded.
    const derivation = cache.keys({ hash: 'sha256', password: 'pw', salt: salt(9), iterations: 250_000 }).then(() => (settled = true));
    const timerSawItPending = await new Promise<boolean>((resolve) => setTimeout(() => resolve(!settled), 1));
    await derivation;
    assert.equal(timerSawItPending, true);
  });
});
