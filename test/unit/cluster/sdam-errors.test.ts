// SDAM "Error handling" as a decision (applicationErrorDecision,
// checkErrorDecision) and the reply parsing that feeds it.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { BSON, Long, ObjectId, type Document } from 'bson';
import { serverDescriptionFromHello } from '../../../src/cluster/server-description.js';
import {
  applicationErrorDecision,
  checkErrorDecision,
  sdamErrorFromReply,
  stateChangeErrorKind,
  type ApplicationError,
} from '../../../src/cluster/sdam-errors.js';
import { initialTopology, updateTopology, type TopologyDescription } from '../../../src/cluster/topology-description.js';

const PROCESS = new ObjectId('000000000000000000000001');
const tv = (counter: number) => ({ processId: PROCESS, counter: BigInt(counter) });

/** A replica set whose primary a:27017 reported topologyVersion counter 1. */
function primaryTopology(): TopologyDescription {
  const hello: Document = {
    ok: 1,
    isWritablePrimary: true,
    setName: 'rs',
    hosts: ['a:27017', 'b:27017'],
    minWireVersion: 0,
    maxWireVersion: 21,
    topologyVersion: { processId: PROCESS, counter: Long.fromNumber(1) },
  };
  return updateTopology(initialTopology(['a:27017'], { replicaSet: 'rs' }), serverDescriptionFromHello('a:27017', hello, 1, 1));
}

function error(overrides: Partial<ApplicationError>): ApplicationError {
  return { type: 'command', stage: 'operation', generation: 0, maxWireVersion: 21, message: 'boom', ...overrides };
}

describe('applicationErrorDecision', () => {
  test('ignores errors from servers the topology no longer has', () => {
    const d = applicationErrorDecision(primaryTopology(), 'z:27017', error({ type: 'network' }), 0);
    assert.equal(d.ignored, 'unknown-server');
    assert.equal(d.markUnknown || d.clearPool || d.requestImmediateCheck, false);
  });

  test('ignores an error from a connection older than the pool (stale generation)', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ type: 'network', generation: 2 }), 3);
    assert.equal(d.ignored, 'stale');
    assert.equal(d.clearPool, false);
  });

  test('ignores a state change error whose topologyVersion is not newer than the server’s', () => {
    for (const counter of [0, 1]) {
      const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ code: 10107, topologyVersion: tv(counter) }), 0);
      assert.equal(d.ignored, 'stale', `counter ${counter}`);
    }
  });

  test('"not writable primary" on 4.2+: Unknown with the error’s topologyVersion, immediate check, pool kept', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ code: 10107, message: 'NotWritablePrimary', topologyVersion: tv(2) }), 0, 42);
    assert.equal(d.ignored, null);
    assert.equal(d.markUnknown, true);
    assert.equal(d.clearPool, false);
    assert.equal(d.interruptInUse, false);
    assert.equal(d.requestImmediateCheck, true);
    assert.equal(d.cancelCheck, false);
    assert.equal(d.description?.type, 'Unknown');
    assert.equal(d.description?.error, 'NotWritablePrimary');
    assert.equal(d.description?.topologyVersion?.counter, 2n);
    assert.equal(d.description?.lastUpdateTime, 42);
    const td = updateTopology(primaryTopology(), d.description!);
    assert.equal(td.type, 'ReplicaSetNoPrimary');
  });

  test('a state change error from a server before 4.2 (maxWireVersion < 8) also clears the pool', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ code: 13436, maxWireVersion: 7 }), 0);
    assert.equal(d.markUnknown, true);
    assert.equal(d.clearPool, true);
  });

  test('"node is shutting down" codes clear the pool on any version', () => {
    for (const code of [91, 11600]) {
      const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ code }), 0);
      assert.equal(d.clearPool, true, `code ${code}`);
      assert.equal(d.requestImmediateCheck, true);
    }
    assert.equal(applicationErrorDecision(primaryTopology(), 'a:27017', error({ code: 189 }), 0).clearPool, false);
  });

  test('a command error that is no state change changes nothing (the code wins over the message)', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ code: 1, message: 'not master' }), 0);
    assert.equal(d.ignored, 'not-an-sdam-error');
    assert.equal(d.markUnknown, false);
  });

  test('network error on an established connection: Unknown, pool cleared, monitor check cancelled, no immediate check', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ type: 'network', message: 'socket closed' }), 0);
    assert.equal(d.markUnknown, true);
    assert.equal(d.description?.topologyVersion, null);
    assert.equal(d.clearPool, true);
    assert.equal(d.cancelCheck, true);
    assert.equal(d.requestImmediateCheck, false);
    assert.equal(d.interruptInUse, false);
  });

  test('a network timeout on an established connection changes nothing', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ type: 'timeout' }), 0);
    assert.equal(d.markUnknown || d.clearPool, false);
  });

  test('network errors and timeouts while connecting or during hello change nothing (backpressure rules)', () => {
    for (const type of ['network', 'timeout'] as const) {
      const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ type, stage: 'handshake', maxWireVersion: 0 }), 0);
      assert.equal(d.markUnknown || d.clearPool, false, type);
    }
  });

  test('errors during authentication, and other handshake command errors, mark Unknown and clear the pool', () => {
    for (const e of [error({ type: 'network', stage: 'authentication' }), error({ type: 'timeout', stage: 'authentication' }), error({ code: 18, stage: 'handshake' })]) {
      const d = applicationErrorDecision(primaryTopology(), 'a:27017', e, 0);
      assert.equal(d.markUnknown, true, `${e.type}/${e.stage}`);
      assert.equal(d.clearPool, true, `${e.type}/${e.stage}`);
    }
  });

  test('errors labelled SystemOverloadedError never mark the server Unknown', () => {
    const d = applicationErrorDecision(primaryTopology(), 'a:27017', error({ type: 'network', errorLabels: ['SystemOverloadedError', 'RetryableError'] }), 0);
    assert.equal(d.ignored, 'overloaded');
    assert.equal(d.markUnknown || d.clearPool, false);
  });

  test('LoadBalanced: the LoadBalancer stays, only the pool is cleared, no monitor to ask', () => {
    const td = initialTopology(['lb:27017'], { loadBalanced: true });
    const shutdown = applicationErrorDecision(td, 'lb:27017', error({ code: 91 }), 0);
    assert.deepEqual([shutdown.markUnknown, shutdown.clearPool, shutdown.requestImmediateCheck], [false, true, false]);
    assert.equal(shutdown.description, null);
    const network = applicationErrorDecision(td, 'lb:27017', error({ type: 'network' }), 0);
    assert.deepEqual([network.markUnknown, network.clearPool, network.cancelCheck], [false, true, false]);
  });
});

