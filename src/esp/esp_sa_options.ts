/**
 * Options of ESP SAs and their validation (Android's `IpSecAlgorithm.checkValidOrThrow` rules,
 * plus RFC 4303 §2.1 SPI and §5 "not both NULL").
 *
 * Validation throws `TypeError` (wrong type, unsupported algorithm, forbidden combination) or
 * `RangeError` (wrong length or value) at the API boundary. Messages never contain key bytes.
 *
 * @module
 */
import type { IvSource } from './iv_source.ts';
import {
  type AeadName,
  ALGORITHMS,
  type AlgorithmInfo,
  type AlgorithmKind,
  type AuthName,
  type CipherName,
  isValidTruncationBits,
} from './transform.ts';

/**
 * Options common to inbound and outbound SAs.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { EspOutboundSa, type EspSaOptions } from 'tsnetd/esp';
 * const keyAndSalt20Bytes = randomBytes(20);
 * const options: EspSaOptions = {
 *   spi: 0x1234,
 *   aead: { name: 'rfc4106(gcm(aes))', key: keyAndSalt20Bytes, icvLengthBits: 128 },
 * };
 * using sa = new EspOutboundSa(options);
 * ```
 */
export interface EspSaOptions {
  /** uint32; 0 is refused (RFC 4303 §2.1). */
  readonly spi: number;
  /** Either `aead`, or `cipher` and/or `auth` (not both NULL: RFC 4303 §5). */
  readonly aead?: {
    readonly name: AeadName;
    /** key ‖ salt(4); copied. */
    readonly key: Uint8Array;
    /** GCM 64 | 96 | 128, ChaCha20-Poly1305 128. */
    readonly icvLengthBits: number;
  };
  readonly cipher?: {
    readonly name: CipherName;
    /** CTR: key ‖ nonce(4); NULL: empty; copied. */
    readonly key: Uint8Array;
  };
  readonly auth?: {
    readonly name: AuthName;
    /** Copied. */
    readonly key: Uint8Array;
    readonly truncationLengthBits: number;
  };
  /** Extended (64-bit) sequence numbers, RFC 4303 §2.2.1. Default `false`. */
  readonly esn?: boolean;
  /** Default: counter-based for GCM/CTR/ChaCha20-Poly1305, random for CBC. */
  readonly ivSource?: IvSource;
}

/**
 * The algorithms of an SA and their keys, as every layer that builds one passes them (the
 * userspace data path, the kernel layer, the IpSecManager adapters).
 */
export type EspSaAlgorithms = Pick<EspSaOptions, 'aead' | 'cipher' | 'auth'>;

/** Internal: validated options; keys are the caller's arrays (copied by the transforms). */
export interface ResolvedSaOptions {
  readonly spi: number;
  readonly esn: boolean;
  readonly aead:
    | { readonly info: AlgorithmInfo; readonly key: Uint8Array; readonly icvLength: number }
    | undefined;
  /** `undefined` = NULL encryption. */
  readonly cipher: { readonly info: AlgorithmInfo; readonly key: Uint8Array } | undefined;
  /** `undefined` = no integrity (encryption-only SA). */
  readonly auth:
    | { readonly info: AlgorithmInfo; readonly key: Uint8Array; readonly icvLength: number }
    | undefined;
  readonly ivSource: IvSource | undefined;
  /** Algorithm summary without key material, for inspection. */
  readonly algorithms: string;
}

const PREFIX = 'Cannot create ESP SA';

/**
 * Validates SA options.
 *
 * @throws {TypeError} wrong types, unsupported algorithms, AEAD combined with cipher/auth, or
 *   neither encryption nor integrity
 * @throws {RangeError} SPI, key length or truncation length out of range
 */
