/**
 * SA scale on the userspace engine (`npm run bench -- scale`): for 1, 10,000 and 100,000
 * AES-GCM-128 SAs, each count in a fresh process,
 * - allocation time per SA (`UserspaceEngine.createSa`: validation, outbound and inbound ESP
 *   contexts, SPI reservation, table insert);
 * - memory per SA: RSS and V8 heap growth after a full GC, divided by the count;
 * - receive cost per packet at 1 and 100,000 SAs: pre-sealed ESP datagrams sent over loopback
 *   to the encapsulation socket (closed loop, window 64), opened by the engine and delivered to
 *   a protected socket; CPU µs per delivered datagram, both ends included (the sending end is a
 *   plain `dgram` socket and costs the same at every count); median of 5 rounds.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { UserspaceEngine, type UserspaceSa } from '../src/datapath/mod.ts';
import { buildUdpDatagram, EspOutboundSa, espCryptoProvider } from '../src/esp/mod.ts';

const COUNTS = [1, 10_000, 100_000];
const RECEIVE_COUNTS = new Set([1, 100_000]);
const LO = '127.0.0.1';
const LO_BYTES = Uint8Array.of(127, 0, 0, 1);
const RECEIVE_MS = Number(process.env.TSNETD_BENCH_MS ?? 1000);

interface Result {
  count: number;
  allocUs: number;
  rssBytes: number;
  heapBytes: number;
  receiveUs?: number;
}

function collect(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function child(count: number): Promise<Result> {
  const gc = collect();
  const engine = new UserspaceEngine();
  const encap = await engine.openEncapSocket({ port: 0, family: 'IPv4', keepaliveIntervalMs: 0 });
  // Warm-up: the first SA also loads the crypto provider (koffi, OpenSSL lookups).
  engine.deleteSa(
    engine.createSa({
      spi: 0x0fff,
      sourceAddress: LO,
      destinationAddress: LO,
      family: 'IPv4',
      aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 },
      encapSocket: encap,
      remotePort: encap.port,
      replayWindowSize: 4096,
      esn: false,
    }),
  );
  gc();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const keys: Uint8Array[] = [];
  const target = count >>> 1;
  let targetSa: UserspaceSa | undefined;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const key = randomBytes(20);
    if (i === target) keys.push(Uint8Array.from(key));
    const sa = engine.createSa({
      spi: 0x1000 + i,
      sourceAddress: LO,
      destinationAddress: LO,
      family: 'IPv4',
      aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 },
      encapSocket: encap,
      remotePort: encap.port,
      replayWindowSize: 4096,
      esn: false,
    });
    if (i === target) targetSa = sa;
    key.fill(0);
  }
  const allocUs = ((performance.now() - t0) * 1000) / count;
  gc();
  const rssBytes = (process.memoryUsage().rss - rss0) / count;
  const heapBytes = (process.memoryUsage().heapUsed - heap0) / count;
  const result: Result = { count, allocUs, rssBytes, heapBytes };
  if (RECEIVE_COUNTS.has(count))
    result.receiveUs = await receiveCost(engine, encap.port, targetSa!, keys[0]!);
  await engine.close();
  return result;
}

async function receiveCost(
  engine: UserspaceEngine,
  encapPort: number,
  target: UserspaceSa,
  key: Uint8Array,
): Promise<number> {
  const spi = target.spi;
  const socket = engine.createProtectedSocket('udp4');
  const { port } = await socket.bind(0, LO);
  engine.applyToSocket(socket, 'in', target);
  const sealer = new EspOutboundSa({
    spi,
    aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 },
  });
  const inner = buildUdpDatagram({
    srcAddr: LO_BYTES,
    dstAddr: LO_BYTES,
    srcPort: 9,
    dstPort: port,
    payload: randomBytes(64),
  });
  const packets: Uint8Array[] = [];
  const needed = Math.ceil((RECEIVE_MS / 1000) * 200_000) + 20_000;
  for (let i = 0; i < needed; i++) packets.push(sealer.seal(inner, 17).slice());
  sealer.dispose();
  const sender = createSocket('udp4');
  await new Promise<void>((r) => sender.bind(0, LO, r));
  let next = 0;
  let received = 0;
  const pump = (): void => {
    while (next - received < 64 && next < packets.length)
      sender.send(packets[next++]!, encapPort, LO);
  };
  socket.on('message', () => {
    received++;
    pump();
  });
  pump();
  await new Promise((r) => setTimeout(r, 100));
  const refill = setInterval(() => {
    if (next - received >= 64) received = next - 63;
    pump();
  }, 50);
  const samples: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = received;
    const cpu0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, RECEIVE_MS / 5));
    const cpu = process.cpuUsage(cpu0);
    samples.push((cpu.user + cpu.system) / Math.max(1, received - start));
  }
  clearInterval(refill);
  sender.close();
  samples.sort((a, b) => a - b);
  return samples[2]!;
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(
    `tsnetd SA scale bench — Node ${process.version}, ${cpus.length}× ${cpus[0]?.model ?? 'cpu'}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}, crypto ${espCryptoProvider()}`,
  );
  console.log('SAs       alloc µs/SA  RSS B/SA  heap B/SA  receive CPU µs/dgram (64 B)');
  for (const count of COUNTS) {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, String(count)],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 20,
      },
    );
    const line = run.stdout.trim().split('\n').pop() ?? '';
    const r = JSON.parse(line) as Result;
    console.log(
      `${String(count).padEnd(9)} ${r.allocUs.toFixed(1).padStart(11)}  ${r.rssBytes.toFixed(0).padStart(8)}  ${r.heapBytes.toFixed(0).padStart(9)}  ${r.receiveUs === undefined ? '' : r.receiveUs.toFixed(1).padStart(10)}`,
    );
  }
}

if (process.argv[2] !== undefined) {
  console.log(JSON.stringify(await child(Number(process.argv[2]))));
} else {
  await main();
}
