// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum an
// OP_MSG carries when its checksumPresent flag is set (OP_MSG spec,
// "checksum": "crc32c message checksum", over every byte of the message
// before it, header included). Node has no CRC-32C built in; this is the
// byte-at-a-time table form, only run on messages that carry a checksum
// (MongoDB sends one only where the request had one, and this driver
// never asks), so its speed does not matter.

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/** The CRC-32C of `parts` taken back to back (a message whose header is rebuilt apart from its body). */
export function crc32c(...parts: readonly Uint8Array[]): number {
  let crc = 0xffffffff;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
