/**
 * Protected UDP against plain `dgram` over loopback (`npm run bench -- ipsec`).
 *
 * Three cases, interleaved A B C A B C … for ROUNDS rounds (default 7), for 64- and 1400-byte
 * payloads and for AES-GCM-128 and ChaCha20-Poly1305:
 *   A plain: two `dgram` sockets;
 *   B lean ceiling: the same two sockets, plus the ESP engine's own `EspOutboundSa.seal()` before
 *     each send and `EspInboundSa.open()` after each receive — the crypto work every protected
 *     datagram needs and nothing else (no socket layer, no statistics, no inner UDP header);
 *   C protected: two `IpSecDatagramSocket`s of one manager with a transport-mode transform
 *     (ESP-in-UDP through an encapsulation socket). With the native transport (the default with
 *     the openssl-native provider on Linux) the encapsulation socket reads with `recvmmsg` and
 *     writes with `sendmmsg` through native rings, so it can beat B and A: B and A pay one
 *     `dgram.send` and one `'message'` callback per datagram. `TSNETD_UDP_SENDMMSG=off` measures
 *     the `dgram` transport instead.
 * Each case is a closed send loop with a window of 64 datagrams: 64 are sent, and every datagram
 * received lets one more go (a refill timer restarts the loop if loopback ever drops one). Per
 * round: datagrams received per second and process CPU µs per datagram (user + system, both
 * ends). Reported: the median and the range (min–max) over the rounds, and the ratio of medians.
 *
 * Then ping-pong (one datagram in flight, echoed back): p50 and p99 round-trip time, plain and
 * protected, interleaved per round. Last, ESP seal+open µs per packet (one SA pair, 64 B).
 *
 * Environment: TSNETD_BENCH_MS (one case of one round, default 1000), TSNETD_BENCH_ROUNDS (7),
 * TSNETD_ESP_CRYPTO=node-crypto to measure the node:crypto fallback, TSNETD_UDP_SENDMMSG=off for
 * the `dgram` transport.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import os from 'node:os';
import { EspTxRing } from '../src/datapath/esp_tx_ring.ts';
import { EspInboundSa, EspOutboundSa, espCryptoProvider } from '../src/esp/mod.ts';
import {
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
} from '../src/ipsec/mod.ts';

const DURATION_MS = Number(process.env.TSNETD_BENCH_MS ?? 1000);
const ROUNDS = Math.max(5, Number(process.env.TSNETD_BENCH_ROUNDS ?? 7));
const WINDOW = 64;
const PING_COUNT = Number(process.env.TSNETD_BENCH_PINGS ?? 2000);
const LO = '127.0.0.1';
const SIZES = [64, 1400];

type Suite = 'AES-GCM-128' | 'ChaCha20-Poly1305';
const SUITES: readonly Suite[] = ['AES-GCM-128', 'ChaCha20-Poly1305'];

function espAead(suite: Suite, key: Uint8Array) {
  return suite === 'AES-GCM-128'
    ? ({ name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 } as const)
    : ({ name: 'rfc7539esp(chacha20,poly1305)', key, icvLengthBits: 128 } as const);
}
function ipsecAead(suite: Suite, key: Uint8Array): IpSecAlgorithm {
  return suite === 'AES-GCM-128'
    ? new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, key, 128)
    : new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_CHACHA20_POLY1305, key, 128);
}
function keyLength(suite: Suite): number {
  return suite === 'AES-GCM-128' ? 20 : 36;
}

/** A sending end and a receiving end, whatever the transport. */
interface Lane {
  send(payload: Uint8Array, done: () => void): void;
  onReceive(handler: () => void): void;
  close(): Promise<void>;
}

interface Sample {
  readonly rate: number;
  readonly cpuUs: number;
}

/** Closed loop with a window of WINDOW datagrams for DURATION_MS. */
async function closedLoop(lane: Lane, size: number): Promise<Sample> {
  const payload = randomBytes(size);
  let sent = 0;
  let received = 0;
  let running = true;
  const noop = (): void => undefined;
  const pump = (): void => {
    while (running && sent - received < WINDOW) {
      sent++;
      lane.send(payload, noop);
    }
  };
  lane.onReceive(() => {
    received++;
    pump();
  });
  // Warm-up, then measure.
  pump();
  await new Promise((r) => setTimeout(r, 100));
  const refill = setInterval(() => {
    // A datagram lost on loopback would stall the window: forget it.
    if (sent - received >= WINDOW) received = sent - WINDOW + 1;
    pump();
  }, 50);
  const startCount = received;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  const n = received - startCount;
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  running = false;
  clearInterval(refill);
  await new Promise((r) => setTimeout(r, 30));
  return { rate: (n * 1000) / elapsed, cpuUs: (cpu.user + cpu.system) / Math.max(1, n) };
}

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, LO, r));
  return s;
}

