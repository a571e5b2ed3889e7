// Splits a TCP byte stream into whole wire-protocol frames, whatever the
// chunking: a frame split over many chunks, or many frames in one chunk.
//
// The length prefix comes from the peer and is untrusted: it is checked
// against [minimum frame size, maxMessageSizeBytes] before anything else, and
// a frame buffer is only allocated once all of its bytes have arrived, so a
// hostile length can never make us allocate memory the peer did not send.
import { HEADER_SIZE } from './constants.js';
import { DecodeError } from './decode-error.js';

/** The smallest frame any opcode we accept can have (OP_MSG with an empty body is 26). */
const MIN_FRAME_SIZE = HEADER_SIZE + 5;

export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(public maxMessageSizeBytes: number) {}

  /** Bytes received that are not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Adds a chunk and returns the frames it completed. Throws DecodeError on
   * an invalid length prefix; the reader is then unusable (the connection
   * must close, since the stream can no longer be resynchronised).
   */
  push(chunk: Buffer): Buffer[] {
    if (chunk.byteLength === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const length = this.peekLength();
      if (length < MIN_FRAME_SIZE) {
        throw new DecodeError('ERR_PROTOCOL', `invalid message length ${length} (minimum is ${MIN_FRAME_SIZE})`);
      }
      if (length > this.maxMessageSizeBytes) {
        throw new DecodeError(
          'ERR_PROTOCOL',
          `invalid message length ${length} (over maxMessageSizeBytes ${this.maxMessageSizeBytes})`,
        );
      }
      if (this.buffered < length) break;
      frames.push(this.take(length));
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.byteLength >= 4) return first.readInt32LE(0);
    // The prefix itself is split across chunks (possible with 1-byte reads).
    const prefix = Buffer.alloc(4);
    let copied = 0;
    for (const chunk of this.chunks) {
      copied += chunk.copy(prefix, copied, 0, Math.min(chunk.byteLength, 4 - copied));
      if (copied === 4) break;
    }
    return prefix.readInt32LE(0);
  }

  private take(length: number): Buffer {
    this.buffered -= length;
    const first = this.chunks[0]!;
    if (first.byteLength >= length) {
      // Common case: the whole frame sits in one chunk; a view, no copy.
      if (first.byteLength === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
      return first.subarray(0, length);
    }
    const frame = Buffer.allocUnsafe(length);
    let copied = 0;
    while (copied < length) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.byteLength, length - copied);
      chunk.copy(frame, copied, 0, n);
      copied += n;
      if (n === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
    }
    return frame;
  }
}
