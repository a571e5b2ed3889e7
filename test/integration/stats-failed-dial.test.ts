// getStats() after a dial that failed (no server answered its ping), workers
// 0 and 2: the dial's router is destroyed, so it leaves the figures as a
// closed dial's does; it kept counting as an open cluster before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { dial, getStats } from '../../src/index.js';

/** A 127.0.0.1 port nobody listens on (bound once, then let go). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const workers of [0, 2]) {
  test(`workers ${workers}: a failed dial leaves no cluster in getStats()`, { timeout: 30_000 }, async () => {
    const port = await closedPort();
    const before = getStats();
    await assert.rejects(dial(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300`, { workers }));
    const after = getStats();
    assert.equal(after.clusters, before.clusters);
    assert.equal(after.socketsAlive, before.socketsAlive);
  });
}
