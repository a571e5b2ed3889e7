// The one error the wire decoders throw: received bytes that are not a valid
// message. The connection turns it into a NetworkError with the same code and
// closes, since the byte stream can no longer be trusted.

export class DecodeError extends Error {
  constructor(
    readonly reason: 'ERR_PROTOCOL' | 'ERR_COMPRESSION_UNSUPPORTED',
    message: string,
  ) {
    super(message);
  }
}
