/**
 * Protected UDP throughput over loopback (`node --import tsx bench/ipsec.bench.ts`).
 *
 * For 64- and 1400-byte payloads, measured in one run with the same send loop (batches of 32
 * sends, then one event-loop turn so the receiver reads):
 *   (a) plain `dgram`;
 *   (b) the composed ceiling: plain `dgram` + the raw `node:crypto` AES-GCM-128 seal before each
 *       send and open after each receive, on the same payloads;
 *   (c) `IpSecDatagramSocket` with an AES-GCM-128 transport transform (ESP-in-UDP).
 * Closed loop (at most 128 datagrams unreceived). Reports datagrams/s received and c/b (target ≥ 0.85). Then a crypto-only measurement of moving
 * the AEAD off the main thread: synchronous `node:crypto` vs WebCrypto (`crypto.subtle`, which runs
 * on the libuv thread pool) with 32 operations in flight.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import os from 'node:os';
import {
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
} from '../src/ipsec/mod.ts';

const SIZES = [64, 1400];
const DURATION_MS = Number(process.env.TSNETD_BENCH_MS ?? 1500);
const BATCH = 32;
const WINDOW = 128;
const LO = '127.0.0.1';

type Sender = (payload: Buffer) => Promise<void>;

/**
 * Closed loop: sends batches of BATCH while at most WINDOW datagrams are unreceived, so the
 * receiver is never overrun (loss would measure the socket buffer, not the data path).
 * Returns datagrams received per second.
 */
async function run(send: Sender, received: () => number, size: number): Promise<number> {
  const payload = randomBytes(size);
  const start = performance.now();
  const startCount = received();
  let sent = 0;
  while (performance.now() - start < DURATION_MS) {
    if (sent - (received() - startCount) > WINDOW) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    const batch: Promise<void>[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(send(payload));
    sent += BATCH;
    await Promise.all(batch);
    await new Promise((r) => setImmediate(r));
  }
  return ((received() - startCount) * 1000) / (performance.now() - start);
}

async function plainPair(
  onMessage: (msg: Buffer) => void,
): Promise<{ a: Socket; b: Socket; port: number }> {
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  await new Promise<void>((r) => a.bind(0, LO, r));
  await new Promise<void>((r) => b.bind(0, LO, r));
  b.on('message', onMessage);
  return { a, b, port: b.address().port };
}

function sendPlain(s: Socket, msg: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) =>
    s.send(msg, port, LO, (e) => (e ? reject(e) : resolve())),
  );
}

const key = randomBytes(16);
const salt = randomBytes(4);
let counter = 0n;
/** Raw AES-GCM seal in RFC 4106 shape (8-byte IV, AAD = SPI‖seq). */
function rawSeal(payload: Uint8Array): Buffer {
  const iv = Buffer.alloc(8);
  iv.writeBigUInt64BE(++counter);
  const aad = Buffer.alloc(8);
  aad.writeUInt32BE(0x1234, 0);
  aad.writeUInt32BE(Number(counter & 0xffffffffn), 4);
  const c = createCipheriv('aes-128-gcm', key, Buffer.concat([salt, iv]));
  c.setAAD(aad);
  const ct = c.update(payload);
  c.final();
  return Buffer.concat([aad, iv, ct, c.getAuthTag()]);
}
function rawOpen(packet: Buffer): Buffer {
  const d = createDecipheriv('aes-128-gcm', key, Buffer.concat([salt, packet.subarray(8, 16)]));
  d.setAAD(packet.subarray(0, 8));
  d.setAuthTag(packet.subarray(packet.length - 16));
  const pt = d.update(packet.subarray(16, packet.length - 16));
  d.final();
  return pt;
}

