// One server of the cluster: its connection pool and its monitor. The pool
// starts paused (CMAP) and is marked ready by the first successful check; a
// failed check clears it (SDAM "Clearing the connection pool").
import type { CommandEventOutlet } from '../connection/command-events.js';
import type { Identities } from '../auth/identities.js';
import { Connection } from '../connection/connection.js';
import type { PoolEventOutlet } from '../pool/events.js';
import type { PermitSource } from '../pool/permits.js';
import { LocalSocketTally, type SocketTally } from '../connection/socket-tally.js';
import { Pool } from '../pool/pool.js';
import type { ResolvedOptions, ServerAddress } from '../uri/resolve.js';
import { createConnector, type ConnectorOptions } from './connector.js';
import { Monitor, type CheckResult } from './monitor.js';
import type { SdamEventOutlet } from './sdam-events.js';

export type ServerOptions = ConnectorOptions &
  Pick<ResolvedOptions, 'maxPoolSize' | 'minPoolSize' | 'maxIdleTimeMS' | 'maxLifetimeMS' | 'maxConnecting' | 'waitQueueTimeoutMS' | 'heartbeatFrequencyMS'> &
  Partial<Pick<ResolvedOptions, 'serverMonitoringMode'>>;

export interface ServerHooks {
  onCheck(server: Server, result: CheckResult): void;
  poolEvents: PoolEventOutlet;
  /** A background (minPoolSize) dial failed. */
  onBackgroundError(server: Server, error: unknown): void;
  /** Where permits come from: the shared coordinator in a worker; the pool's own counter otherwise. */
  permits?: PermitSource | undefined;
  /** Where dial slots (maxConnecting) come from, likewise. */
  dialSlots?: PermitSource | undefined;
  /** Where the pool's sockets are counted: the shared coordinator in a worker; this server's own tally otherwise. */
  sockets?: SocketTally | undefined;
  /** Where its monitor's heartbeat events go (the process's monitor only). */
  sdamEvents?: SdamEventOutlet | undefined;
  /** Where its pool's sockets publish command events (never its monitor's). */
  commandEvents?: CommandEventOutlet | undefined;
}

export class Server {
  readonly address: string;
  readonly pool: Pool<Connection>;
  readonly monitor: Monitor;
  /** The pool's sockets from creation to 'close' (ServerStats.sockets). */
  readonly sockets: SocketTally;

  constructor(server: ServerAddress, options: ServerOptions, identities: Identities, hooks: ServerHooks) {
    this.address = server.address;
    this.sockets = hooks.sockets ?? new LocalSocketTally();
    this.pool = new Pool<Connection>({
      address: server.address,
      connect: createConnector(server, options, identities, this.sockets, hooks.commandEvents),
      defaultIdentity: identities.dialIdentity,
      // A shared permit source carries the limit (the coordinator's, which
      // setGlobalPoolLimit may have changed since these options were made).
      maxPoolSize: hooks.permits ? undefined : options.maxPoolSize,
      minPoolSize: options.minPoolSize,
      maxIdleTimeMS: options.maxIdleTimeMS,
      maxLifetimeMS: options.maxLifetimeMS,
      maxConnecting: options.maxConnecting,
      waitQueueTimeoutMS: options.waitQueueTimeoutMS,
      monitor: (event) => hooks.poolEvents.publish(event),
      monitorWanted: (type) => hooks.poolEvents.wanted(type),
      permits: hooks.permits,
      dialSlots: hooks.dialSlots,
      onBackgroundError: (error) => hooks.onBackgroundError(this, error),
    });
    this.monitor = new Monitor(server, options, (result) => hooks.onCheck(this, result), hooks.sdamEvents);
  }

  start(): void {
    this.monitor.start();
  }

  /** Requests in use plus waiting: the load figure for "power of two choices" selection. */
  get load(): number {
    return this.pool.stats().inUse + this.pool.waiting;
  }

  close(): Promise<void> {
    this.monitor.close();
    return this.pool.close();
  }

  destroy(): Promise<void> {
    this.monitor.close();
    return this.pool.destroy();
  }
}
