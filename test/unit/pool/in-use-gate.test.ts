// The in-use gate of session pool limits (src/pool/in-use-gate.ts), in-thread.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { PoolTimeoutError } from '../../../src/errors.js';
import { LocalInUseGate } from '../../../src/pool/in-use-gate.js';

describe('LocalInUseGate', () => {
  test('counts every operation; a limited one waits while its limit is reached, and goes in as others leave', async () => {
    const gate = new LocalInUseGate('db:27017');
    gate.enter();
    gate.enter();
    assert.equal(gate.admit(3, 0), undefined, 'below its limit: in at once');
    assert.equal(gate.inUse, 3);
    const order: string[] = [];
    const a = gate.admit(3, 0)!.then(() => order.push('a'));
    const b = gate.admit(3, 0)!.then(() => order.push('b'));
    // An unlimited operation is never held back by them.
    gate.enter();
    assert.equal(gate.inUse, 4);
    gate.leave();
    gate.leave();
    await a;
    assert.deepEqual(order, ['a']);
    assert.equal(gate.inUse, 3);
    gate.leave();
    await b;
    assert.deepEqual(order, ['a', 'b']);
    assert.equal(gate.inUse, 3);
  });

  test("a waiter whose limit is reached does not hold up one whose limit is not", async () => {
    const gate = new LocalInUseGate('db:27017');
    gate.enter();
    gate.enter();
    let small = false;
    void gate.admit(1, 0)!.then(() => (small = true));
    await gate.admit(5, 0);
    assert.equal(small, false);
    assert.equal(gate.inUse, 3);
  });

  test('a wait ends with PoolTimeoutError after its timeout, and leaves the queue', async () => {
    const gate = new LocalInUseGate('db:27017');
    gate.enter();
    await assert.rejects(gate.admit(1, 20)!, (error: unknown) => {
      assert.ok(error instanceof PoolTimeoutError);
      assert.match(error.message, /db:27017.*the session's pool limit 1: 1 sockets of the server in use/);
      return true;
    });
    gate.leave();
    assert.equal(gate.inUse, 0);
  });

  test('ungate(): waiters whose limit is at or above the new connection limit go in at once, counted; the others keep waiting', async () => {
    const gate = new LocalInUseGate('db:27017');
    gate.enter();
    gate.enter();
    let small = false;
    const smallWait = gate.admit(1, 0)!.then(() => (small = true));
    const large = gate.admit(2, 0)!;
    assert.equal(gate.waiting, 2);
    gate.ungate(2);
    await large;
    assert.equal(gate.inUse, 3, 'the admitted one is counted');
    assert.equal(gate.waiting, 1);
    assert.equal(small, false);
    gate.leave();
    gate.leave();
    gate.leave();
    await smallWait;
    assert.equal(gate.inUse, 1);
  });

  test('failAll() fails every waiter at once (the router was destroyed)', async () => {
    const gate = new LocalInUseGate('db:27017');
    gate.enter();
    const waits = [gate.admit(1, 60_000)!, gate.admit(1, 0)!];
    gate.failAll(new Error('closed'));
    for (const wait of waits) await assert.rejects(wait, /closed/);
    gate.leave();
    assert.equal(gate.inUse, 0);
  });
});
