// dial() and dialWithInfo(): options resolved and checked, a router made,
// and a first session that has heard from a server, as in mgo: the session
// pings (routed as Eventual, reserving nothing) before it is returned, then
// takes its mode (Strong unless the URL or DialInfo says otherwise).
import { tlsOptionsOf } from '../cluster/connector.js';
import { secureContextFor } from '../connection/tls.js';
import { MgoError } from '../errors.js';
import { EventHub } from '../monitoring/event-hub.js';
import { Logger } from '../monitoring/logger.js';
import { LocalRouter } from '../router/local-router.js';
import type { Router } from '../router/router.js';
import { compressors } from '../wire/compression.js';
import { WorkerRouter } from '../worker/worker-router.js';
import { redactUri } from '../uri/connection-string.js';
import { resolveOptions, type ResolvedOptions } from '../uri/resolve.js';
import { deadline } from '../util/deadline.js';
import { fromDialInfo, sessionOptionsOf, type DialInfo, type DialOptions, type SessionOverrides } from './dial-info.js';
import { Mode } from './modes.js';
import { checkInteger } from './arguments.js';
import { emitOptionWarnings } from './option-warnings.js';
import { parseURL } from './parse-url.js';
import { openSession, type Session } from './session.js';

/** Extra time the first ping gets past serverSelectionTimeoutMS, so that the router's own (more specific) error wins. */
const PING_GRACE_MS = 250;

/**
 * Connects to the cluster at `url` and returns a session in Strong mode (or
 * the URL's readPreference). URL keys it does not use are reported through
 * process.emitWarning (code MGO_CONNECTION_OPTION), once per dial.
 */
export async function dial(url: string, options: DialOptions = {}): Promise<Session> {
  const resolved = await resolveOptions(url, options);
  emitOptionWarnings('dial', resolved.warnings);
  return connect(resolved, {}, redactUri(url));
}

/** dial() with mgo's DialInfo. */
export async function dialWithInfo(info: DialInfo): Promise<Session> {
  const { url, options, overrides } = fromDialInfo(info);
  const resolved = await resolveOptions(url, options);
  emitOptionWarnings('dialWithInfo', resolved.warnings);
  return connect(resolved, overrides, redactUri(url));
}

/**
 * mgo's DialWithTimeout: parseURL(url), then dialWithInfo() with `timeoutMS`
 * as DialInfo.timeoutMS, which bounds connecting (connectTimeoutMS), server
 * selection (serverSelectionTimeoutMS) and the session's socket
 * reservations (its sync timeout). Differs from mgo: 0 is refused rather
 * than meaning "wait forever" (every wait here ends; use a large value),
 * mongodb+srv:// is refused as by parseURL (dial() takes it), and
 * `options` takes what only the options object sets (workers, ...).
 */
export async function dialWithTimeout(url: string, timeoutMS: number, options: DialOptions = {}): Promise<Session> {
  checkInteger('dialWithTimeout', timeoutMS, 1);
  const info = parseURL(url);
  return dialWithInfo({ ...info, timeoutMS, options: { ...info.options, ...options } });
}

async function connect(resolved: ResolvedOptions, overrides: SessionOverrides, shownUrl: string): Promise<Session> {
  // Unreadable TLS files or a wrong key password fail here, once, rather
  // than as every connection's error (each worker builds its own context).
  const tls = tlsOptionsOf(resolved);
  if (tls) secureContextFor(tls);
  // A compressor that cannot be loaded is dropped here, with its one warning
  // per process (compression spec), before any worker would warn again.
  resolved = { ...resolved, compressors: compressors.usable(resolved.compressors) };
  // workers: 0 keeps the sockets in this thread; N > 0 puts them in N workers.
  // One event hub per dial: session.events of every session made from it.
  // The logger (logging spec) stays on this thread: its destination may be
  // a function, which no worker could receive; workers' events reach it
  // through the hub.
  // A hub given in the `events` option was made before dial(), so that its
  // listeners see this dial's first events too.
  const events = resolved.events ?? new EventHub();
  events.bindToDial({ monitorCommands: resolved.monitorCommands, logger: new Logger(resolved.logger) });
  resolved = { ...resolved, logger: undefined, events: undefined };
  let router: Router;
  try {
    router = resolved.workers > 0 ? await WorkerRouter.create(resolved, {}, events) : await LocalRouter.create(resolved, {}, events);
  } catch (err) {
    events.release();
    throw err;
  }
  const options = sessionOptionsOf(resolved, overrides);
  const session = openSession(router, { ...options, mode: Mode.Eventual }, events);
  const limitMS = resolved.serverSelectionTimeoutMS;
  try {
    await deadline(
      session.ping(),
      limitMS + PING_GRACE_MS,
      () => new MgoError('ERR_SYNC_TIMEOUT', `no server of ${shownUrl} answered a ping within serverSelectionTimeoutMS (${limitMS} ms)`),
    );
  } catch (err) {
    await router.destroy();
    // The session's close lets the router leave getStats() (a closed dial's clusters).
    await session.close().catch(() => {});
    events.release();
    throw err;
  }
  session.setMode(options.mode ?? Mode.Strong, true);
  return session;
}

