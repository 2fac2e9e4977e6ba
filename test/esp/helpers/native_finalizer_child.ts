/**
 * Child process of `test/esp/native_finalizer.test.ts`, run as `node --expose-gc --import tsx`.
 * It creates ESP SAs of every cipher family the native provider keys (AES-GCM, ChaCha20-Poly1305,
 * AES-CBC + HMAC-SHA-256, AES-CTR + HMAC-SHA-256), drops some without `dispose()`, forces garbage
 * collection and lets the FinalizationRegistry run, then reports as one JSON line on stdout:
 *
 * - `provider`, and whether koffi's binary is mapped into the process (`koffiMapped`);
 * - with the native provider, per family, how often the key material is found in the process's
 *   memory (its AES key schedule starts with the AES key; an HMAC context keeps the SHA-256
 *   state after the key's inner block) for the dropped SAs before and after collection, and for
 *   a still-referenced control SA after collection and after its `dispose()`;
 * - RSS in MB after each round of a create-and-drop loop (`rssMb`).
 *
 * The child's own copies of the keys are zeroed once the SAs hold them; the needles are kept as
 * two halves that are never assembled (see `memory_scan.ts`).
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import {
  EspInboundSa,
  EspOutboundSa,
  type EspSaOptions,
  espCryptoProvider,
} from '../../../src/esp/mod.ts';
import { countInProcessMemory } from './memory_scan.ts';

declare const gc: () => void;

/** A family: how to build its options from fresh keys, and where its key material shows. */
interface Family {
  readonly label: string;
  /** Fresh keys: [cipher or AEAD key, HMAC key?]. */
  readonly keys: () => Uint8Array[];
  readonly options: (spi: number, keys: Uint8Array[]) => EspSaOptions;
}

const random = (length: number): Uint8Array => crypto.getRandomValues(new Uint8Array(length));

const FAMILIES: readonly Family[] = [
  {
    label: 'aes-gcm',
    keys: () => [random(20)],
    options: (spi, [key]) => ({
      spi,
      aead: { name: 'rfc4106(gcm(aes))', key: key!, icvLengthBits: 128 },
    }),
  },
  {
    label: 'chacha20-poly1305',
    keys: () => [random(36)],
    options: (spi, [key]) => ({
      spi,
      aead: { name: 'rfc7539esp(chacha20,poly1305)', key: key!, icvLengthBits: 128 },
    }),
  },
  {
    label: 'aes-cbc+hmac-sha256',
    keys: () => [random(16), random(32)],
    options: (spi, [key, mac]) => ({
      spi,
      cipher: { name: 'cbc(aes)', key: key! },
      auth: { name: 'hmac(sha256)', key: mac!, truncationLengthBits: 128 },
    }),
  },
  {
    label: 'aes-ctr+hmac-sha256',
    keys: () => [random(20), random(32)],
    options: (spi, [key, mac]) => ({
      spi,
      cipher: { name: 'rfc3686(ctr(aes))', key: key! },
      auth: { name: 'hmac(sha256)', key: mac!, truncationLengthBits: 128 },
    }),
  },
];

// The SHA-256 compression function (FIPS 180-4), only to predict the state an HMAC context keeps.
const K = Uint32Array.from(
  '428a2f98 71374491 b5c0fbcf e9b5dba5 3956c25b 59f111f1 923f82a4 ab1c5ed5 d807aa98 12835b01 243185be 550c7dc3 72be5d74 80deb1fe 9bdc06a7 c19bf174 e49b69c1 efbe4786 0fc19dc6 240ca1cc 2de92c6f 4a7484aa 5cb0a9dc 76f988da 983e5152 a831c66d b00327c8 bf597fc7 c6e00bf3 d5a79147 06ca6351 14292967 27b70a85 2e1b2138 4d2c6dfc 53380d13 650a7354 766a0abb 81c2c92e 92722c85 a2bfe8a1 a81a664b c24b8b70 c76c51a3 d192e819 d6990624 f40e3585 106aa070 19a4c116 1e376c08 2748774c 34b0bcb5 391c0cb3 4ed8aa4a 5b9cca4f 682e6ff3 748f82ee 78a5636f 84c87814 8cc70208 90befffa a4506ceb bef9a3f7 c67178f2'
    .split(' ')
    .map((h) => Number.parseInt(h, 16)),
);
const IV = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** The SHA-256 state (8 words) after one 64-byte block from the initial value. */
function sha256Block(block: Uint8Array): Uint32Array {
  const w = new Uint32Array(64);
  for (let i = 0; i < 16; i++) {
    w[i] =
      ((block[4 * i]! << 24) |
        (block[4 * i + 1]! << 16) |
        (block[4 * i + 2]! << 8) |
        block[4 * i + 3]!) >>>
      0;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
    const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
  }
  let [a, b, c, d, e, f, g, h] = IV as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  for (let i = 0; i < 64; i++) {
    const t1 =
      (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) >>> 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) >>> 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) >>> 0;
  }
  w.fill(0);
  const out = new Uint32Array(8);
  out[0] = a + IV[0]!;
  out[1] = b + IV[1]!;
  out[2] = c + IV[2]!;
  out[3] = d + IV[3]!;
  out[4] = e + IV[4]!;
  out[5] = f + IV[5]!;
  out[6] = g + IV[6]!;
  out[7] = h + IV[7]!;
  a = b = c = d = e = f = g = h = 0;
  return out;
}

