// Wire compression (compression spec, source/compression/OP_COMPRESSED.md):
// the compressors, loading their implementations, and OP_COMPRESSED framing
// both ways.
//
//   header (16, opCode 2012) | originalOpcode int32 | uncompressedSize int32
//   | compressorId uint8 | the original message without its header, compressed
//
// Every implementation used is synchronous: a connection encodes and writes
// its messages in order from one synchronous path, and in worker mode this
// runs in the worker that owns the socket. zstd comes from node:zlib where
// Node has it (22.15+), else from the optional zstd-napi package; snappy from
// the optional snappy package (napi-rs), the official driver's. Both chosen
// by measurement (bench/compressors.ts, Node 20, tweet-shaped documents of
// 1 KB to 5.5 MB): zstd-napi compressed and decompressed 2-3x faster than the
// wasm builds (one of which failed at 5.5 MB), and is the only native zstd
// that installs from the npm registry alone (@mongodb-js/zstd, the official
// driver's, downloads its binary from GitHub, and is async-only); snappy beat
// a wasm build (hysnappy) 1.3-2x and pure JS (snappyjs) 3-9x.
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { HEADER_SIZE, MIN_OP_COMPRESSED_SIZE, OpCode } from './constants.js';
import { DecodeError } from './decode-error.js';

export type CompressorName = 'snappy' | 'zlib' | 'zstd';

/** Compression spec, "Compressor IDs" (4-255 are reserved). */
export const COMPRESSOR_IDS: Readonly<Record<CompressorName | 'noop', number>> = Object.freeze({ noop: 0, snappy: 1, zlib: 2, zstd: 3 });

const NAMES_BY_ID: readonly string[] = ['noop', 'snappy', 'zlib', 'zstd'];

/** A compressor's name for messages: "zstd", or "unknown (9)" for a reserved id. */
export function compressorName(id: number): string {
  return NAMES_BY_ID[id] ?? `unknown (${id})`;
}

/**
 * Compression spec, "Messages not allowed to be compressed": the handshake
 * (hello and legacy hello in both spellings) and the authentication and
 * user-management commands, against compression side-channel attacks.
 */
const EXEMPT_COMMANDS: ReadonlySet<string> = new Set([
  'hello',
  'isMaster',
  'ismaster',
  'saslStart',
  'saslContinue',
  'getnonce',
  'authenticate',
  'createUser',
  'updateUser',
  'copydbSaslStart',
  'copydbgetnonce',
  'copydb',
]);

/** True for a command (its name: the body's first key) that must always go uncompressed. */
export function isExemptFromCompression(commandName: string): boolean {
  return EXEMPT_COMMANDS.has(commandName);
}

/**
 * The compressor a connection uses after its handshake: the first of the
 * client's list that the server's hello reply lists in `compression`
 * (compression spec: "MUST use the first compressor in the client's
 * configured compressors list that is also in the servers list"); undefined
 * when there is none, which is not an error.
 */
export function negotiateCompressor(offered: readonly CompressorName[], serverList: unknown): CompressorName | undefined {
  if (!Array.isArray(serverList)) return undefined;
  return offered.find((name) => serverList.includes(name));
}

/** One compressor's implementation. */
interface Codec {
  compress(data: Uint8Array, zlibLevel: number): Uint8Array;
  /** Exactly `size` bytes; throws on corrupt data or any other size (never allocating more than `size`). */
  decompress(data: Uint8Array, size: number): Buffer;
}

/** Our own view of the parts of zstd-napi's low-level binding we call (the package is optional, so are its types). */
interface ZstdNapiBinding {
  compressBound(size: number): number;
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
}

interface SnappyModule {
  compressSync(data: Uint8Array, options: { copyOutputData: true }): Buffer;
  uncompressSync(data: Uint8Array, options: { asBuffer: true; copyOutputData: true }): Buffer;
}

interface NodeZstd {
  zstdCompressSync(data: Uint8Array): Buffer;
  zstdDecompressSync(data: Uint8Array, options: { maxOutputLength: number }): Buffer;
}

/** zstd's own default level, and the official driver's. */
const ZSTD_LEVEL = 3;

const requireOptional = createRequire(import.meta.url);

function checkSize(actual: number, size: number): void {
  if (actual !== size) throw new Error(`decompressed to ${actual} bytes`);
}