describe('stateChangeErrorKind', () => {
  test('by code, and by message only when there is no code', () => {
    assert.equal(stateChangeErrorKind(10107, ''), 'notWritablePrimary');
    assert.equal(stateChangeErrorKind(13435, ''), 'notWritablePrimary');
    assert.equal(stateChangeErrorKind(10058, ''), 'notWritablePrimary');
    for (const code of [11600, 11602, 13436, 189, 91]) assert.equal(stateChangeErrorKind(code, ''), 'nodeIsRecovering');
    assert.equal(stateChangeErrorKind(undefined, 'not master'), 'notWritablePrimary');
    assert.equal(stateChangeErrorKind(0, 'not master or secondary'), 'nodeIsRecovering');
    assert.equal(stateChangeErrorKind(undefined, 'node is recovering'), 'nodeIsRecovering');
    assert.equal(stateChangeErrorKind(2, 'node is recovering'), null);
    assert.equal(stateChangeErrorKind(undefined, 'duplicate key'), null);
  });
});

describe('sdamErrorFromReply', () => {
  test('reads the error of an ok: 0 reply, then a writeConcernError, never writeErrors', () => {
    const failed = sdamErrorFromReply({ ok: 0, code: 91, errmsg: 'ShutdownInProgress', topologyVersion: { processId: PROCESS, counter: 5 } });
    assert.equal(failed?.code, 91);
    assert.equal(failed?.message, 'ShutdownInProgress');
    assert.equal(failed?.topologyVersion?.counter, 5n);
    const wce = sdamErrorFromReply({ ok: 1, writeConcernError: { code: 10107, errmsg: 'not primary' } });
    assert.deepEqual([wce?.code, wce?.message, wce?.topologyVersion], [10107, 'not primary', null]);
    assert.equal(sdamErrorFromReply({ ok: 1, writeErrors: [{ code: 10107, errmsg: 'NotWritablePrimary', index: 0 }] }), null);
    assert.equal(sdamErrorFromReply({ ok: 1 }), null);
  });

  test('reads a code decoded as a BSON Int32 (promoteValues: false)', () => {
    const reply = BSON.deserialize(BSON.serialize({ ok: 1, writeConcernError: { code: 10107, errmsg: 'not primary' } }), { promoteValues: false });
    assert.equal(sdamErrorFromReply(reply)?.code, 10107);
  });
});

describe('checkErrorDecision (server monitoring: error during a check)', () => {
  test('always Unknown and a cleared pool; timeouts interrupt in-use connections; a network error on a known server re-checks at once', () => {
    const known = primaryTopology().servers.get('a:27017');
    const unknown = initialTopology(['a:27017']).servers.get('a:27017');
    assert.deepEqual({ ...checkErrorDecision(known, 'timeout') }, { markUnknown: true, clearPool: true, interruptInUse: true, checkAgainNow: true });
    assert.deepEqual({ ...checkErrorDecision(known, 'network') }, { markUnknown: true, clearPool: true, interruptInUse: false, checkAgainNow: true });
    assert.equal(checkErrorDecision(unknown, 'network').checkAgainNow, false);
    assert.equal(checkErrorDecision(known, 'command').checkAgainNow, false);
  });
});
