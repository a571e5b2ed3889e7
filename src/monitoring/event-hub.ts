// The dial's one event emitter (session.events): every session of a dial,
// and every worker of it, publishes here. Each event goes to
//   - EventEmitter listeners under its public name (events.ts),
//   - its diagnostics_channel (events.ts channelName), when subscribed,
//   - the logger, when one is set and logs its kind (logging spec).
// wanted() tells producers which kinds anybody observes, so that none of
// this costs anything while nobody does (issue 15: <= 1 us of main-thread
// time per operation without listeners).
import diagnosticsChannel, { type Channel } from 'node:diagnostics_channel';
import type { SelectionLogRecord } from '../cluster/selection-log.js';
import { EventEmitter } from 'node:events';
import { MgoError } from '../errors.js';
import {
  EVENT_TYPES,
  KIND_BIT,
  WANT_COMMAND,
  WANT_SELECTION_LOG,
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
  /** Logs one event (called for every published event, whatever wanted() said). */
  log(event: Published): void;
  /** A server selection log record (src/cluster/selection-log.ts); wanted while wanted() has WANT_SELECTION_LOG. */
  logSelection?(record: SelectionLogRecord, workerId?: number): void;
}

/** How dial() sets up its EventHub. */
export interface EventHubOptions {
  /** Command events even without listeners (the official driver's monitorCommands). */
  monitorCommands?: boolean;
  /** The logger every event also goes to (the logger dial option, MONGODB_LOG_* variables). */
  logger?: EventLogger;
}

/**
 * session.events: one typed EventEmitter per dial, shared by its sessions,
 * emitting every driver event under its public name (commandStarted,
 * connectionCheckedOut, serverHeartbeatSucceeded, ...) with the specs'
 * fields, and publishing it on its diagnostics_channel
 * (mgo-threads:command:started, mgo-threads:pool:connectionCheckedOut, ...).
 * Events are built only while a listener, a channel subscriber or the
 * logger wants them. No mgo counterpart: mgo had no event API.
 */
export class EventHub extends EventEmitter<DriverEventMap> implements EventSink {
  /** Listener counts per WANT_* bit, kept by the newListener/removeListener hooks. */
  readonly #listeners = new Map<number, number>();
  /** The bits with listeners now: what #listeners says, as one number for wanted(). */
  #listenerMask = 0;
  // Strong references: diagnostics_channel holds channels weakly, and a
  // subscriber added to a collected channel's successor must still be seen.
  readonly #channels = new Map<DriverEventType, Channel>();
  /**
   * Every channel, with its kind's bit at the same index: wanted() runs
   * before every operation, and a flat loop over getters costs a fraction
   * of iterating maps (0.3-0.4 us per call measured with maps, the most of
   * issue 15's 1 us budget per operation).
   */
  readonly #channelList: Channel[] = [];
  readonly #channelBits: number[] = [];
  /** For wants(): each type's bit, and the channels whose subscribers want it built. */
  readonly #wantsOf = new Map<DriverEventType, { readonly bit: number; readonly channels: readonly Channel[] }>();
  /** Build command events even without a listener (the monitorCommands option). */
  monitorCommands: boolean;
  /** The logger every event also goes to, if any. */
  logger: EventLogger | undefined;

  /** Whether a dial uses this hub (one dial per hub: its logger and topology ids are that dial's). */
  #dialed = false;

