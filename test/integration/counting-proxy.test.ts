// The counting proxy of test/fixtures/counting-proxy.ts, which the fault and
// worker tests use as the server-side count of sockets: it must count every
// socket from accept to FIN or RST, pass bytes both ways, and take its
// maximum after each event-loop turn of its thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startCountingProxy, type CountingProxy } from '../fixtures/counting-proxy.js';
import { waitFor } from '../fixtures/wait.js';

let echo: net.Server;
let proxy: CountingProxy;

before(async () => {
  echo = net.createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen({ host: '127.0.0.1', port: 0 }, resolve));
  proxy = await startCountingProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
});

after(async () => {
  await proxy?.close();
  await new Promise((resolve) => echo?.close(resolve));
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (chunk) => resolve(chunk.toString()));
    socket.write(text);
  });
}

test('counts each socket from accept to FIN or RST, its maximum per turn, and passes bytes both ways', async () => {
  const sockets = await Promise.all([connect(), connect(), connect()]);
  await waitFor('three accepted', () => proxy.open() === 3, 10_000);
  assert.equal(await roundTrip(sockets[0]!, 'ping'), 'ping');

  sockets[0]!.end(); // FIN
  sockets[1]!.resetAndDestroy(); // RST
  await waitFor('two ended', () => proxy.open() === 1, 10_000);
  await waitFor('the most open at once taken', () => proxy.maxOpen() === 3, 10_000);
  assert.equal(proxy.accepted(), 3);

  proxy.resetMaxOpen();
  assert.equal(proxy.maxOpen(), 1);
  // One closed, then one dialed: never two open at once.
  sockets[2]!.end();
  await waitFor('the last ended', () => proxy.open() === 0, 10_000);
  const next = await connect();
  await waitFor('the next accepted', () => proxy.open() === 1, 10_000);
  assert.equal(proxy.maxOpen(), 1);
  next.destroy();
  await waitFor('all ended', () => proxy.open() === 0, 10_000);
});
