// A reserved socket shared by a session and its clones (mgo's Clone()
// reuses its parent's socket). Reference-counted: the router gets it back
// when the last sharer lets go, or at once when it died, since no sharer can
// use a dead socket.
import type { Reservation, Router } from '../router/router.js';
import { countSocketRefs } from './stats.js';

export class SharedReservation {
  #sharers = 1;
  readonly #router: Router;

  constructor(
    router: Router,
    readonly reservation: Reservation,
  ) {
    this.#router = router;
    countSocketRefs(1);
  }

  get address(): string {
    return this.reservation.address;
  }

  get writable(): boolean {
    return this.reservation.writable;
  }

  get dead(): boolean {
    return this.reservation.dead;
  }

  /** One more sharer (a clone). */
  retain(): this {
    this.#sharers++;
    countSocketRefs(1);
    return this;
  }

  /** One sharer lets go. */
  release(): void {
    if (this.#sharers === 0) return;
    this.#sharers--;
    countSocketRefs(-1);
    // Router.release is idempotent: every sharer of a dead socket may call it.
    if (this.#sharers === 0 || this.reservation.dead) this.#router.release(this.reservation);
  }
}
