// The compressing proxy (test/fixtures/compressing-proxy.ts) as a child
// process (child-server.ts), so that its decompressing and compressing do
// not run on the measured main thread:
//   node --import tsx compressing-proxy-child.ts HOST PORT
// Its hello replies advertise snappy, zlib and zstd.
import { startCompressingProxy } from '../../test/fixtures/compressing-proxy.js';

const [host, port] = process.argv.slice(2);
const proxy = await startCompressingProxy({ host: host!, port: Number(port) }, ['snappy', 'zlib', 'zstd']);
process.send?.({ port: proxy.port });
process.on('disconnect', () => process.exit(0));
