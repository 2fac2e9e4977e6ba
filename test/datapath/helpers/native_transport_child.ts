/**
 * Child process of test/datapath/native_transport.test.ts: runs one scenario of the userspace
 * data path's socket I/O through the public engine and prints its result as one JSON line on
 * stdout. Scenarios (argv[2]):
 * - `backlog <source> <destination> <port>`: a burst of protected datagrams and IKE messages
 *   on an encapsulation socket whose send buffer is tiny (run in a namespace whose link is rate
 *   limited), then a second burst with the socket closed while a backlog waits.
 * - `unreachable`: one sendmmsg run with an entry whose destination has no route (run in a
 *   namespace with only `lo`): only that send fails.
 * - `throwing-receiver`: a 'message' listener throws on the 3rd of 10 datagrams of one batch;
 *   every delivery is written to stdout synchronously, then the process dies of the error.
 * - `round-trip`: one protected datagram over loopback and the transport kind.
 * - `receive <address> <port> <idleMs>`: a plain dgram receiver of ESP-in-UDP (prints `ready`,
 *   then, once idle, the ESP sequence numbers and IKE indexes it saw, in order).
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { writeSync } from 'node:fs';
import { addNonEspMarker, UserspaceEngine } from '../../../src/datapath/mod.ts';
import { libc } from '../../../src/sys/mod.ts';

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const KEY = Uint8Array.from({ length: 20 }, (_, i) => i + 1);

function print(value: unknown): void {
  writeSync(1, `${JSON.stringify(value)}\n`);
}

async function engineSa(source: string, destination: string, remotePort: number, spi = 0x1000) {
  const engine = new UserspaceEngine();
  const encap = await engine.openEncapSocket({ port: 0, family: 'IPv4', keepaliveIntervalMs: 0 });
  const sa = engine.createSa({
    spi,
    sourceAddress: source,
    destinationAddress: destination,
    family: 'IPv4',
    aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvLengthBits: 128 },
    encapSocket: encap,
    remotePort: remotePort === 0 ? encap.port : remotePort,
    replayWindowSize: 64,
    esn: false,
  });
  return { engine, encap, sa };
}

function transportKind(encap: { fd: number; txRing: unknown }) {
  return { fd: encap.fd, ring: encap.txRing !== undefined };
}

/** Settles every promise; tallies outcomes by error code (`ok` for success). */
async function tally(promises: Promise<void>[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await Promise.allSettled(promises)) {
    const key =
      r.status === 'fulfilled' ? 'ok' : String((r.reason as { code?: unknown }).code ?? 'none');
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function backlog(source: string, destination: string, port: number): Promise<void> {
  const { engine, encap, sa } = await engineSa(source, destination, port);
  const kind = transportKind(encap);
  if (encap.fd >= 0) {
    // The smallest send buffer the kernel allows: EAGAIN after a few datagrams.
    const value = new Uint8Array(4);
    new DataView(value.buffer).setInt32(0, 1, true);
    if (libc().setsockopt(encap.fd, SOL_SOCKET, SO_SNDBUF, value, 4) !== 0) {
      throw new Error('setsockopt SO_SNDBUF failed');
    }
  }
  const a = engine.createProtectedSocket('udp4');
  await a.bind(0, source);
  engine.applyToSocket(a, 'out', sa);
  const burst = (first: number, count: number) => {
    const esp: Promise<void>[] = [];
    const ike: Promise<void>[] = [];
    for (let i = first; i < first + count; i++) {
      esp.push(a.send(Buffer.from(`esp ${i}`), 4500, destination));
      if (i % 100 === 0) {
        ike.push(encap.sendIke(addNonEspMarker(Buffer.from(`ike ${i}`)), port, destination));
      }
    }
    return { esp, ike };
  };
  const one = burst(0, 4400);
  const [esp1, ike1] = await Promise.all([tally(one.esp), tally(one.ike)]);
  const first = { esp: esp1, ike: ike1 };
  const afterFirst = engine.statistics.snapshot();
  // Second burst: let the first flush queue them (microtask), then close with a backlog.
  const two = burst(4400, 600);
  await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  const closing = engine.closeEncapSocket(encap);
  const [esp2, ike2] = await Promise.all([tally(two.esp), tally(two.ike)]);
  const second = { esp: esp2, ike: ike2 };
  await closing;
  await engine.close();
  print({
    kind,
    first,
    second,
    txDropErrorFirst: afterFirst['tx.drop.error'],
    txEspFirst: afterFirst['tx.esp'],
    txIkeFirst: afterFirst['tx.ike'],
  });
}

async function unreachable(): Promise<void> {
  const receiver = createSocket('udp4');
  const esp: number[] = [];
  receiver.on('message', (msg: Buffer) => esp.push(msg.readUInt32BE(4)));
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  const port = receiver.address().port;
  const { engine, encap, sa } = await engineSa('127.0.0.1', '127.0.0.1', port, 0x2000);
  const kind = transportKind(encap);
  const lost = engine.createSa({
    spi: 0x2001,
    sourceAddress: '127.0.0.1',
    destinationAddress: '10.203.0.9',
    family: 'IPv4',
    aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvLengthBits: 128 },
    encapSocket: encap,
    remotePort: 4500,
    replayWindowSize: 64,
    esn: false,
  });
  const a = engine.createProtectedSocket('udp4');
  const b = engine.createProtectedSocket('udp4');
  await a.bind(0, '127.0.0.1');
  await b.bind(0, '127.0.0.1');
  engine.applyToSocket(a, 'out', sa);
  engine.applyToSocket(b, 'out', lost);
  const sends: Promise<void>[] = [];
  // One synchronous run: one flush, one sendmmsg run on one descriptor, the 4th entry unroutable.
  for (let i = 0; i < 3; i++) sends.push(a.send(Buffer.from(`a${i}`), 9, '127.0.0.1'));
  sends.push(b.send(Buffer.from('b'), 9, '10.203.0.9'));
  for (let i = 3; i < 6; i++) sends.push(a.send(Buffer.from(`a${i}`), 9, '127.0.0.1'));
  const outcomes = (await Promise.allSettled(sends)).map((r) =>
    r.status === 'fulfilled' ? 'ok' : String((r.reason as { code?: unknown }).code),
  );
  const deadline = Date.now() + 5000;
  while (esp.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  const stats = engine.statistics.snapshot();
  await engine.close();
  receiver.close();
  print({
    kind,
    outcomes,
    esp,
    txEsp: stats['tx.esp'],
    txDropError: stats['tx.drop.error'],
  });
}

async function throwingReceiver(): Promise<void> {
  const { engine, encap, sa } = await engineSa('127.0.0.1', '127.0.0.1', 0, 0x3000);
  const a = engine.createProtectedSocket('udp4');
  const b = engine.createProtectedSocket('udp4');
  await a.bind(0, '127.0.0.1');
  const { port } = await b.bind(0, '127.0.0.1');
  engine.applyToSocket(a, 'out', sa);
  engine.applyToSocket(b, 'in', sa);
  print({ kind: transportKind(encap) });
  b.on('message', (msg: Buffer) => {
    writeSync(1, `got ${msg.toString()}\n`);
    if (msg.toString() === 'm2') throw new Error('boom from a message listener');
  });
  // One synchronous run: one sendmmsg, all ten queued before the receive batch runs.
  for (let i = 0; i < 10; i++) void a.send(Buffer.from(`m${i}`), port, '127.0.0.1');
  // Kept alive until the error kills the process (bounded: the parent kills it otherwise).
  setTimeout(() => undefined, 10_000);
}

async function roundTrip(): Promise<void> {
  const { engine, encap, sa } = await engineSa('127.0.0.1', '127.0.0.1', 0, 0x4000);
  const kind = transportKind(encap);
  const a = engine.createProtectedSocket('udp4');
  const b = engine.createProtectedSocket('udp4');
  await a.bind(0, '127.0.0.1');
  const { port } = await b.bind(0, '127.0.0.1');
  engine.applyToSocket(a, 'out', sa);
  engine.applyToSocket(b, 'in', sa);
  const got = new Promise<Buffer>((r) => b.once('message', (msg: Buffer) => r(msg)));
  await a.send(Buffer.from('round trip'), port, '127.0.0.1');
  const msg = await got;
  const stats = engine.statistics.snapshot();
  await engine.close();
  print({
    kind,
    message: msg.toString(),
    txEsp: stats['tx.esp'],
    rxEsp: stats['rx.esp'],
  });
}

async function receive(address: string, port: number, idleMs: number): Promise<void> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  const esp: number[] = [];
  const ike: number[] = [];
  let last = Date.now();
  socket.on('message', (msg: Buffer) => {
    last = Date.now();
    if (msg.length >= 4 && msg.readUInt32BE(0) === 0) {
      ike.push(Number(msg.subarray(4).toString().split(' ')[1]));
    } else if (msg.length >= 8) {
      esp.push(msg.readUInt32BE(4));
    }
  });
  socket.bind(port, address);
  await once(socket, 'listening');
  writeSync(1, 'ready\n');
  const started = Date.now();
  while (Date.now() - last < idleMs || (esp.length === 0 && Date.now() - started < 60_000)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  socket.close();
  print({ esp, ike });
}

const [mode, ...args] = process.argv.slice(2);
switch (mode) {
  case 'backlog':
    await backlog(args[0] as string, args[1] as string, Number(args[2]));
    break;
  case 'unreachable':
    await unreachable();
    break;
  case 'throwing-receiver':
    await throwingReceiver();
    break;
  case 'round-trip':
    await roundTrip();
    break;
  case 'receive':
    await receive(args[0] as string, Number(args[1]), Number(args[2]));
    break;
  default:
    throw new Error(`unknown scenario ${String(mode)}`);
}