async function plainLane(): Promise<Lane> {
  const a = await bound();
  const b = await bound();
  const port = b.address().port;
  let handler = (): void => undefined;
  b.on('message', () => handler());
  return {
    send: (p, done) => a.send(p, port, LO, done),
    onReceive: (h) => {
      handler = h;
    },
    close: async () => {
      a.close();
      b.close();
    },
  };
}

async function ceilingLane(suite: Suite): Promise<Lane> {
  const a = await bound();
  const b = await bound();
  const port = b.address().port;
  const key = randomBytes(keyLength(suite));
  const out = new EspOutboundSa({ spi: 0x1234, aead: espAead(suite, key) });
  const inb = new EspInboundSa({ spi: 0x1234, aead: espAead(suite, key), replayWindowSize: 4096 });
  let handler = (): void => undefined;
  b.on('message', (msg: Buffer) => {
    if (inb.open(msg).ok) handler();
  });
  return {
    send: (p, done) => a.send(out.seal(p, 17), port, LO, done),
    onReceive: (h) => {
      handler = h;
    },
    close: async () => {
      a.close();
      b.close();
      out.dispose();
      inb.dispose();
    },
  };
}

async function protectedPair(suite: Suite): Promise<{
  ipsec: IpSecManager;
  a: IpSecDatagramSocket;
  b: IpSecDatagramSocket;
  aPort: number;
  bPort: number;
}> {
  const ipsec = await IpSecManager.create({ keepaliveIntervalMs: 0 });
  const encap = await ipsec.openUdpEncapsulationSocket();
  const transform = async () => {
    const spi = await ipsec.allocateSecurityParameterIndex(LO);
    return new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(ipsecAead(suite, randomBytes(keyLength(suite))))
      .setIpv4Encapsulation(encap, encap.getPort())
      .buildTransportModeTransform(LO, spi);
  };
  const ab = await transform();
  const ba = await transform();
  const a = ipsec.createDatagramSocket('udp4');
  const b = ipsec.createDatagramSocket('udp4');
  const aPort = (await a.bind(0, LO)).port;
  const bPort = (await b.bind(0, LO)).port;
  await ipsec.applyTransportModeTransform(a, IpSecManager.DIRECTION_OUT, ab);
  await ipsec.applyTransportModeTransform(b, IpSecManager.DIRECTION_IN, ab);
  await ipsec.applyTransportModeTransform(b, IpSecManager.DIRECTION_OUT, ba);
  await ipsec.applyTransportModeTransform(a, IpSecManager.DIRECTION_IN, ba);
  const check = new Promise<Buffer>((r) => b.once('message', r));
  await a.send(Buffer.from('verify'), bPort, LO);
  if (String(await check) !== 'verify') throw new Error('protected path returned wrong bytes');
  return { ipsec, a, b, aPort, bPort };
}

async function protectedLane(suite: Suite): Promise<Lane> {
  const { ipsec, a, b, bPort } = await protectedPair(suite);
  let handler = (): void => undefined;
  b.on('message', () => handler());
  return {
    send: (p, done) => {
      a.send(p, bPort, LO).then(done, done);
    },
    onReceive: (h) => {
      handler = h;
    },
    close: () => ipsec.close(),
  };
}

/** Ping-pong round-trip times in µs. */
async function pingPong(
  send: (p: Uint8Array) => void,
  onReply: (h: () => void) => void,
  size: number,
): Promise<number[]> {
  const payload = randomBytes(size);
  const times: number[] = [];
  let resolve: () => void = () => undefined;
  onReply(() => resolve());
  for (let i = 0; i < PING_COUNT + 100; i++) {
    const t0 = performance.now();
    const reply = new Promise<void>((r) => {
      resolve = r;
    });
    send(payload);
    const timeout = new Promise<'lost'>((r) => setTimeout(r, 200, 'lost').unref());
    if ((await Promise.race([reply, timeout])) === 'lost') continue;
    if (i >= 100) times.push((performance.now() - t0) * 1000);
  }
  return times;
}

async function plainPing(size: number): Promise<number[]> {
  const a = await bound();
  const b = await bound();
  const aPort = a.address().port;
  const bPort = b.address().port;
  b.on('message', (msg: Buffer) => b.send(msg, aPort, LO));
  let reply = (): void => undefined;
  a.on('message', () => reply());
  const times = await pingPong(
    (p) => a.send(p, bPort, LO),
    (h) => {
      reply = h;
    },
    size,
  );
  a.close();
  b.close();
  return times;
}

