/**
 * ESP engine throughput against raw node:crypto (docs/esp.md "Speed").
 *
 * The engine runs on the process's crypto provider (OpenSSL contexts through koffi by default;
 * `TSNETD_ESP_CRYPTO=node-crypto` measures the node:crypto fallback). Against the native
 * provider the node:crypto "ceiling" is no ceiling: ratios above 1 are expected.
 *
 * For each suite (AES-GCM-128 with a 16-byte ICV, AES-CBC-128 + HMAC-SHA-256-128,
 * ChaCha20-Poly1305) and payload size (64, 512, 1400 bytes) it measures, in the same process:
 * - the engine: `EspOutboundSa.seal()` then `EspInboundSa.open()` of the sealed packet;
 * - the ceiling: the minimal node:crypto calls doing the same cryptographic work
 *   (createCipheriv/setAAD/update/final/getAuthTag and createDecipheriv/…/final; for CBC one
 *   long-lived createCipheriv/createDecipheriv context per direction, re-IVed by XORing the first
 *   block, as the engine does + createHmac/update/digest per packet, and the reverse). Keys are
 *   raw bytes on both sides (no KeyObject), as in the engine.
 * Each side's output is verified once before timing; both are warmed up; engine and ceiling run in
 * adjacent rounds of alternating order. Prints the best packets per CPU-second of each side and the
 * median of the per-pair ratios (robust against load from other processes).
 *
 * Environment: TSNETD_BENCH_MS (duration of one round, default 20), TSNETD_BENCH_ROUNDS (61).
 *
 * @module
 */
import assert from 'node:assert/strict';
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { cpus } from 'node:os';
import {
  EspInboundSa,
  EspOutboundSa,
  type EspSaOptions,
  espCryptoProvider,
} from '../src/esp/mod.ts';

const ROUND_MS = Number(process.env.TSNETD_BENCH_MS ?? 20);
const ROUNDS = Number(process.env.TSNETD_BENCH_ROUNDS ?? 61);
const SIZES = [64, 512, 1400];

interface Suite {
  readonly label: string;
  readonly options: EspSaOptions;
  /** One seal+open with raw node:crypto; returns the recovered plaintext. */
  readonly raw: (plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array) => Uint8Array;
  readonly ivLength: number;
}

function aeadRaw(
  algorithm: 'aes-128-gcm' | 'chacha20-poly1305',
  key: Uint8Array,
  salt: Uint8Array,
) {
  const nonce = new Uint8Array(12);
  nonce.set(salt, 0);
  const options = { authTagLength: 16 };
  return (plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array): Uint8Array => {
    nonce.set(iv, 4);
    const c = createCipheriv(algorithm as 'aes-128-gcm', key, nonce, options);
    c.setAAD(aad);
    const ct = c.update(plaintext);
    c.final();
    const tag = c.getAuthTag();
    const d = createDecipheriv(algorithm as 'aes-128-gcm', key, nonce, options);
    d.setAAD(aad);
    d.setAuthTag(tag);
    const pt = d.update(ct);
    d.final();
    return pt;
  };
}

function cbcHmacRaw(key: Uint8Array, authKey: Uint8Array) {
  const headerAndIv = new Uint8Array(24);
  // CBC through one long-lived context per direction, as the engine does (node:crypto cannot
  // re-IV a context; creating one per packet costs more than the AES itself): OpenSSL chains
  // from the last ciphertext block, so the first block is corrected by XOR with `iv ⊕ chain`.
  const encryptor = createCipheriv('aes-128-cbc', key, new Uint8Array(16));
  encryptor.setAutoPadding(false);
  const decryptor = createDecipheriv('aes-128-cbc', key, new Uint8Array(16));
  decryptor.setAutoPadding(false);
  const encryptChain = new Uint8Array(16);
  const decryptChain = new Uint8Array(16);
  let input = new Uint8Array(0);
  return (plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array): Uint8Array => {
    // The MAC covers SPI ‖ Seq ‖ IV ‖ ciphertext: the 24-byte prefix is built once, the ciphertext
    // is fed as a second update (no copy), as a minimal implementation would.
    headerAndIv.set(aad, 0);
    headerAndIv.set(iv, 8);
    if (input.length !== plaintext.length) input = new Uint8Array(plaintext.length);
    input.set(plaintext);
    for (let i = 0; i < 16; i++) input[i] = input[i]! ^ iv[i]! ^ encryptChain[i]!;
    const ct = encryptor.update(input);
    encryptChain.set(ct.subarray(ct.length - 16));
    const icv = createHmac('sha256', authKey)
      .update(headerAndIv)
      .update(ct)
      .digest()
      .subarray(0, 16);
    const check = createHmac('sha256', authKey)
      .update(headerAndIv)
      .update(ct)
      .digest()
      .subarray(0, 16);
    if (!timingSafeEqual(check, icv)) throw new Error('ICV mismatch');
    const pt = decryptor.update(ct);
    for (let i = 0; i < 16; i++) pt[i] = pt[i]! ^ decryptChain[i]! ^ iv[i]!;
    decryptChain.set(ct.subarray(ct.length - 16));
    return pt;
  };
}

