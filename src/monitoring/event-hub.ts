// The dial's one event emitter (session.events): every session of a dial,
// and every worker of it, publishes here. Each event goes to
//   - EventEmitter listeners under its public name (events.ts),
//   - its diagnostics_channel (events.ts channelName), when subscribed,
//   - the logger, when one is set and logs its kind (logging spec).
// wanted() tells producers which kinds anybody observes, so that none of
// this costs anything while nobody does (issue 15: <= 1 us of main-thread
// time per operation without listeners).
import diagnosticsChannel, { type Channel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import {
  EVENT_TYPES,
  KIND_BIT,
  WANT_COMMAND,
  channelName,
  kindOfPublicName,
  publicName,
  type DriverEvent,
  type DriverEventMap,
  type DriverEventType,
  type EventKind,
  type EventSink,
  type Published,
} from './events.js';

/** A consumer of every published event that may want kinds nobody else does (the spec logger). */
export interface EventLogger {
  /** A mask of WANT_* bits: the kinds this logger logs at its levels. */
  wanted(): number;
  log(event: Published): void;
}

export interface EventHubOptions {
  /** Command events even without listeners (the official driver's monitorCommands). */
  monitorCommands?: boolean;
  logger?: EventLogger;
}

export class EventHub extends EventEmitter<DriverEventMap> implements EventSink {
  /** Listener counts per WANT_* bit, kept by the newListener/removeListener hooks. */
  readonly #listeners = new Map<number, number>();
  // Strong references: diagnostics_channel holds channels weakly, and a
  // subscriber added to a collected channel's successor must still be seen.
  readonly #channels = new Map<DriverEventType, Channel>();
  readonly #channelsByBit = new Map<number, Channel[]>();
  monitorCommands: boolean;
  logger: EventLogger | undefined;

  constructor(options: EventHubOptions = {}) {
    super();
    this.monitorCommands = options.monitorCommands ?? false;
    this.logger = options.logger;
    for (const kind of Object.keys(EVENT_TYPES) as EventKind[]) {
      const list: Channel[] = [];
      for (const type of EVENT_TYPES[kind]) {
        const channel = diagnosticsChannel.channel(channelName(type));
        this.#channels.set(type, channel);
        list.push(channel);
      }
      this.#channelsByBit.set(KIND_BIT[kind], list);
    }
    const self = this as EventEmitter;
    self.on('newListener', (name: string | symbol) => this.#count(name, 1));
    self.on('removeListener', (name: string | symbol) => this.#count(name, -1));
  }

  #count(name: string | symbol, delta: number): void {
    const kind = kindOfPublicName(name);
    if (kind === undefined) return;
    const bit = KIND_BIT[kind];
    this.#listeners.set(bit, (this.#listeners.get(bit) ?? 0) + delta);
  }

  wanted(): number {
    let mask = this.monitorCommands ? WANT_COMMAND : 0;
    for (const [bit, count] of this.#listeners) if (count > 0) mask |= bit;
    for (const [bit, channels] of this.#channelsByBit) {
      if ((mask & bit) !== 0) continue;
      for (const channel of channels) {
        if (channel.hasSubscribers) {
          mask |= bit;
          break;
        }
      }
    }
    if (this.logger !== undefined) mask |= this.logger.wanted();
    return mask;
  }

  publish(event: DriverEvent, workerId?: number): void {
    const published: Published = workerId === undefined ? event : { ...event, workerId };
    const name = publicName(event.type);
    if (this.listenerCount(name) > 0) {
      // A throwing listener must not unwind into the producer (a pool half-way
      // through a state change): rethrown on the next tick, as
      // diagnostics_channel does with a throwing subscriber.
      try {
        (this as EventEmitter).emit(name, published);
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
    const channel = this.#channels.get(event.type)!;
    if (channel.hasSubscribers) channel.publish(published);
    this.logger?.log(published);
  }
}
