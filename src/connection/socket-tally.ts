// The client side's exact count of a server's pool sockets: a socket counts
// from the moment it is created (before its connect) until its 'close' event,
// i.e. until its file descriptor has been closed and the FIN or RST is on its
// way. This is what the server can see at most (plus the monitor's sockets,
// which are not counted here), and since a permit is released only after
// that 'close' (src/pool/pool.ts, #close), `open` can never exceed the
// connection limit: the tally is how tests and stats() prove it, from the
// side that decides.
//
// In worker mode every worker counts into the same SharedArrayBuffer slot
// (src/coordinator/slot.ts), so `maxOpen` is the most open at once across
// all workers; with `workers: 0` the count is this thread's.

/** One server's pool sockets, as stats() reports them (ServerStats.sockets). */
export interface SocketCounts {
  /** Sockets created and not yet closed (connecting, handshaking, in use, idle, closing). */
  open: number;
  /** The most that were open at once. */
  maxOpen: number;
  /** Sockets created in all; those closed are `opened - open`. */
  opened: number;
}

export interface SocketTally {
  /** A socket was created. */
  opened(): void;
  /** A socket's 'close' event ran. Once per opened(). */
  closed(): void;
  counts(): SocketCounts;
}

/** The tally of one thread (`workers: 0`). */
export class LocalSocketTally implements SocketTally {
  #open = 0;
  #maxOpen = 0;
  #opened = 0;

  opened(): void {
    this.#opened++;
    if (++this.#open > this.#maxOpen) this.#maxOpen = this.#open;
  }

  closed(): void {
    this.#open--;
  }

  counts(): SocketCounts {
    return { open: this.#open, maxOpen: this.#maxOpen, opened: this.#opened };
  }
}
