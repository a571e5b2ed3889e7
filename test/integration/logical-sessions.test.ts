// Logical sessions as the server sees them (the bridge's capture of every
// command), for workers 0 and 2: every acknowledged command carries an
// lsid; no two commands in flight at once share one, whichever worker sent
// them; a cursor's getMores carry its find's; the pool keeps the number of
// server sessions near the concurrency; and the last close() ends them with
// endSessions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { dial, Mode } from '../../src/index.js';
import { startBridge, type Bridge, type CommandRecord } from '../fixtures/bridge/index.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_lsid_${process.pid}`;
const MONITORING = new Set(['hello', 'isMaster', 'ismaster']);
const server = testServerForFile(DB);

function lsidOf(command: Document): string | undefined {
  const id = command.lsid?.id as { toHexString?(): string } | undefined;
  return id?.toHexString?.();
}

describe('logical sessions on the wire', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: one operation per server session at a time; cursors keep theirs; endSessions at close`, { timeout: 60_000 }, async () => {
      const bridge: Bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'replicaset', members: 3 });
      const records: CommandRecord[] = [];
      const unsubscribe = bridge.onCommand((record) => records.push(record));
      const session = await dial(bridge.uri, { workers, poolLimit: 8 });
      // dial()'s ping runs before any server was heard from: no lsid yet (README, "Logical sessions and retries").
      records.length = 0;
      try {
        session.setMode(Mode.Strong, true);
        const c = session.db(DB).c(`w${workers}`);
        await c.insert(...Array.from({ length: 50 }, (_, i) => ({ _id: i })));
        // 32 concurrent loops of writes and reads, each on its own copy.
        await Promise.all(
          Array.from({ length: 32 }, async (_, loop) => {
            for (let i = 0; i < 20; i++) {
              const s = session.copy();
              try {
                if (loop % 2) await s.db(DB).c(`w${workers}`).update({ _id: i }, { $set: { loop } });
                else await s.db(DB).c(`w${workers}`).find({ _id: i }).one();
              } finally {
                await s.close();
              }
            }
          }),
        );
        // A cursor read in small batches, with other operations between its getMores.
        const iter = c.find({}).batch(10).iter();
        let n = 0;
        while ((await iter.next()) !== undefined) {
          if (++n % 10 === 0) await c.find({ _id: n }).one().catch(() => {});
        }
        await iter.close();
        assert.equal(n, 50);

        const commands = records.filter((r) => !MONITORING.has(r.commandName) && r.commandName !== 'endSessions');
        for (const r of commands) assert.ok(lsidOf(r.command), `${r.commandName} carries an lsid`);
        // No two commands with the same lsid overlap in time.
        const byLsid = new Map<string, CommandRecord[]>();
        for (const r of commands) byLsid.set(lsidOf(r.command)!, [...(byLsid.get(lsidOf(r.command)!) ?? []), r]);
        for (const [lsid, uses] of byLsid) {
          const sorted = uses.sort((a, b) => a.startedAt - b.startedAt);
          for (let i = 1; i < sorted.length; i++) {
            assert.ok(sorted[i]!.startedAt >= sorted[i - 1]!.finishedAt!, `lsid ${lsid} used by two commands at once: ${sorted[i - 1]!.commandName} and ${sorted[i]!.commandName}`);
          }
        }
        // The pool keeps about as many server sessions as operations ran at once (32 loops, a few more around them).
        assert.ok(byLsid.size <= 40, `${byLsid.size} server sessions for 32 concurrent loops`);
        const getMores = commands.filter((r) => r.commandName === 'getMore');
        const finds = commands.filter((r) => r.commandName === 'find' && r.command.batchSize === 10);
        assert.ok(getMores.length >= 4);
        for (const g of getMores) assert.equal(lsidOf(g.command), lsidOf(finds[0]!.command), "a getMore carries its cursor's lsid");
        const used = new Set(byLsid.keys());
        await session.close();
        const ended = records.filter((r) => r.commandName === 'endSessions').flatMap((r) => (r.command.endSessions as Document[]).map((lsid) => lsidOf({ lsid })));
        assert.equal(ended.length, new Set(ended).size);
        assert.deepEqual(new Set(ended), used, 'every pooled server session is ended once at close');
      } finally {
        unsubscribe();
        await session.close();
        await bridge.close();
      }
    });
  }
});