  constructor(options: EventHubOptions = {}) {
    super();
    this.monitorCommands = options.monitorCommands ?? false;
    this.logger = options.logger;
    for (const kind of Object.keys(EVENT_TYPES) as EventKind[]) {
      for (const type of EVENT_TYPES[kind]) {
        const channel = diagnosticsChannel.channel(channelName(type));
        this.#channels.set(type, channel);
        this.#channelList.push(channel);
        this.#channelBits.push(KIND_BIT[kind]);
      }
    }
    const commandChannels = EVENT_TYPES.command.map((type) => this.#channels.get(type)!);
    for (const kind of Object.keys(EVENT_TYPES) as EventKind[]) {
      for (const type of EVENT_TYPES[kind]) {
        this.#wantsOf.set(type, { bit: KIND_BIT[kind], channels: kind === 'command' ? commandChannels : [this.#channels.get(type)!] });
      }
    }
    this.#hook();
  }

  /**
   * @internal dial() takes this hub for itself: a hub given in the `events`
   * option gets the dial's monitorCommands and logger. A second dial with the
   * same hub is refused, since two topologies' events would mix under one
   * logger; a failed dial gives the hub back (release()).
   */
  bindToDial(options: EventHubOptions): void {
    if (this.#dialed) throw new MgoError('ERR_INVALID_ARGUMENT', 'events: this EventHub is already the events of another dial (one dial per hub)');
    this.#dialed = true;
    this.monitorCommands ||= options.monitorCommands ?? false;
    if (options.logger !== undefined) this.logger = options.logger;
  }

  /** @internal A dial that failed gives its hub back, so that the next dial() may take it. */
  release(): void {
    this.#dialed = false;
  }

  readonly #onNewListener = (name: string | symbol): void => this.#count(name, 1);
  readonly #onRemoveListener = (name: string | symbol): void => this.#count(name, -1);

  /** Installs the counting hooks, unless they are there. */
  #hook(): void {
    const self = this as EventEmitter;
    if (!self.listeners('newListener').includes(this.#onNewListener)) self.on('newListener', this.#onNewListener);
    if (!self.listeners('removeListener').includes(this.#onRemoveListener)) self.on('removeListener', this.#onRemoveListener);
  }

  /**
   * EventEmitter's, keeping the counting hooks: removeAllListeners() with
   * no name (or 'newListener'/'removeListener') removes them too, and a
   * listener added afterwards was then never counted, so its events were
   * never built. The counts are taken again from the listeners left.
   */
  override removeAllListeners(eventName?: Parameters<EventEmitter<DriverEventMap>['removeAllListeners']>[0]): this {
    if (eventName === undefined) super.removeAllListeners();
    else super.removeAllListeners(eventName);
    this.#hook();
    this.#listeners.clear();
    this.#listenerMask = 0;
    for (const name of this.eventNames()) {
      const count = this.listenerCount(name as never);
      for (let i = 0; i < count; i++) this.#count(name, 1);
    }
    return this;
  }

  #count(name: string | symbol, delta: number): void {
    const kind = kindOfPublicName(name);
    if (kind === undefined) return;
    const bit = KIND_BIT[kind];
    const count = (this.#listeners.get(bit) ?? 0) + delta;
    this.#listeners.set(bit, count);
    this.#listenerMask = count > 0 ? this.#listenerMask | bit : this.#listenerMask & ~bit;
  }

  wanted(): number {
    let mask = this.#listenerMask;
    if (this.monitorCommands) mask |= WANT_COMMAND;
    const channels = this.#channelList;
    const bits = this.#channelBits;
    for (let i = 0; i < channels.length; i++) {
      if ((mask & bits[i]!) === 0 && channels[i]!.hasSubscribers) mask |= bits[i]!;
    }
    if (this.logger !== undefined) mask |= this.logger.wanted();
    return mask;
  }

  wants(type: DriverEventType): boolean {
    const { bit, channels } = this.#wantsOf.get(type)!;
    if ((this.#listenerMask & bit) !== 0) return true;
    if (bit === WANT_COMMAND && this.monitorCommands) return true;
    for (let i = 0; i < channels.length; i++) if (channels[i]!.hasSubscribers) return true;
    return this.logger !== undefined && (this.logger.wanted() & bit) !== 0;
  }

  /** Only the logger logs selections: one question to it, not wanted()'s walk over listeners and channels. */
  logsSelection(): boolean {
    return this.logger !== undefined && (this.logger.wanted() & WANT_SELECTION_LOG) !== 0;
  }

  logSelection(record: SelectionLogRecord, workerId?: number): void {
    this.logger?.logSelection?.(record, workerId);
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
