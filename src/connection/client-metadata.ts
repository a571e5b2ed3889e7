// Client metadata sent once per connection in the handshake (MongoDB
// Handshake spec, "client" field). The server logs it; it must fit in 512
// bytes, so optional parts are dropped, least useful first, when it is larger.
import { BSON, type Document } from 'bson';
import * as os from 'node:os';
import { DRIVER_NAME, DRIVER_VERSION } from '../version.js';

export const MAX_CLIENT_METADATA_BYTES = 512;

export function clientMetadata(appName?: string): Document {
  const metadata: Document = {
    driver: { name: DRIVER_NAME, version: DRIVER_VERSION },
    os: { type: os.type(), name: process.platform, architecture: process.arch, version: os.release() },
    platform: `Node.js ${process.version}, ${os.endianness()}`,
  };
  if (appName) metadata.application = { name: appName };

  // Handshake spec, "Limitations": shrink until it fits, keeping driver and os.type.
  const shrinkSteps: ((m: Document) => void)[] = [
    (m) => (m.platform = `Node.js ${process.version}`),
    (m) => (m.os = { type: m.os.type }),
    (m) => delete m.platform,
  ];
  for (const step of shrinkSteps) {
    if (BSON.calculateObjectSize(metadata) <= MAX_CLIENT_METADATA_BYTES) break;
    step(metadata);
  }
  return metadata;
}
