// A Router for unit tests of the session layer: it records every request
// and reservation, answers commands from handlers, and simulates what a
// real router does with sockets (servers of a replica set, reservations
// that die, network errors that kill the reserved socket, ok: 0 replies as
// ServerErrors, unacknowledged writes answered with { ok: 1 }).
import type { Document } from 'bson';
import { Long } from 'bson';
import { MgoError, NetworkError, ServerError } from '../../src/errors.js';
import type { PoolEvent } from '../../src/pool/events.js';
import type { ServerStats } from '../../src/pool/stats.js';
import type { ReadPreference } from '../../src/read-preference.js';
import type { Reservation, Router, RouterReply, RouterRequest } from '../../src/router/router.js';

export interface FakeServerSpec {
  address: string;
  /** A primary (or standalone); false for a secondary. */
  writable: boolean;
}

export class FakeReservation implements Reservation {
  dead = false;
  released = false;
  constructor(
    readonly id: number,
    readonly address: string,
    readonly writable: boolean,
    readonly readPreference: ReadPreference,
  ) {}
}

export interface HandlerContext {
  /** The server that runs the command. */
  address: string;
  router: FakeRouter;
}

/** Returns the reply document (ok: 0 is thrown as a ServerError), or throws. */
export type Handler = (request: RouterRequest, context: HandlerContext) => Document | Promise<Document>;

export const PRIMARY_ADDRESS = 'primary.test:27017';
export const SECONDARY_ADDRESS = 'secondary.test:27017';

/** A standalone server, by default. */
export const STANDALONE: FakeServerSpec[] = [{ address: PRIMARY_ADDRESS, writable: true }];
export const REPLICA_SET: FakeServerSpec[] = [
  { address: PRIMARY_ADDRESS, writable: true },
  { address: SECONDARY_ADDRESS, writable: false },
];

/** The name of a command: its first key. */
export function commandName(request: RouterRequest): string {
  return Object.keys(request.command)[0]!;
}

/** A cursor reply: firstBatch for the opening command, nextBatch for getMore. */
export function cursorReply(ns: string, docs: Document[], id: number | Long = 0, batch: 'firstBatch' | 'nextBatch' = 'firstBatch'): Document {
  return { cursor: { id: typeof id === 'number' ? Long.fromNumber(id) : id, ns, [batch]: docs }, ok: 1 };
}

export class FakeRouter implements Router {
  /** Every run() call, in order. */
  readonly requests: RouterRequest[] = [];
  /** Every reservation made, in order. */
  readonly reservations: FakeReservation[] = [];
  /** Ids passed to release(), every call. */
  readonly releases: number[] = [];
  servers: FakeServerSpec[];
  closed = false;
  destroyed = false;
  /** Milliseconds reserve() takes. */
  reserveDelayMS = 0;
  readonly #handlers = new Map<string, Handler>();
  readonly #failures: ((request: RouterRequest) => Error | undefined)[] = [];
  #fallback: Handler = () => ({ ok: 1 });
  #nextId = 0;

  constructor(options: { servers?: FakeServerSpec[]; handler?: Handler } = {}) {
    this.servers = options.servers ?? STANDALONE;
    if (options.handler) this.#fallback = options.handler;
  }

  /** Answers commands named `name` with `handler`. */
  on(name: string, handler: Handler): this {
    this.#handlers.set(name, handler);
    return this;
  }

  /** The next run() (or the next one `when` accepts) rejects with `error`; a NetworkError kills its reservation. */
  failNext(error: Error, when: (request: RouterRequest) => boolean = () => true): this {
    let used = false;
    this.#failures.push((request) => {
      if (used || !when(request)) return undefined;
      used = true;
      return error;
    });
    return this;
  }

  /** The reserved socket dies while idle. */
  kill(reservation: Reservation): void {
    (reservation as FakeReservation).dead = true;
  }

  /** Reservations made and not released. */
  get held(): FakeReservation[] {
    return this.reservations.filter((r) => !r.released);
  }

  /** The commands sent, optionally only those named `name`. */
  commands(name?: string): Document[] {
    return this.requests.filter((r) => name === undefined || commandName(r) === name).map((r) => r.command);
  }

  /** The requests named `name`. */
  requestsNamed(name: string): RouterRequest[] {
    return this.requests.filter((r) => commandName(r) === name);
  }

  async reserve(readPreference: ReadPreference): Promise<Reservation> {
    if (this.closed) throw new MgoError('ERR_POOL_CLOSED', 'fake router is closed');
    if (this.reserveDelayMS > 0) await new Promise((resolve) => setTimeout(resolve, this.reserveDelayMS));
    const server = this.select(readPreference);
    const reservation = new FakeReservation(++this.#nextId, server.address, server.writable, readPreference);
    this.reservations.push(reservation);
    return reservation;
  }

  release(reservation: Reservation): void {
    this.releases.push(reservation.id);
    (reservation as FakeReservation).released = true;
  }

  async run(request: RouterRequest): Promise<RouterReply> {
    this.requests.push(request);
    if (this.closed) throw new MgoError('ERR_POOL_CLOSED', 'fake router is closed');
    const reservation = request.reservation as FakeReservation | undefined;
    if (reservation?.released) throw new Error(`FakeRouter: reservation ${reservation.id} used after its release`);
    if (reservation?.dead) throw new NetworkError('ERR_CONNECTION_CLOSED', `reserved connection to ${reservation.address} is closed`, { address: reservation.address });
    const address = reservation?.address ?? request.address ?? this.select(request.readPreference).address;
    await Promise.resolve();
    for (const failure of this.#failures) {
      const error = failure(request);
      if (!error) continue;
      if (error instanceof NetworkError && reservation) reservation.dead = true;
      throw error;
    }
    const handler = this.#handlers.get(commandName(request)) ?? this.#fallback;
    const reply = await handler(request, { address, router: this });
    if (request.moreToCome) return { reply: { ok: 1 }, address };
    if (Number(reply.ok ?? 1) !== 1) throw ServerError.fromReply(reply, address);
    return { reply: { ok: 1, ...reply }, address };
  }

  /** Server selection over the fake servers, by read preference mode. */
  select(readPreference: ReadPreference): FakeServerSpec {
    const primary = this.servers.find((s) => s.writable);
    const secondary = this.servers.find((s) => !s.writable);
    const choice = {
      primary,
      primaryPreferred: primary ?? secondary,
      secondary,
      secondaryPreferred: secondary ?? primary,
      nearest: this.servers[0],
    }[readPreference.mode];
    if (!choice) throw new MgoError('ERR_POOL_TIMEOUT', `fake router: no server matches read preference ${readPreference.mode}`);
    return choice;
  }

  liveServers(): string[] {
    return this.servers.map((s) => s.address);
  }

  stats(): ServerStats[] {
    return [];
  }

  onPoolEvent(_listener: (event: PoolEvent) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    this.closed = true;
  }
}