async function protectedPing(suite: Suite, size: number): Promise<number[]> {
  const { ipsec, a, b, aPort, bPort } = await protectedPair(suite);
  b.on('message', (msg: Buffer) => {
    b.send(msg, aPort, LO).catch(() => undefined);
  });
  let reply = (): void => undefined;
  a.on('message', () => reply());
  const times = await pingPong(
    (p) => {
      a.send(p, bPort, LO).catch(() => undefined);
    },
    (h) => {
      reply = h;
    },
    size,
  );
  await ipsec.close();
  return times;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i]!;
}
const median = (v: readonly number[]): number => quantile(v, 0.5);
const range = (v: readonly number[], digits = 0): string =>
  `${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}`;

function sealOpenUs(suite: Suite, size: number): number {
  const key = randomBytes(keyLength(suite));
  const out = new EspOutboundSa({ spi: 0x55, aead: espAead(suite, key) });
  const inb = new EspInboundSa({ spi: 0x55, aead: espAead(suite, key), replayWindowSize: 0 });
  const payload = randomBytes(size);
  for (let i = 0; i < 20000; i++) inb.open(out.seal(payload, 17));
  const samples: number[] = [];
  for (let r = 0; r < 9; r++) {
    const n = 20000;
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) if (!inb.open(out.seal(payload, 17)).ok) throw new Error('open');
    const t = process.cpuUsage(t0);
    samples.push((t.user + t.system) / n);
  }
  out.dispose();
  inb.dispose();
  return median(samples);
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  const load = os.loadavg().map((x) => x.toFixed(2));
  console.log(
    `tsnetd IPsec bench — Node ${process.version}, ${cpus.length}× ${cpus[0]?.model ?? 'cpu'}, load ${load.join(' ')}, crypto ${espCryptoProvider()}, transport ${EspTxRing.shared() === undefined ? 'dgram' : 'native (recvmmsg/sendmmsg)'}; ${ROUNDS} rounds × ${DURATION_MS} ms per case, window ${WINDOW}`,
  );
  console.log(
    '\nsuite              size  case         dgram/s median (range)     CPU µs/dgram median (range)  ratio to plain',
  );
  for (const suite of SUITES) {
    for (const size of SIZES) {
      const cases: [string, () => Promise<Lane>][] = [
        ['plain', plainLane],
        ['ceiling', () => ceilingLane(suite)],
        ['protected', () => protectedLane(suite)],
      ];
      const samples = new Map<string, Sample[]>(cases.map(([n]) => [n, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, make] of cases) {
          const lane = await make();
          samples.get(name)!.push(await closedLoop(lane, size));
          await lane.close();
        }
      }
      const plainMedian = median(samples.get('plain')!.map((s) => s.rate));
      for (const [name] of cases) {
        const s = samples.get(name)!;
        const rates = s.map((x) => x.rate);
        const cpu = s.map((x) => x.cpuUs);
        console.log(
          `${suite.padEnd(18)} ${String(size).padStart(5)}  ${name.padEnd(10)} ${median(rates).toFixed(0).padStart(8)} (${range(rates)})`.padEnd(
            69,
          ) +
            `${median(cpu).toFixed(1).padStart(6)} (${range(cpu, 1)})`.padEnd(29) +
            `${(median(rates) / plainMedian).toFixed(2)}`,
        );
      }
    }
  }
  console.log('\nping-pong (one datagram in flight), round-trip µs');
  console.log('suite              size  plain p50 / p99     protected p50 / p99   p50 ratio');
  for (const suite of SUITES) {
    for (const size of SIZES) {
      const plain: number[] = [];
      const prot: number[] = [];
      const p50s: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const p = await plainPing(size);
        const q = await protectedPing(suite, size);
        plain.push(...p);
        prot.push(...q);
        p50s.push(median(q) / median(p));
      }
      console.log(
        `${suite.padEnd(18)} ${String(size).padStart(5)}  ${median(plain).toFixed(0).padStart(6)} / ${quantile(plain, 0.99).toFixed(0).padEnd(8)}  ${median(prot).toFixed(0).padStart(9)} / ${quantile(prot, 0.99).toFixed(0).padEnd(9)}  ${(median(prot) / median(plain)).toFixed(2)} (rounds ${range(p50s, 2)})`,
      );
    }
  }
  console.log('\nESP seal+open, CPU µs per packet (median of 9 × 20000)');
  for (const suite of SUITES) {
    console.log(
      `${suite.padEnd(18)} 64 B ${sealOpenUs(suite, 64).toFixed(2)}   1400 B ${sealOpenUs(suite, 1400).toFixed(2)}`,
    );
  }
}

await main();
