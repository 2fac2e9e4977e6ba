/**
 * The ESP algorithm table: Android's `IpSecAlgorithm` set (names = Linux crypto names) with key,
 * truncation/ICV, IV and block lengths (Android's `IpSecAlgorithm`; RFC 3602, RFC 3686, RFC
 * 2403/2404, RFC 4868, RFC 3566, RFC 4494, RFC 4106, RFC 7634).
 *
 * Pure data: importable by every layer that needs to validate algorithms (xfrm, ipsec).
 *
 * @module
 */

/** Encryption algorithms (`ecb(cipher_null)` is Android's hidden CRYPT_NULL). */
export type CipherName = 'cbc(aes)' | 'rfc3686(ctr(aes))' | 'ecb(cipher_null)';
/** Integrity algorithms. */
export type AuthName =
  | 'hmac(md5)'
  | 'hmac(sha1)'
  | 'hmac(sha256)'
  | 'hmac(sha384)'
  | 'hmac(sha512)'
  | 'xcbc(aes)'
  | 'cmac(aes)';
/** Combined-mode (AEAD) algorithms. */
export type AeadName = 'rfc4106(gcm(aes))' | 'rfc7539esp(chacha20,poly1305)';
/** Any algorithm name of the table. */
export type AlgorithmName = CipherName | AuthName | AeadName;

/** What an algorithm does inside ESP (Android's isEncryption/isAuthentication/isAead). */
export type AlgorithmKind = 'encryption' | 'authentication' | 'aead';

/** Inclusive range of accepted truncation (ICV) lengths in bits, in steps of `stepBits`. */
export interface TruncationRange {
  readonly minBits: number;
  readonly maxBits: number;
  readonly stepBits: number;
}

/** One row of the algorithm table. */
export interface AlgorithmInfo {
  readonly name: AlgorithmName;
  readonly kind: AlgorithmKind;
  /** Accepted lengths of the whole key material in bits, salt/nonce included (Android's check). */
  readonly keyLengthsBits: readonly number[];
  /** Bytes at the end of the key material that are a salt (AEAD) or nonce (CTR), not key. */
  readonly saltLength: number;
  /** Accepted truncation lengths; `undefined` for encryption algorithms (Android ignores it). */
  readonly truncation: TruncationRange | undefined;
  /** Bytes of IV carried in every packet (0 for integrity-only algorithms and null). */
  readonly ivLength: number;
  /** Cipher block size in bytes (1 for stream modes and integrity algorithms). */
  readonly blockSize: number;
  /** Android SDK level from which the algorithm is mandatory (`undefined`: not public on Android). */
  readonly androidRequiredSdk: number | undefined;
}

