// The command events each worker started and has not finished yet, as the
// main thread received them (WorkerRouter.workerEvent). A worker that dies
// between a CommandStarted and its outcome never sends the outcome: the
// main thread then publishes the CommandFailed itself, with the error its
// operation gets (command-logging-and-monitoring spec: every started event
// is followed by a succeeded or a failed one with its requestId, which is
// how a listener pairs them). Kept only while command events flow: nothing
// is noted when nobody listens, since no event crosses then.
import type { CommandFailedEvent } from '../connection/command-events.js';
import type { WorkerEvent } from './protocol.js';

interface Open {
  readonly event: Omit<CommandFailedEvent, 'type' | 'duration' | 'failure'>;
  /** When the started event arrived here (main thread clock): the failed event's duration counts from it. */
  readonly at: number;
}

export class OpenCommands {
  /** workerId -> requestId -> the started command. */
  readonly #open = new Map<number, Map<number, Open>>();

  /** Follows one event of worker `workerId`. */
  note(workerId: number, event: WorkerEvent): void {
    if (event.type === 'CommandStarted') {
      let open = this.#open.get(workerId);
      if (open === undefined) this.#open.set(workerId, (open = new Map()));
      const { type: _type, command: _command, ...fields } = event;
      open.set(event.requestId, { event: fields, at: performance.now() });
    } else if (event.type === 'CommandSucceeded' || event.type === 'CommandFailed') {
      this.#open.get(workerId)?.delete(event.requestId);
    }
  }

  /** Worker `workerId` is gone: a failed event for each command it started and did not finish. */
  lost(workerId: number, failure: Error): CommandFailedEvent[] {
    const open = this.#open.get(workerId);
    this.#open.delete(workerId);
    if (open === undefined) return [];
    const now = performance.now();
    return [...open.values()].map(({ event, at }) => ({ type: 'CommandFailed', ...event, duration: now - at, failure }));
  }

  /** Command events stopped crossing (nobody listens): outcomes of the commands noted will not come. */
  clear(): void {
    this.#open.clear();
  }
}
