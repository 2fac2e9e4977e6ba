/**
 * Fuzzing EspInboundSa.open(): mutated (bit flips, truncations, extensions, random SPIs and
 * sequence numbers, splices) and random packets, per algorithm. Properties:
 * - open() never throws;
 * - no accepted forgery: any `ok: true` is byte-identical to a packet the outbound SA sealed,
 *   and returns that packet's payload and next header.
 *
 * Iterations per algorithm: TSNETD_FUZZ_ITERATIONS (default 20000; `npm run fuzz` runs 1,000,000).
 * Seed: TSNETD_FUZZ_SEED (default random; printed so a failure can be replayed).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import {
  type AeadName,
  type AuthName,
  type CipherName,
  EspInboundSa,
  EspOutboundSa,
  type EspSaOptions,
} from '../../src/esp/mod.ts';

const ITERATIONS = Number(process.env.TSNETD_FUZZ_ITERATIONS ?? 20000);
const SEED = Number(process.env.TSNETD_FUZZ_SEED ?? randomInt(1, 0x7fffffff));

/** xorshift32: deterministic per seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function bytes(n: number, fill: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (fill + i * 13) & 0xff);
}

type Algorithm = { label: string; options: EspSaOptions; forgeryFree: boolean };

/** An AEAD SA (forgery-free): `keyBytes` includes the 4-byte salt. */
function aead(
  label: string,
  spi: number,
  name: AeadName,
  keyBytes: number,
  fill: number,
  icvLengthBits: number,
  esn = false,
): Algorithm {
  const options: EspSaOptions = { spi, aead: { name, key: bytes(keyBytes, fill), icvLengthBits } };
  return { label, options: esn ? { ...options, esn } : options, forgeryFree: true };
}

/** A cipher + integrity SA (forgery-free); `cipher` null is NULL encryption. */
function combined(
  label: string,
  spi: number,
  cipher: { name: CipherName; keyBytes: number; fill: number } | null,
  auth: { name: AuthName; keyBytes: number; fill: number; truncationLengthBits: number },
  esn = false,
): Algorithm {
  const options: EspSaOptions = {
    spi,
    ...(esn ? { esn } : {}),
    ...(cipher === null
      ? {}
      : { cipher: { name: cipher.name, key: bytes(cipher.keyBytes, cipher.fill) } }),
    auth: {
      name: auth.name,
      key: bytes(auth.keyBytes, auth.fill),
      truncationLengthBits: auth.truncationLengthBits,
    },
  };
  return { label, options, forgeryFree: true };
}

const ALGORITHMS: readonly Algorithm[] = [
  aead('AES-GCM-128 ICV 16', 0x100, 'rfc4106(gcm(aes))', 20, 1, 128),
  aead('AES-GCM-256 ICV 8 ESN', 0x101, 'rfc4106(gcm(aes))', 36, 2, 64, true),
  aead('AES-GCM-192 ICV 12', 0x102, 'rfc4106(gcm(aes))', 28, 3, 96),
  aead('ChaCha20-Poly1305 ESN', 0x103, 'rfc7539esp(chacha20,poly1305)', 36, 4, 128, true),
  combined(
    'AES-CBC-128 + HMAC-SHA-256-128',
    0x104,
    { name: 'cbc(aes)', keyBytes: 16, fill: 5 },
    { name: 'hmac(sha256)', keyBytes: 32, fill: 6, truncationLengthBits: 128 },
  ),
  combined(
    'AES-CTR-256 + HMAC-SHA-1-96 ESN',
    0x105,
    { name: 'rfc3686(ctr(aes))', keyBytes: 36, fill: 7 },
    { name: 'hmac(sha1)', keyBytes: 20, fill: 8, truncationLengthBits: 96 },
    true,
  ),
  combined('NULL + HMAC-SHA-512-256', 0x106, null, {
    name: 'hmac(sha512)',
    keyBytes: 64,
    fill: 9,
    truncationLengthBits: 256,
  }),
  combined(
    'HMAC-MD5-96 + AES-CBC-256 ESN',
    0x107,
    { name: 'cbc(aes)', keyBytes: 32, fill: 10 },
    { name: 'hmac(md5)', keyBytes: 16, fill: 11, truncationLengthBits: 96 },
    true,
  ),
  combined(
    'AES-CBC-192 + AES-XCBC-MAC-96',
    0x108,
    { name: 'cbc(aes)', keyBytes: 24, fill: 12 },
    { name: 'xcbc(aes)', keyBytes: 16, fill: 13, truncationLengthBits: 96 },
  ),
  combined(
    'AES-CTR-128 + AES-CMAC-96 ESN',
    0x109,
    { name: 'rfc3686(ctr(aes))', keyBytes: 20, fill: 14 },
    { name: 'cmac(aes)', keyBytes: 16, fill: 15, truncationLengthBits: 96 },
    true,
  ),
  // No integrity: forgeries are expected to pass (RFC 4303 gives no integrity); only "never throws".
  {
    label: 'AES-CBC-128 encryption only',
    options: { spi: 0x10a, cipher: { name: 'cbc(aes)', key: bytes(16, 16) } },
    forgeryFree: false,
  },
];

