// A short failover run (bench/failover.ts: the full report is not run by
// CI) for workers 0 and 2: 16 write and 16 read loops at pool limit 20
// through the replica-set bridge while the primary steps down, then the new
// primary is partitioned and healed. With retryable writes and reads on, no
// error reaches the application, no acknowledged write is lost, retried
// writes that had run are answered from the server's record (not run
// twice), and no member ever sees more sockets than the limit plus the
// monitoring connections stats() reports.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFailoverRun, failoverExperiment } from '../../bench/failover.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

describe('failover', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: a stepdown and a partitioned primary surface no error and lose no acknowledged write`, { timeout: 120_000 }, async (t) => {
      const result = await failoverExperiment(server, {
        workers,
        poolLimit: 20,
        // Bounded in count, and in time: about 6 s of load (each phase timed
        // from the event that began it: longer if an event comes late).
        phasesMS: { steady: 800, afterStepDown: 1_500, partitioned: 3_000, afterHeal: 800 },
        maxOpsPerLoop: 5_000,
      });
      t.diagnostic(describeFailoverRun(result));
      assert.deepEqual(result.writes.errors, {}, `write errors: ${JSON.stringify(result.errorSamples)}`);
      assert.deepEqual(result.reads.errors, {}, `read errors: ${JSON.stringify(result.errorSamples)}`);
      assert.equal(result.lost, 0, 'acknowledged writes missing');
      assert.ok(result.writes.acknowledged > 0 && result.reads.ok > 0);
      for (const event of result.events) {
        assert.notEqual(event.writesResumedMS, null, `writes resumed after ${event.name}`);
      }
      for (const { member, max } of result.maxSockets) {
        assert.ok(max <= result.socketAllowance, `${member}: ${max} sockets at once, allowed ${result.socketAllowance}`);
      }
    });
  }
});