async function protectedPair(): Promise<{
  ipsec: IpSecManager;
  a: IpSecDatagramSocket;
  b: IpSecDatagramSocket;
  port: number;
}> {
  const ipsec = await IpSecManager.create();
  const encap = await ipsec.openUdpEncapsulationSocket();
  const spi = await ipsec.allocateSecurityParameterIndex(LO);
  const t = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128),
    )
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(LO, spi);
  const a = ipsec.createDatagramSocket('udp4');
  const b = ipsec.createDatagramSocket('udp4');
  await a.bind(0, LO);
  const port = (await b.bind(0, LO)).port;
  await ipsec.applyTransportModeTransform(a, IpSecManager.DIRECTION_OUT, t);
  await ipsec.applyTransportModeTransform(b, IpSecManager.DIRECTION_IN, t);
  return { ipsec, a, b, port };
}

async function offMainThread(size: number): Promise<{ sync: number; subtle: number }> {
  const payload = randomBytes(size);
  let n = 0;
  let start = performance.now();
  while (performance.now() - start < DURATION_MS / 2) {
    rawOpen(rawSeal(payload));
    n++;
  }
  const sync = (n * 1000) / (performance.now() - start);
  const k = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const iv = randomBytes(12);
  const one = async () => {
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, k, payload);
    await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, k, ct);
  };
  n = 0;
  start = performance.now();
  while (performance.now() - start < DURATION_MS / 2) {
    await Promise.all(Array.from({ length: BATCH }, one));
    n += BATCH;
  }
  return { sync, subtle: (n * 1000) / (performance.now() - start) };
}

async function main(): Promise<void> {
  console.log(
    `tsnetd IPsec bench — Node ${process.version}, ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${DURATION_MS} ms per case`,
  );
  console.log(
    'size  plain dgram/s  ceiling/s  protected/s  protected/ceiling  protected/plain  protected MB/s',
  );
  const results: Record<number, { plain: number; ceiling: number; prot: number }> = {};
  for (const size of SIZES) {
    let plainCount = 0;
    const plain = await plainPair(() => plainCount++);
    const plainRate = await run(
      (p) => sendPlain(plain.a, p, plain.port),
      () => plainCount,
      size,
    );

    let ceilCount = 0;
    const ceil = await plainPair((msg) => {
      rawOpen(msg);
      ceilCount++;
    });
    const ceilRate = await run(
      (p) => sendPlain(ceil.a, rawSeal(p), ceil.port),
      () => ceilCount,
      size,
    );

    let protCount = 0;
    const prot = await protectedPair();
    prot.b.on('message', () => protCount++);
    // Verify once before timing.
    const check = new Promise<Buffer>((r) => prot.b.once('message', r));
    await prot.a.send(Buffer.from('verify'), prot.port, LO);
    if (String(await check) !== 'verify') throw new Error('protected path returned wrong bytes');
    const protRate = await run(
      (p) => prot.a.send(p, prot.port, LO),
      () => protCount,
      size,
    );

    for (const s of [plain.a, plain.b, ceil.a, ceil.b]) s.close();
    await prot.ipsec.close();
    results[size] = { plain: plainRate, ceiling: ceilRate, prot: protRate };
    console.log(
      `${String(size).padStart(4)}  ${plainRate.toFixed(0).padStart(13)}  ${ceilRate.toFixed(0).padStart(9)}  ${protRate.toFixed(0).padStart(11)}  ${(protRate / ceilRate).toFixed(2).padStart(17)}  ${(protRate / plainRate).toFixed(2).padStart(15)}  ${((protRate * size) / 1e6).toFixed(1).padStart(14)}`,
    );
  }
  console.log('\nAEAD seal+open off the main thread (crypto only, ops/s):');
  console.log('size  sync node:crypto  WebCrypto (libuv pool, 32 in flight)  ratio');
  for (const size of SIZES) {
    const r = await offMainThread(size);
    console.log(
      `${String(size).padStart(4)}  ${r.sync.toFixed(0).padStart(16)}  ${r.subtle.toFixed(0).padStart(36)}  ${(r.subtle / r.sync).toFixed(2).padStart(5)}`,
    );
  }
}

await main();
