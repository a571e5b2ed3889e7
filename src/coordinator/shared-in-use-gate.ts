// A server's InUseGate (src/pool/in-use-gate.ts) counted in the coordinator
// buffer, so that a session's own limit (Session.setPoolLimit) holds against
// the operations of every worker: the total and each worker's share live in
// the server's slot (layout.ts: IN_USE, GATED, IN_USE_OF[w], GATED_OF[w]).
// A worker whose operations wait at a limit publishes how many (GATED_OF);
// one that uncounts an operation while any wait bumps those workers' notify
// words, and their WorkerCoordinator.wake() runs service(). The main thread
// drops a dead worker's counts (Coordinator.reclaim).
import { InUseGate } from '../pool/in-use-gate.js';
import { IN_USE } from './layout.js';
import type { SlotView } from './slot.js';

export class SharedInUseGate extends InUseGate {
  constructor(
    address: string,
    private readonly view: SlotView,
    private readonly worker: number,
  ) {
    super(address);
  }

  get inUse(): number {
    return this.view.get(IN_USE);
  }

  protected tryTake(limit: number): boolean {
    return this.view.takeInUse(this.worker, limit);
  }

  protected put(): void {
    this.view.putInUse(this.worker);
  }

  protected waitingChanged(delta: number): void {
    this.view.gatedChanged(this.worker, delta);
  }

  protected wakeWaiters(): void {
    this.service();
    this.view.wakeGated(this.worker);
  }
}