function suites(): Suite[] {
  const gcmKey = new Uint8Array(randomBytes(20));
  const chachaKey = new Uint8Array(randomBytes(36));
  const cbcKey = new Uint8Array(randomBytes(16));
  const hmacKey = new Uint8Array(randomBytes(32));
  return [
    {
      label: 'AES-GCM-128 (ICV 16)',
      options: {
        spi: 0x1001,
        aead: { name: 'rfc4106(gcm(aes))', key: gcmKey, icvLengthBits: 128 },
      },
      raw: aeadRaw('aes-128-gcm', gcmKey.subarray(0, 16), gcmKey.subarray(16)),
      ivLength: 8,
    },
    {
      label: 'AES-CBC-128 + HMAC-SHA-256-128',
      options: {
        spi: 0x1002,
        cipher: { name: 'cbc(aes)', key: cbcKey },
        auth: { name: 'hmac(sha256)', key: hmacKey, truncationLengthBits: 128 },
      },
      raw: cbcHmacRaw(cbcKey, hmacKey),
      ivLength: 16,
    },
    {
      label: 'ChaCha20-Poly1305',
      options: {
        spi: 0x1003,
        aead: { name: 'rfc7539esp(chacha20,poly1305)', key: chachaKey, icvLengthBits: 128 },
      },
      raw: aeadRaw('chacha20-poly1305', chachaKey.subarray(0, 32), chachaKey.subarray(32)),
      ivLength: 8,
    },
  ];
}

/**
 * Runs `body` repeatedly for about `ms` milliseconds of wall time; returns iterations per
 * CPU-second of this process (user + system, GC threads included). CPU time, not wall time, so
 * that other processes on a shared machine do not distort the ratio.
 */
function rate(body: () => void, ms: number): number {
  let n = 0;
  const limit = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const cpu = process.cpuUsage();
  do {
    for (let i = 0; i < 64; i++) body();
    n += 64;
  } while (process.hrtime.bigint() < limit);
  const used = process.cpuUsage(cpu);
  return n / ((used.user + used.system) / 1e6);
}

function paddedLength(payload: number, ivLength: number): number {
  const align = ivLength === 16 ? 16 : 4;
  return Math.ceil((payload + 2) / align) * align;
}

function main(): void {
  console.log(
    `node ${process.version}, ${cpus().length} CPUs, ${cpus()[0]?.model ?? 'unknown CPU'}, engine crypto ${espCryptoProvider()}`,
  );
  console.log(
    `${ROUNDS} round pairs × ${ROUND_MS} ms; packets (seal + open) per CPU-second, best round; ratio = median of pairs\n`,
  );
  console.log(
    'ceiling: AEAD createCipheriv/createDecipheriv per packet; CBC one long-lived context per direction (as the engine) + createHmac per packet; raw key bytes\n',
  );
  console.log(
    'suite                           size   engine seal+open/s   ceiling/s   ratio   target',
  );
  let missed = 0;
  for (const suite of suites()) {
    for (const size of SIZES) {
      // A fresh pair per size; the window is disabled so the benchmark never runs into replay.
      const inbound = new EspInboundSa({ ...suite.options, replayWindowSize: 0 });
      let outbound = new EspOutboundSa(suite.options);
      const payload = new Uint8Array(randomBytes(size));
      // Verify once.
      const check = inbound.open(outbound.seal(payload, 17));
      assert.ok(check.ok && Buffer.from(check.payload).equals(payload), 'engine round trip');
      const plaintext = new Uint8Array(paddedLength(size, suite.ivLength));
      plaintext.set(payload);
      const iv = new Uint8Array(randomBytes(suite.ivLength));
      const aad = new Uint8Array(8);
      assert.ok(Buffer.from(suite.raw(plaintext, iv, aad)).equals(plaintext), 'raw round trip');

      let sealed = 0;
      const engine = (): void => {
        if (++sealed === 0x7fff_0000) {
          outbound = new EspOutboundSa(suite.options);
          sealed = 0;
        }
        const r = inbound.open(outbound.seal(payload, 17));
        if (!r.ok) throw new Error(`open failed: ${r.reason}`);
      };
      const raw = (): void => {
        suite.raw(plaintext, iv, aad);
      };
      rate(engine, ROUND_MS); // warm-up
      rate(raw, ROUND_MS);
      let bestEngine = 0;
      let bestRaw = 0;
      const ratios: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Adjacent, alternating-order pairs: a load change on a shared machine hits both sides.
        const first = round % 2 === 0;
        const a = rate(first ? engine : raw, ROUND_MS);
        const b = rate(first ? raw : engine, ROUND_MS);
        const e = first ? a : b;
        const w = first ? b : a;
        bestEngine = Math.max(bestEngine, e);
        bestRaw = Math.max(bestRaw, w);
        ratios.push(e / w);
      }
      ratios.sort((x, y) => x - y);
      const ratio = ratios[ratios.length >> 1]!;
      const target = size >= 1400 ? 0.85 : size <= 64 ? 0.7 : undefined;
      const verdict =
        target === undefined ? '' : ratio >= target ? `≥ ${target} ok` : `< ${target} MISSED`;
      if (target !== undefined && ratio < target) missed++;
      console.log(
        `${suite.label.padEnd(31)} ${String(size).padStart(4)}   ${Math.round(bestEngine).toLocaleString('en').padStart(18)}   ${Math.round(bestRaw).toLocaleString('en').padStart(9)}   ${ratio.toFixed(2).padStart(5)}   ${verdict}`,
      );
      inbound.dispose();
      outbound.dispose();
    }
  }
  if (missed > 0) console.log(`\n${missed} ratio target(s) missed`);
}

main();