/** Bytes of `words[from]` and `words[from + 1]` in little-endian order (x86-64, arm64). */
function littleEndian(words: Uint32Array, from: number): Uint8Array {
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = words[from + (i >> 2)]! >>> ((i & 3) * 8);
  return bytes;
}

/** A needle as two 8-byte halves. */
type Needle = readonly [Uint8Array, Uint8Array];

/**
 * Where a family's keys show in native memory: the AES key (the first round key of every AES
 * key schedule, the last one of a decryption schedule) or the ChaCha20 key words, and for HMAC
 * the first 16 bytes of the SHA-256 state after the block `key ⊕ ipad`, words in host order (as
 * OpenSSL's SHA256_CTX keeps them).
 */
function needles(keys: Uint8Array[]): Needle[] {
  const out: Needle[] = [[keys[0]!.slice(0, 8), keys[0]!.slice(8, 16)]];
  const mac = keys[1];
  if (mac !== undefined) {
    const block = new Uint8Array(64).fill(0x36);
    for (let i = 0; i < mac.length; i++) block[i]! ^= mac[i]!;
    const state = sha256Block(block);
    block.fill(0);
    // Never `state.buffer`: it would move the words off the heap and leave a stale copy behind.
    out.push([littleEndian(state, 0), littleEndian(state, 2)]);
    state.fill(0);
  }
  return out;
}

const count = (list: Needle[]): number[] => list.map(([a, b]) => countInProcessMemory(a, b));

/** A pair of SAs (outbound and inbound) keyed with `keys`, used once so every context is live. */
function pair(family: Family, spi: number, keys: Uint8Array[]): [EspOutboundSa, EspInboundSa] {
  const out = new EspOutboundSa(family.options(spi, keys));
  const inb = new EspInboundSa(family.options(spi, keys));
  const opened = inb.open(out.seal(new Uint8Array(40), 17));
  if (!opened.ok) throw new Error(`${family.label}: the round trip failed (${opened.reason})`);
  return [out, inb];
}

/** Creates `n` pairs with `keys` and drops them (nothing keeps a reference). */
function createAndDrop(family: Family, n: number, keys: Uint8Array[]): void {
  for (let i = 0; i < n; i++) pair(family, 0x1000 + i, keys);
}

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** Collects garbage and lets the FinalizationRegistry's cleanup tasks run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 6; i++) {
    gc();
    await turn();
    await new Promise((r) => setImmediate(r));
  }
}

if (endianness() !== 'LE') throw new Error('the HMAC needle assumes a little-endian host');
const provider = espCryptoProvider();
const report: {
  provider: string;
  koffiMapped: boolean;
  families: {
    label: string;
    droppedBefore: number[];
    droppedAfter: number[];
    liveAfter: number[];
    liveAfterDispose: number[];
  }[];
  rssMb: number[];
} = { provider, koffiMapped: false, families: [], rssMb: [] };

const live: [EspOutboundSa, EspInboundSa][] = [];
if (provider === 'openssl-native') {
  for (const family of FAMILIES) {
    const droppedKeys = family.keys();
    const droppedNeedles = needles(droppedKeys);
    createAndDrop(family, 4, droppedKeys);
    for (const k of droppedKeys) k.fill(0);
    const liveKeys = family.keys();
    const liveNeedles = needles(liveKeys);
    const control = pair(family, 0x2000, liveKeys);
    live.push(control);
    for (const k of liveKeys) k.fill(0);
    const droppedBefore = count(droppedNeedles);
    await collect();
    const droppedAfter = count(droppedNeedles);
    const liveAfter = count(liveNeedles);
    for (const sa of control) sa.dispose();
    report.families.push({
      label: family.label,
      droppedBefore,
      droppedAfter,
      liveAfter,
      liveAfterDispose: count(liveNeedles),
    });
  }
}

// Many create-and-drop rounds: native contexts that were never freed would grow RSS each round.
const ROUNDS = Number(process.env.FINALIZER_ROUNDS ?? 12);
const PER_ROUND = Number(process.env.FINALIZER_PAIRS ?? 1000);
for (let round = 0; round < ROUNDS; round++) {
  for (const family of FAMILIES) {
    const keys = family.keys();
    createAndDrop(family, PER_ROUND, keys);
    for (const k of keys) k.fill(0);
  }
  await collect();
  report.rssMb.push(process.memoryUsage().rss / 2 ** 20);
}

report.koffiMapped = readFileSync('/proc/self/maps', 'utf8').includes('koffi');
process.stdout.write(`${JSON.stringify(report)}\n`);