const CORPUS = 48;

for (const [index, algorithm] of ALGORITHMS.entries()) {
  test(`fuzz open() ${algorithm.label}: ${ITERATIONS} inputs, no exception, no accepted forgery (seed ${SEED})`, () => {
    const next = rng(SEED + index);
    const esn = algorithm.options.esn === true;
    const out = new EspOutboundSa({
      ...algorithm.options,
      nextSequenceNumber: esn ? 0xffff_fff0n : 1n,
    });
    const originals = new Map<string, { payload: string; nextHeader: number }>();
    const corpus: Uint8Array[] = [];
    for (let i = 0; i < CORPUS; i++) {
      const payload = new Uint8Array(next() % 160);
      for (let j = 0; j < payload.length; j++) payload[j] = next();
      const nextHeader = i % 7 === 6 ? 59 : next() & 0xff;
      const packet = out.seal(payload, nextHeader);
      corpus.push(packet);
      originals.set(Buffer.from(packet).toString('hex'), {
        payload: Buffer.from(payload).toString('hex'),
        nextHeader,
      });
    }
    // Window disabled: originals stay acceptable, so any ok must be an original. Window enabled:
    // exercises the replay paths.
    const saNoWindow = new EspInboundSa({
      ...algorithm.options,
      replayWindowSize: 0,
      highestSequenceNumber: esn ? 0xffff_ff00n : 0n,
    });
    const saWindow = algorithm.forgeryFree
      ? new EspInboundSa({
          ...algorithm.options,
          replayWindowSize: 64,
          highestSequenceNumber: esn ? 0xffff_ff00n : 0n,
        })
      : saNoWindow;
    const spi = algorithm.options.spi;
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const base = corpus[next() % CORPUS]!;
      let packet: Uint8Array;
      const kind = next() % 9;
      switch (kind) {
        case 0: {
          // 1–4 bit flips anywhere
          packet = Uint8Array.from(base);
          const flips = 1 + (next() % 4);
          for (let f = 0; f < flips; f++) {
            const bit = next() % (packet.length * 8);
            packet[bit >> 3]! ^= 1 << (bit & 7);
          }
          break;
        }
        case 1:
          packet = base.subarray(0, next() % base.length);
          break;
        case 2: {
          packet = new Uint8Array(base.length + 1 + (next() % 32));
          packet.set(base);
          for (let j = base.length; j < packet.length; j++) packet[j] = next();
          break;
        }
        case 3: {
          packet = Uint8Array.from(base);
          const s = next() % 4 === 0 ? spi : next();
          packet[0] = s >>> 24;
          packet[1] = s >>> 16;
          packet[2] = s >>> 8;
          packet[3] = s;
          break;
        }
        case 4: {
          packet = Uint8Array.from(base);
          const q = next();
          packet[4] = q >>> 24;
          packet[5] = q >>> 16;
          packet[6] = q >>> 8;
          packet[7] = q;
          break;
        }
        case 5: {
          // random bytes, with our SPI most of the time
          packet = new Uint8Array(next() % 300);
          for (let j = 0; j < packet.length; j++) packet[j] = next();
          if (packet.length >= 4 && next() % 4 !== 0) {
            packet[0] = spi >>> 24;
            packet[1] = spi >>> 16;
            packet[2] = spi >>> 8;
            packet[3] = spi;
          }
          break;
        }
        case 6: {
          // splice: header of one packet, body of another
          const other = corpus[next() % CORPUS]!;
          packet = new Uint8Array(other.length);
          packet.set(other);
          packet.set(base.subarray(0, Math.min(base.length, other.length, 8 + (next() % 24))));
          break;
        }
        case 7: {
          // overwrite a random byte of the ciphertext tail (padding / trailer region)
          packet = Uint8Array.from(base);
          const from = Math.max(0, packet.length - 40);
          packet[from + (next() % (packet.length - from))] = next();
          break;
        }
        default:
          packet = base; // genuine packets keep the accept path covered
      }
      for (const sa of [saNoWindow, saWindow]) {
        let r: ReturnType<EspInboundSa['open']>;
        try {
          r = sa.open(packet);
        } catch (error) {
          assert.fail(
            new Error(
              `open() threw on ${Buffer.from(packet).toString('hex')} (seed ${SEED}, iteration ${i})`,
              { cause: error },
            ),
          );
        }
        if (!r.ok) {
          rejected++;
          continue;
        }
        accepted++;
        if (!algorithm.forgeryFree) continue;
        const original = originals.get(Buffer.from(packet).toString('hex'));
        assert.ok(
          original !== undefined,
          `forgery accepted: ${Buffer.from(packet).toString('hex')} (seed ${SEED}, iteration ${i}, kind ${kind})`,
        );
        assert.equal(Buffer.from(r.payload).toString('hex'), original.payload);
        assert.equal(r.nextHeader, original.nextHeader);
      }
    }
    assert.ok(accepted > 0 && rejected > 0, `accepted ${accepted}, rejected ${rejected}`);
  });
}
