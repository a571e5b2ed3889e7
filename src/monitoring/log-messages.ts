// Published events as the logging specs' structured messages: the message
// text and field names of the command-logging-and-monitoring ("Log
// Messages"), connection-monitoring-and-pooling ("Logging") and
// server-discovery-and-monitoring-logging-and-monitoring ("Log Messages")
// specs. Absent values are left out, never null (logging spec, "Omitting
// Null Values"). Documents are relaxed extended JSON cut to the max length.
import { isSensitiveCommandName } from '../connection/command-monitoring.js';
import { EJSON, type Document } from 'bson';
import { describeTopology, type SelectionLogRecord } from '../cluster/selection-log.js';
import type { Published } from './events.js';
import type { LogComponent } from './log-settings.js';

/** A message before its time and severity are added: the spec's text and fields. */
export interface MessageFields {
  readonly message: string;
  readonly [field: string]: unknown;
}

/**
 * Relaxed extended JSON of `value`, cut after `maxLength` UTF-16 code units
 * with "..." appended (logging spec, "Configurable Max Document Length":
 * naive truncation, the ellipsis not counted; a cut inside a surrogate pair
 * moves before it). 0: never cut.
 */
export function truncatedJson(value: unknown, maxLength: number): string {
  let text: string;
  try {
    text = EJSON.stringify(value as Document, { relaxed: true });
  } catch (err) {
    text = `extended JSON failed: ${(err as Error).message}`;
  }
  if (maxLength === 0 || text.length <= maxLength) return text;
  let end = maxLength;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}...`;
}

/**
 * "host:port" or "[v6]:port" as serverHost and serverPort (27017 when the
 * address has none); a Unix domain socket's path (connection string spec:
 * it ends in .sock) as serverHost alone (CMAP "Logging": serverPort is
 * "not present for Unix domain sockets").
 */
export function hostAndPort(address: string): { serverHost: string; serverPort?: number } {
  if (address.endsWith('.sock')) return { serverHost: address };
  const v6 = /^\[(.+)\]:(\d+)$/.exec(address);
  if (v6) return { serverHost: v6[1]!, serverPort: Number(v6[2]) };
  const colon = address.lastIndexOf(':');
  if (colon > 0 && !address.includes(':', colon + 1) && /^\d+$/.test(address.slice(colon + 1))) {
    return { serverHost: address.slice(0, colon), serverPort: Number(address.slice(colon + 1)) };
  }
  return { serverHost: address, serverPort: 27017 };
}

/**
 * An error as a log field: everything our error classes report (name,
 * code, message, and a server's code, codeName and labels when they have
 * them), never the server's whole reply.
 */
export function errorFields(error: unknown): Document {
  if (!(error instanceof Error)) return { message: String(error) };
  const e = error as Error & { code?: unknown; serverCode?: unknown; codeName?: unknown; errorLabels?: unknown };
  const out: Document = { name: e.name };
  if (e.code !== undefined) out.code = e.code;
  out.message = e.message;
  if (e.serverCode !== undefined) out.serverCode = e.serverCode;
  if (e.codeName !== undefined) out.codeName = e.codeName;
  if (Array.isArray(e.errorLabels) && e.errorLabels.length > 0) out.errorLabels = e.errorLabels;
  return out;
}


/** CMAP "Connection Closed Message" reasons; ours (lifetime, yielded) in the same style. */
const CLOSED_REASONS: Readonly<Record<string, string>> = {
  stale: 'Connection became stale because the pool was cleared',
  idle: 'Connection has been available but unused for longer than the configured max idle time',
  error: 'An error occurred while using the connection',
  poolClosed: 'Connection pool was closed',
  lifetime: 'Connection has been open for longer than the configured max lifetime',
  yielded: 'Connection was closed so that another worker could open one to this server',
};

/** CMAP "Connection Checkout Failed Message" reasons. */
const CHECKOUT_FAILED_REASONS: Readonly<Record<string, string>> = {
  timeout: 'Wait queue timeout elapsed without a connection becoming available',
  connectionError: 'An error occurred while trying to establish a new connection',
  poolClosed: 'Connection pool was closed',
};

/** The pool options the CMAP "Pool Created Message" names, when set. */
const POOL_CREATED_OPTIONS = ['maxIdleTimeMS', 'minPoolSize', 'maxPoolSize', 'maxConnecting', 'waitQueueTimeoutMS'] as const;

/** The component whose messages an event becomes. */
export function componentOf(event: Published): LogComponent {
  switch (event.type) {
    case 'CommandStarted':
    case 'CommandSucceeded':
    case 'CommandFailed':
      return 'command';
    case 'ServerOpening':
    case 'ServerClosed':
    case 'ServerDescriptionChanged':
    case 'TopologyOpening':
    case 'TopologyClosed':
    case 'TopologyDescriptionChanged':
    case 'ServerHeartbeatStarted':
    case 'ServerHeartbeatSucceeded':
    case 'ServerHeartbeatFailed':
      return 'topology';
    default:
      return 'connection';
  }
}

/**
 * The structured message of an event, or undefined for an event the specs
 * log nothing for (ServerDescriptionChanged). Every such message is at
 * debug level.
 */
export function messageOf(event: Published, maxDocumentLength: number, topologyId?: number): MessageFields | undefined {
  const worker = event.workerId === undefined ? {} : { workerId: event.workerId };
  switch (event.type) {
    case 'CommandStarted':
    case 'CommandSucceeded':
    case 'CommandFailed': {
      const common: Document = {
        commandName: event.commandName,
        databaseName: event.databaseName,
        requestId: event.requestId,
        driverConnectionId: event.connectionId,
        ...hostAndPort(event.address),
      };
      if (event.serverConnectionId !== undefined) common.serverConnectionId = event.serverConnectionId;
      if (event.serviceId !== undefined && event.serviceId !== null) common.serviceId = serviceIdText(event.serviceId);
      if (event.type === 'CommandStarted') return { message: 'Command started', ...common, command: truncatedJson(event.command, maxDocumentLength), ...worker };
      if (event.type === 'CommandSucceeded') {
        return { message: 'Command succeeded', ...common, durationMS: event.duration, reply: truncatedJson(event.reply, maxDocumentLength), ...worker };
      }
      // Command logging spec: a security-sensitive command's failure from the server is redacted; a network error is not.
      const redacted = isSensitiveCommandName(event.commandName) && (event.failure as { serverCode?: unknown }).serverCode !== undefined;
      return { message: 'Command failed', ...common, durationMS: event.duration, failure: redacted ? {} : errorFields(event.failure), ...worker };
    }
    case 'ConnectionPoolCreated': {
      const options: Document = {};
      for (const name of POOL_CREATED_OPTIONS) {
        const value = (event.options as Record<string, unknown>)[name];
        if (value !== undefined) options[name] = value;
      }
      return { message: 'Connection pool created', ...hostAndPort(event.address), ...options, ...worker };
    }
    case 'ConnectionPoolReady':
      return { message: 'Connection pool ready', ...hostAndPort(event.address), ...worker };
    case 'ConnectionPoolCleared':
      return { message: 'Connection pool cleared', ...hostAndPort(event.address), ...worker };
    case 'ConnectionPoolClosed':
      return { message: 'Connection pool closed', ...hostAndPort(event.address), ...worker };
    case 'ConnectionCreated':
      return { message: 'Connection created', ...hostAndPort(event.address), driverConnectionId: event.connectionId, ...worker };
    case 'ConnectionReady':
      return { message: 'Connection ready', ...hostAndPort(event.address), driverConnectionId: event.connectionId, durationMS: event.durationMS, ...worker };
    case 'ConnectionClosed': {
      const error = (event as { error?: unknown }).error;
      return {
        message: 'Connection closed',
        ...hostAndPort(event.address),
        driverConnectionId: event.connectionId,
        reason: CLOSED_REASONS[event.reason] ?? `Unknown close reason: ${event.reason}`,
        ...(event.reason === 'error' && error !== undefined ? { error: errorFields(error) } : {}),
        ...worker,
      };
    }
    case 'ConnectionCheckOutStarted':
      return { message: 'Connection checkout started', ...hostAndPort(event.address), ...worker };
    case 'ConnectionCheckOutFailed': {
      const error = (event as { error?: unknown }).error;
      return {
        message: 'Connection checkout failed',
        ...hostAndPort(event.address),
        reason: CHECKOUT_FAILED_REASONS[event.reason] ?? `Unknown checkout failure reason: ${event.reason}`,
        ...(event.reason === 'connectionError' && error !== undefined ? { error: errorFields(error) } : {}),
        durationMS: event.durationMS,
        ...worker,
      };
    }
    case 'ConnectionCheckedOut':
      return { message: 'Connection checked out', ...hostAndPort(event.address), driverConnectionId: event.connectionId, durationMS: event.durationMS, ...worker };
    case 'ConnectionCheckedIn':
      return { message: 'Connection checked in', ...hostAndPort(event.address), driverConnectionId: event.connectionId, ...worker };
    case 'TopologyOpening':
      return { message: 'Starting topology monitoring', topologyId: event.topologyId };
    case 'TopologyClosed':
      return { message: 'Stopped topology monitoring', topologyId: event.topologyId };
    case 'ServerOpening':
      return { message: 'Starting server monitoring', topologyId: event.topologyId, ...hostAndPort(event.address) };
    case 'ServerClosed':
      return { message: 'Stopped server monitoring', topologyId: event.topologyId, ...hostAndPort(event.address) };
    case 'TopologyDescriptionChanged':
      return {
        message: 'Topology description changed',
        topologyId: event.topologyId,
        previousDescription: truncatedJson(describeTopology(event.previousDescription), maxDocumentLength),
        newDescription: truncatedJson(describeTopology(event.newDescription), maxDocumentLength),
      };
    case 'ServerHeartbeatStarted':
    case 'ServerHeartbeatSucceeded':
    case 'ServerHeartbeatFailed': {
      // Heartbeat events name their server by address (connectionId), which also stands for the
      // monitoring connection's driverConnectionId (as in the official Node driver); their
      // topologyId is the dial's, learnt from its other topology events (`topologyId`).
      const id = (event as { topologyId?: number }).topologyId ?? topologyId;
      const common: Document = {
        ...(id !== undefined ? { topologyId: id } : {}),
        ...hostAndPort(event.connectionId),
        driverConnectionId: event.connectionId,
        awaited: event.awaited,
      };
      if (event.type === 'ServerHeartbeatStarted') return { message: 'Server heartbeat started', ...common };
      if (event.type === 'ServerHeartbeatSucceeded') {
        const serverConnectionId = event.reply.connectionId;
        return {
          message: 'Server heartbeat succeeded',
          ...common,
          ...(typeof serverConnectionId === 'number' ? { serverConnectionId } : {}),
          durationMS: event.duration,
          reply: truncatedJson(event.reply, maxDocumentLength),
        };
      }
      return { message: 'Server heartbeat failed', ...common, durationMS: event.duration, failure: errorFields(event.failure) };
    }
    case 'ServerDescriptionChanged':
      return undefined;
  }
}

function serviceIdText(serviceId: unknown): string {
  const hex = (serviceId as { toHexString?: () => string }).toHexString;
  return typeof hex === 'function' ? hex.call(serviceId) : String(serviceId);
}

/** A server selection record (src/cluster/selection-log.ts) as its message: documents as extended JSON, the address as serverHost/serverPort. */
export function selectionMessageOf(record: SelectionLogRecord, maxDocumentLength: number, workerId?: number): MessageFields {
  const { message, severity: _severity, operation, operationId, selector, topologyDescription, address, failure, remainingTimeMS } = record;
  return {
    message,
    selector: truncatedJson(selector, maxDocumentLength),
    operation,
    operationId,
    topologyDescription: truncatedJson(topologyDescription, maxDocumentLength),
    ...(address !== undefined ? hostAndPort(address) : {}),
    ...(failure !== undefined ? { failure } : {}),
    ...(remainingTimeMS !== undefined ? { remainingTimeMS } : {}),
    ...(workerId !== undefined ? { workerId } : {}),
  };
}