/** zlib's convenience functions take maxOutputLength >= 1: an empty message still gets a bound. */
const outputBound = (size: number) => Math.max(size, 1);

const zlibCodec: Codec = {
  compress: (data, level) => zlib.deflateSync(data, { level }),
  decompress(data, size) {
    const out = zlib.inflateSync(data, { maxOutputLength: outputBound(size) });
    checkSize(out.byteLength, size);
    return out;
  },
};

function loadZstd(): Codec {
  const nodeZstd = zlib as unknown as Partial<NodeZstd>;
  if (typeof nodeZstd.zstdCompressSync === 'function' && typeof nodeZstd.zstdDecompressSync === 'function') {
    const { zstdCompressSync, zstdDecompressSync } = nodeZstd as NodeZstd;
    return {
      compress: (data) => zstdCompressSync(data), // level 3 is Node's default too
      decompress(data, size) {
        const out = zstdDecompressSync(data, { maxOutputLength: outputBound(size) });
        checkSize(out.byteLength, size);
        return out;
      },
    };
  }
  const binding = requireOptional('zstd-napi/binding') as ZstdNapiBinding;
  // One context each per thread, reused: a new one per message cost a 1 KB
  // command about half its compression speed (bench/compressors.ts).
  const cctx = new binding.CCtx();
  const dctx = new binding.DCtx();
  return {
    compress(data) {
      const out = Buffer.allocUnsafe(binding.compressBound(data.byteLength));
      return out.subarray(0, cctx.compress(out, data, ZSTD_LEVEL));
    },
    decompress(data, size) {
      // Into a buffer of exactly the announced size: zstd fails ("destination
      // buffer is too small") rather than write more.
      const out = Buffer.allocUnsafe(size);
      checkSize(dctx.decompress(out, data), size);
      return out;
    },
  };
}

/** The uncompressed length a raw snappy block starts with (a varint), read before snappy allocates that much. */
function snappyLength(data: Uint8Array): number {
  let length = 0;
  for (let i = 0; i < 5 && i < data.byteLength; i++) {
    length += (data[i]! & 0x7f) * 2 ** (7 * i);
    if ((data[i]! & 0x80) === 0) return length;
  }
  return -1;
}

function loadSnappy(): Codec {
  const snappy = requireOptional('snappy') as SnappyModule;
  // copyOutputData: its default output, a buffer external to V8's heap, made
  // compression and decompression several times slower (bench/compressors.ts).
  return {
    compress: (data) => snappy.compressSync(data, { copyOutputData: true }),
    decompress(data, size) {
      const announced = snappyLength(data);
      if (announced !== size) throw new Error(announced < 0 ? 'invalid snappy length prefix' : `snappy data announces ${announced} bytes`);
      const out = snappy.uncompressSync(data, { asBuffer: true, copyOutputData: true });
      checkSize(out.byteLength, size);
      return out;
    },
  };
}

const LOADERS: Readonly<Record<CompressorName, () => Codec>> = { zlib: () => zlibCodec, zstd: loadZstd, snappy: loadSnappy };

/**
 * Loads implementations once per thread and remembers what failed, and
 * drops a requested compressor that cannot be loaded with one warning per
 * compressor (compression spec: unusable compressors "MUST yield a warning"
 * and are left out of the handshake). The loaders are a parameter for tests.
 */
export class CompressorSet {
  private readonly codecs = new Map<CompressorName, Codec | Error>();
  private readonly warned = new Set<CompressorName>();

  constructor(
    private readonly loaders: Readonly<Record<CompressorName, () => Codec>> = LOADERS,
    private readonly warn: (message: string) => void = (message) => process.emitWarning(message, { type: 'MgoThreadsWarning', code: 'MGO_COMPRESSOR_UNAVAILABLE' }),
  ) {}

  /** The implementation of `name`, or why it cannot be loaded. */
  codec(name: CompressorName): Codec | Error {
    let codec = this.codecs.get(name);
    if (codec === undefined) {
      try {
        codec = this.loaders[name]();
      } catch (err) {
        codec = err instanceof Error ? err : new Error(String(err));
      }
      this.codecs.set(name, codec);
    }
    return codec;
  }

