// Command monitoring events (command-logging-and-monitoring spec, "Command
// Monitoring"): what a connection publishes around each command it sends,
// while someone listens (src/monitoring/event-hub.ts decides who does).
//
// Plain objects discriminated by `type`, like the CMAP events
// (src/pool/events.ts), so that a worker can send them to the main thread
// as records (src/worker/protocol.ts). `duration` is in milliseconds, as
// the official Node driver names it.
import type { Document } from 'bson';

interface CommandEventBase {
  /** The command's name, its first key (insert, find, getMore, ...). */
  readonly commandName: string;
  /** The database it ran on ($db). */
  readonly databaseName: string;
  /** The request id of the OP_MSG that carried the command. */
  readonly requestId: number;
  /** The driver's connection id (per pool, so two workers' ids overlap: see workerId on the public events). */
  readonly connectionId: number;
  /** host:port of the server. */
  readonly address: string;
  /** The server's own id for the connection (hello's connectionId), when it gave one. */
  readonly serverConnectionId?: number;
  /** Load-balanced mode only. */
  readonly serviceId?: unknown;
}

/** A command is about to be written to a socket (command monitoring spec); public name commandStarted. */
export interface CommandStartedEvent extends CommandEventBase {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'CommandStarted';
  /** The command as sent, with its document sequences as arrays; {} for a security-sensitive command. */
  readonly command: Document;
}

/** A command's reply came with ok: 1 (write errors included, as the spec says); commandSucceeded. */
export interface CommandSucceededEvent extends CommandEventBase {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'CommandSucceeded';
  /** Milliseconds from just before the command was written to the reply read. */
  readonly duration: number;
  /** The reply; {} for a security-sensitive command, { ok: 1 } for an unacknowledged write. */
  readonly reply: Document;
}

/** A command failed: ok: 0, or no reply (a network error, a timeout); commandFailed. */
export interface CommandFailedEvent extends CommandEventBase {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'CommandFailed';
  /** Milliseconds from just before the command was written to the failure. */
  readonly duration: number;
  /** The error (a ServerError for ok: 0, a network error...); across threads, rebuilt from its record. */
  readonly failure: Error;
}

/** Every command monitoring event. */
export type CommandEvent = CommandStartedEvent | CommandSucceededEvent | CommandFailedEvent;

/**
 * Where a connection sends its command events (the router's EventSink, on
 * the main thread or a worker's forwarder): `wanted()` is asked once per
 * command, before anything is built, so that nobody listening costs one
 * call and a bit test.
 */
export interface CommandEventOutlet {
  wanted(): boolean;
  publish(event: CommandEvent): void;
}
