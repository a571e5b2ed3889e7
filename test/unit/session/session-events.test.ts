import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventHub } from '../../../src/monitoring/event-hub.js';
import type { Router } from '../../../src/router/router.js';
import { openSession } from '../../../src/session/session.js';

test("openSession(router) without a hub: session.events is the router's hub, where its events are published", () => {
  const hub = new EventHub();
  // openSession() only keeps the router; nothing of it is called here.
  const router = { events: hub } as unknown as Router;
  const session = openSession(router);
  assert.equal(session.events, hub);
  assert.equal(session.copy().events, hub);
  const other = new EventHub();
  assert.equal(openSession(router, {}, other).events, other, 'a hub given still wins');
});