export function resolveSaOptions(options: EspSaOptions): ResolvedSaOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${PREFIX}: options must be an object`);
  }
  const { spi } = options;
  if (typeof spi !== 'number' || !Number.isInteger(spi) || spi < 1 || spi > 0xffffffff) {
    throw new RangeError(`${PREFIX}: spi must be an integer in 1..0xffffffff, got ${String(spi)}`);
  }
  const esn = options.esn ?? false;
  if (typeof esn !== 'boolean') throw new TypeError(`${PREFIX}: esn must be a boolean`);
  const ivSource = options.ivSource;
  if (
    ivSource !== undefined &&
    (typeof ivSource !== 'object' || ivSource === null || typeof ivSource.next !== 'function')
  ) {
    throw new TypeError(`${PREFIX}: ivSource must have a next() method`);
  }

  for (const field of ['aead', 'cipher', 'auth'] as const) {
    const value: unknown = options[field];
    if (value !== undefined && (typeof value !== 'object' || value === null)) {
      throw new TypeError(`${PREFIX}: ${field} must be an object`);
    }
  }

  if (options.aead !== undefined) {
    if (options.cipher !== undefined || options.auth !== undefined) {
      throw new TypeError(`${PREFIX}: aead excludes cipher and auth`);
    }
    const { name, key, icvLengthBits } = options.aead;
    const info = lookup(name, 'aead');
    checkKey(info, key);
    checkTruncation(info, icvLengthBits, 'icvLengthBits');
    return {
      spi,
      esn,
      aead: { info, key, icvLength: Math.floor(icvLengthBits / 8) },
      cipher: undefined,
      auth: undefined,
      ivSource,
      algorithms: `${info.name} icv ${icvLengthBits}`,
    };
  }

  let cipher: ResolvedSaOptions['cipher'];
  if (options.cipher !== undefined) {
    const info = lookup(options.cipher.name, 'encryption');
    checkKey(info, options.cipher.key);
    if (info.name !== 'ecb(cipher_null)') cipher = { info, key: options.cipher.key };
  }
  let auth: ResolvedSaOptions['auth'];
  if (options.auth !== undefined) {
    const { name, key, truncationLengthBits } = options.auth;
    const info = lookup(name, 'authentication');
    checkKey(info, key);
    checkTruncation(info, truncationLengthBits, 'truncationLengthBits');
    auth = { info, key, icvLength: Math.floor(truncationLengthBits / 8) };
  }
  if (cipher === undefined && auth === undefined) {
    throw new TypeError(`${PREFIX}: encryption and integrity must not both be NULL (RFC 4303 §5)`);
  }
  const cipherName =
    cipher === undefined
      ? 'ecb(cipher_null)'
      : `${cipher.info.name} ${cipher.key.length * 8 - cipher.info.saltLength * 8}`;
  const authName =
    auth === undefined
      ? 'no integrity'
      : `${auth.info.name} trunc ${options.auth?.truncationLengthBits}`;
  return {
    spi,
    esn,
    aead: undefined,
    cipher,
    auth,
    ivSource,
    algorithms: `${cipherName} + ${authName}`,
  };
}

function lookup(name: unknown, kind: AlgorithmKind): AlgorithmInfo {
  const info = typeof name === 'string' ? ALGORITHMS.get(name) : undefined;
  if (info === undefined || info.kind !== kind) {
    throw new TypeError(`${PREFIX}: unsupported ${kind} algorithm '${String(name)}'`);
  }
  return info;
}

function checkKey(info: AlgorithmInfo, key: unknown): void {
  if (!(key instanceof Uint8Array)) {
    throw new TypeError(`${PREFIX}: key of '${info.name}' must be a Uint8Array`);
  }
  const bits = key.length * 8;
  if (!info.keyLengthsBits.includes(bits)) {
    throw new RangeError(
      `${PREFIX}: key of '${info.name}' is ${bits} bits, expected ${info.keyLengthsBits.join(' or ')}`,
    );
  }
}

function checkTruncation(info: AlgorithmInfo, bits: unknown, field: string): void {
  if (typeof bits !== 'number' || !isValidTruncationBits(info, bits)) {
    const t = info.truncation!;
    const allowed =
      t.minBits === t.maxBits
        ? `${t.minBits}`
        : t.stepBits === 1
          ? `${t.minBits}..${t.maxBits}`
          : `${t.minBits}..${t.maxBits} in steps of ${t.stepBits}`;
    throw new RangeError(
      `${PREFIX}: ${field} of '${info.name}' is ${String(bits)}, expected ${allowed}`,
    );
  }
}