const ROWS: readonly AlgorithmInfo[] = [
  // RFC 3602: AES-CBC, 16-byte IV, 16-byte blocks.
  {
    name: 'cbc(aes)',
    kind: 'encryption',
    keyLengthsBits: [128, 192, 256],
    saltLength: 0,
    truncation: undefined,
    ivLength: 16,
    blockSize: 16,
    androidRequiredSdk: 0,
  },
  // RFC 3686: AES-CTR, key ‖ 4-byte nonce, 8-byte IV, stream mode.
  {
    name: 'rfc3686(ctr(aes))',
    kind: 'encryption',
    keyLengthsBits: [160, 224, 288],
    saltLength: 4,
    truncation: undefined,
    ivLength: 8,
    blockSize: 1,
    androidRequiredSdk: 31,
  },
  // RFC 2410: NULL encryption (Android's @hide CRYPT_NULL).
  {
    name: 'ecb(cipher_null)',
    kind: 'encryption',
    keyLengthsBits: [0],
    saltLength: 0,
    truncation: undefined,
    ivLength: 0,
    blockSize: 1,
    androidRequiredSdk: undefined,
  },
  // RFC 2403, RFC 2404, RFC 4868: HMAC with Android's truncation ranges (bits, inclusive).
  hmac('hmac(md5)', 128, 96, 128),
  hmac('hmac(sha1)', 160, 96, 160),
  hmac('hmac(sha256)', 256, 96, 256),
  hmac('hmac(sha384)', 384, 192, 384),
  hmac('hmac(sha512)', 512, 256, 512),
  // RFC 3566 AES-XCBC-MAC-96 and RFC 4494 AES-CMAC-96.
  {
    name: 'xcbc(aes)',
    kind: 'authentication',
    keyLengthsBits: [128],
    saltLength: 0,
    truncation: { minBits: 96, maxBits: 96, stepBits: 1 },
    ivLength: 0,
    blockSize: 1,
    androidRequiredSdk: 31,
  },
  {
    name: 'cmac(aes)',
    kind: 'authentication',
    keyLengthsBits: [128],
    saltLength: 0,
    truncation: { minBits: 96, maxBits: 96, stepBits: 1 },
    ivLength: 0,
    blockSize: 1,
    androidRequiredSdk: 31,
  },
  // RFC 4106: AES-GCM, key ‖ 4-byte salt, 8-byte IV, ICV 8/12/16 bytes (RFC 4106 §6).
  {
    name: 'rfc4106(gcm(aes))',
    kind: 'aead',
    keyLengthsBits: [160, 224, 288],
    saltLength: 4,
    truncation: { minBits: 64, maxBits: 128, stepBits: 32 },
    ivLength: 8,
    blockSize: 1,
    androidRequiredSdk: 0,
  },
  // RFC 7634: ChaCha20-Poly1305, 256-bit key ‖ 4-byte salt, 8-byte IV, 16-byte ICV.
  {
    name: 'rfc7539esp(chacha20,poly1305)',
    kind: 'aead',
    keyLengthsBits: [288],
    saltLength: 4,
    truncation: { minBits: 128, maxBits: 128, stepBits: 1 },
    ivLength: 8,
    blockSize: 1,
    androidRequiredSdk: 31,
  },
];

function hmac(name: AuthName, keyBits: number, minBits: number, maxBits: number): AlgorithmInfo {
  return {
    name,
    kind: 'authentication',
    keyLengthsBits: [keyBits],
    saltLength: 0,
    // Android does not enforce multiples of 8 (`IpSecAlgorithm`); the ICV is floor(bits / 8) bytes,
    // as Linux computes it (alg_trunc_len / 8).
    truncation: { minBits, maxBits, stepBits: 1 },
    ivLength: 0,
    blockSize: 1,
    androidRequiredSdk: 0,
  };
}

/**
 * Every algorithm the engine implements, by name.
 *
 * @example Validate an algorithm before building an SA
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ALGORITHMS } from 'tsnetd/esp';
 * const info = ALGORITHMS.get('hmac(sha256)');
 * assert.equal(info?.keyLengthsBits.includes(256), true);
 * ```
 */
export const ALGORITHMS: ReadonlyMap<string, AlgorithmInfo> = new Map(
  ROWS.map((row) => [row.name, Object.freeze(row)] as const),
);

/**
 * Tells whether `bits` is an accepted truncation (ICV) length of `info`.
 *
 * @param info a row of {@link ALGORITHMS}
 * @param bits the truncation length in bits
 * @returns `true` when accepted; always `false` for encryption algorithms
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ALGORITHMS, isValidTruncationBits } from 'tsnetd/esp';
 * assert.equal(isValidTruncationBits(ALGORITHMS.get('rfc4106(gcm(aes))')!, 96), true);
 * ```
 */
export function isValidTruncationBits(info: AlgorithmInfo, bits: number): boolean {
  const t = info.truncation;
  if (t === undefined || !Number.isInteger(bits)) return false;
  return bits >= t.minBits && bits <= t.maxBits && (bits - t.minBits) % t.stepBits === 0;
}
