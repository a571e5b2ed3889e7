// A FIFO queue with O(1) removal from the middle.
//
// Both the pool's checkout waiters and the local permit waiters need three
// things a plain array does not give cheaply: take the oldest entry (CMAP
// "WaitQueue: Ordered/fair"), drop an arbitrary entry when its caller times
// out or aborts (CMAP "Timeout aggressively: ... MUST leave the WaitQueue
// immediately"), and never reorder the survivors. A doubly linked list whose
// nodes are handed back to the caller as removal handles does all three.

/** Handle returned by push(); pass it to remove(). */
export interface WaitQueueNode<T> {
  readonly value: T;
}

class Node<T> implements WaitQueueNode<T> {
  prev: Node<T> | undefined = undefined;
  next: Node<T> | undefined = undefined;
  /** Cleared when the node leaves its queue, so a second remove() is a no-op. */
  linked = true;
  constructor(readonly value: T) {}
}

export class WaitQueue<T> implements Iterable<T> {
  #head: Node<T> | undefined = undefined;
  #tail: Node<T> | undefined = undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends at the tail (the newest position). */
  push(value: T): WaitQueueNode<T> {
    const node = new Node(value);
    if (this.#tail === undefined) {
      this.#head = node;
    } else {
      node.prev = this.#tail;
      this.#tail.next = node;
    }
    this.#tail = node;
    this.#size++;
    return node;
  }

  /** The oldest value, left in place. */
  peek(): T | undefined {
    return this.#head?.value;
  }

  /** Removes and returns the oldest value. */
  shift(): T | undefined {
    const node = this.#head;
    if (node === undefined) return undefined;
    this.#unlink(node);
    return node.value;
  }

  /** Removes a node wherever it is; false when it already left the queue. */
  remove(handle: WaitQueueNode<T>): boolean {
    const node = handle as Node<T>;
    if (!node.linked) return false;
    this.#unlink(node);
    return true;
  }

  /** Empties the queue and returns its values oldest first. */
  drain(): T[] {
    const values: T[] = [];
    for (let node = this.#head; node !== undefined; node = this.#head) {
      this.#unlink(node);
      values.push(node.value);
    }
    return values;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let node = this.#head; node !== undefined; node = node.next) yield node.value;
  }

  #unlink(node: Node<T>): void {
    if (node.prev === undefined) this.#head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.#tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = undefined;
    node.linked = false;
    this.#size--;
  }
}
