/**
 * The algorithm matrix for round-trip tests: every algorithm × key length × ICV/truncation
 * length of Android's table (src/esp/transform.ts).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { EspSaOptions } from '../../../src/esp/esp_sa_options.ts';
import type { AeadName, AuthName, CipherName } from '../../../src/esp/mod.ts';

export interface SaCombination {
  readonly label: string;
  /** Options without spi/esn. */
  readonly options: Omit<EspSaOptions, 'spi' | 'esn'>;
  readonly ivLength: number;
  readonly icvLength: number;
  readonly blockSize: number;
}

export const AEADS: readonly {
  name: AeadName;
  keyBits: readonly number[];
  icvBits: readonly number[];
}[] = [
  { name: 'rfc4106(gcm(aes))', keyBits: [160, 224, 288], icvBits: [64, 96, 128] },
  { name: 'rfc7539esp(chacha20,poly1305)', keyBits: [288], icvBits: [128] },
];

export const CIPHERS: readonly {
  name: CipherName;
  keyBits: readonly number[];
  ivLength: number;
  blockSize: number;
}[] = [
  { name: 'cbc(aes)', keyBits: [128, 192, 256], ivLength: 16, blockSize: 16 },
  { name: 'rfc3686(ctr(aes))', keyBits: [160, 224, 288], ivLength: 8, blockSize: 1 },
  { name: 'ecb(cipher_null)', keyBits: [0], ivLength: 0, blockSize: 1 },
];

export const AUTHS: readonly {
  name: AuthName;
  keyBits: number;
  minBits: number;
  maxBits: number;
}[] = [
  { name: 'hmac(md5)', keyBits: 128, minBits: 96, maxBits: 128 },
  { name: 'hmac(sha1)', keyBits: 160, minBits: 96, maxBits: 160 },
  { name: 'hmac(sha256)', keyBits: 256, minBits: 96, maxBits: 256 },
  { name: 'hmac(sha384)', keyBits: 384, minBits: 192, maxBits: 384 },
  { name: 'hmac(sha512)', keyBits: 512, minBits: 256, maxBits: 512 },
  { name: 'xcbc(aes)', keyBits: 128, minBits: 96, maxBits: 96 },
  { name: 'cmac(aes)', keyBits: 128, minBits: 96, maxBits: 96 },
];

function key(bits: number): Uint8Array {
  return new Uint8Array(randomBytes(bits / 8));
}

/** AEAD combinations: every key length × ICV length. */
export function aeadCombinations(): SaCombination[] {
  const out: SaCombination[] = [];
  for (const a of AEADS) {
    for (const keyBits of a.keyBits) {
      for (const icvBits of a.icvBits) {
        out.push({
          label: `${a.name} key ${keyBits} icv ${icvBits}`,
          options: { aead: { name: a.name, key: key(keyBits), icvLengthBits: icvBits } },
          ivLength: 8,
          icvLength: icvBits / 8,
          blockSize: 1,
        });
      }
    }
  }
  return out;
}

/**
 * Separate-algorithm combinations: every cipher key length × every auth truncation length
 * (`allTruncations`: every bit value Android accepts; otherwise min, a middle multiple of 8, max),
 * plus encryption-only for the non-NULL ciphers.
 */
export function separateCombinations(
  allTruncations: boolean,
  authFilter?: (name: AuthName) => boolean,
): SaCombination[] {
  const out: SaCombination[] = [];
  for (const c of CIPHERS) {
    for (const cipherBits of c.keyBits) {
      if (c.name !== 'ecb(cipher_null)') {
        out.push({
          label: `${c.name} key ${cipherBits} (encryption only)`,
          options: { cipher: { name: c.name, key: key(cipherBits) } },
          ivLength: c.ivLength,
          icvLength: 0,
          blockSize: c.blockSize,
        });
      }
      for (const a of AUTHS) {
        if (authFilter !== undefined && !authFilter(a.name)) continue;
        const truncations: number[] = [];
        if (allTruncations) for (let t = a.minBits; t <= a.maxBits; t++) truncations.push(t);
        else
          truncations.push(
            ...new Set([a.minBits, Math.ceil((a.minBits + a.maxBits) / 16) * 8, a.maxBits]),
          );
        for (const t of truncations) {
          out.push({
            label: `${c.name} key ${cipherBits} + ${a.name} trunc ${t}`,
            options: {
              cipher: { name: c.name, key: key(cipherBits) },
              auth: { name: a.name, key: key(a.keyBits), truncationLengthBits: t },
            },
            ivLength: c.ivLength,
            icvLength: Math.floor(t / 8),
            blockSize: c.blockSize,
          });
        }
      }
    }
  }
  return out;
}