  /** The requested compressors that can be used, in the requested order; each one left out is warned about once. */
  usable(requested: readonly CompressorName[]): CompressorName[] {
    return requested.filter((name) => {
      const codec = this.codec(name);
      if (!(codec instanceof Error)) return true;
      if (!this.warned.has(name)) {
        this.warned.add(name);
        this.warn(`compressor ${name} is left out: its implementation cannot be loaded (${firstLine(codec.message)})`);
      }
      return false;
    });
  }

  /**
   * Wraps an encoded message (header included) into OP_COMPRESSED, with the
   * same requestID and responseTo. `name` must be one `usable()` kept.
   * zlibLevel: -1 (zlib's default, 6) to 9; the other compressors ignore it.
   */
  compressMessage(message: Buffer, name: CompressorName, zlibLevel = -1): Buffer {
    const codec = this.codec(name);
    if (codec instanceof Error) throw codec;
    const compressed = codec.compress(message.subarray(HEADER_SIZE), zlibLevel);
    const out = Buffer.allocUnsafe(MIN_OP_COMPRESSED_SIZE + compressed.byteLength);
    out.writeInt32LE(out.byteLength, 0);
    out.writeInt32LE(message.readInt32LE(4), 4);
    out.writeInt32LE(message.readInt32LE(8), 8);
    out.writeInt32LE(OpCode.OP_COMPRESSED, 12);
    out.writeInt32LE(message.readInt32LE(12), 16);
    out.writeInt32LE(message.byteLength - HEADER_SIZE, 20);
    out[24] = COMPRESSOR_IDS[name];
    out.set(compressed, MIN_OP_COMPRESSED_SIZE);
    return out;
  }

  /**
   * Unwraps an OP_COMPRESSED frame (its length already checked by the
   * reader): the original opcode and the original message without its
   * header. Whatever compressor the frame names is used, negotiated or not
   * (the spec: "MUST decompress the message using the compressor identified
   * in the OP_COMPRESSED opcode header"). Throws DecodeError:
   * ERR_COMPRESSION_UNSUPPORTED for a reserved id or a compressor that
   * cannot be loaded, ERR_PROTOCOL for a size over maxMessageSizeBytes,
   * corrupt data, or data that does not decompress to the announced size.
   */
  decompressMessage(frame: Buffer, maxMessageSizeBytes: number): { originalOpcode: number; message: Buffer } {
    if (frame.byteLength < MIN_OP_COMPRESSED_SIZE) throw new DecodeError('ERR_PROTOCOL', `OP_COMPRESSED message of ${frame.byteLength} bytes is too short`);
    const originalOpcode = frame.readInt32LE(16);
    const uncompressedSize = frame.readInt32LE(20);
    const id = frame[24]!;
    const data = frame.subarray(MIN_OP_COMPRESSED_SIZE);
    if (uncompressedSize < 0 || uncompressedSize + HEADER_SIZE > maxMessageSizeBytes) {
      throw new DecodeError('ERR_PROTOCOL', `OP_COMPRESSED announces ${uncompressedSize} uncompressed bytes, outside 0 to maxMessageSizeBytes (${maxMessageSizeBytes}) less the header`);
    }
    if (id === COMPRESSOR_IDS.noop) {
      if (data.byteLength !== uncompressedSize) throw new DecodeError('ERR_PROTOCOL', `noop OP_COMPRESSED announces ${uncompressedSize} bytes but carries ${data.byteLength}`);
      return { originalOpcode, message: data };
    }
    const name = NAMES_BY_ID[id] as CompressorName | undefined;
    const codec = name === undefined ? new Error('the id is reserved') : this.codec(name);
    if (codec instanceof Error) {
      throw new DecodeError('ERR_COMPRESSION_UNSUPPORTED', `OP_COMPRESSED message uses compressor ${compressorName(id)}, which this driver cannot decompress: ${firstLine(codec.message)}`);
    }
    try {
      return { originalOpcode, message: codec.decompress(data, uncompressedSize) };
    } catch (err) {
      throw new DecodeError('ERR_PROTOCOL', `OP_COMPRESSED message does not decompress with ${name} to the announced ${uncompressedSize} bytes: ${firstLine((err as Error).message)}`);
    }
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!;
}

/** The process's compressors (one set per thread: each loads its own). */
export const compressors = new CompressorSet();
