// Client metadata sent once per connection in the handshake (MongoDB
// Handshake spec, "client" field). The server logs it; it must fit in 512
// bytes, so optional parts are dropped, least useful first, when it is larger.
import { BSON, type Document } from 'bson';
import * as os from 'node:os';
import { DRIVER_NAME, DRIVER_VERSION } from '../version.js';

export const MAX_CLIENT_METADATA_BYTES = 512;

/**
 * The Function-as-a-Service platform the process runs on (handshake spec,
 * "client.env", FaaS: the name its environment variables give), or
 * undefined: none, or an ambiguous mix, which the spec counts as none.
 */
export function faasName(env: NodeJS.ProcessEnv = process.env): 'aws.lambda' | 'azure.func' | 'gcp.func' | 'vercel' | undefined {
  const found = [
    (env.AWS_EXECUTION_ENV?.startsWith('AWS_Lambda_') || Boolean(env.AWS_LAMBDA_RUNTIME_API)) && ('aws.lambda' as const),
    Boolean(env.FUNCTIONS_WORKER_RUNTIME) && ('azure.func' as const),
    Boolean(env.K_SERVICE || env.FUNCTION_NAME) && ('gcp.func' as const),
    Boolean(env.VERCEL) && ('vercel' as const),
  ].filter((name) => name !== false);
  // Vercel runs on Lambda: that pair is Vercel; any other pair is ambiguous.
  if (found.length === 2 && found.includes('vercel') && found.includes('aws.lambda')) return 'vercel';
  return found.length === 1 ? found[0] : undefined;
}

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
