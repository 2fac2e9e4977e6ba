/**
 * `IpSecAlgorithm`: algorithm name + key material + truncation length, validated exactly as
 * Android's `IpSecAlgorithm.checkValidOrThrow`: name, then key length, then
 * truncation (ICV) length. Key material is copied in and out and never printed or serialised.
 */
import { truncateText } from './_socket_args.ts';
import { IllegalArgumentError } from './errors.ts';

/** How an algorithm is used in a transform (Android's @hide `isEncryption`/`isAuthentication`/`isAead`). */
export type AlgorithmKind = 'encryption' | 'authentication' | 'aead';

interface AlgorithmRule {
  readonly kind: AlgorithmKind;
  readonly keyLengthsBits: readonly number[];
  /** Allowed truncation lengths as an inclusive range or a set; `undefined` = ignored (encryption). */
  readonly truncation?: { readonly min: number; readonly max: number } | readonly number[];
}

/* Android 14 table (`IpSecAlgorithm`). */
const RULES: ReadonlyMap<string, AlgorithmRule> = new Map<string, AlgorithmRule>([
  ['cbc(aes)', { kind: 'encryption', keyLengthsBits: [128, 192, 256] }],
  ['rfc3686(ctr(aes))', { kind: 'encryption', keyLengthsBits: [160, 224, 288] }],
  [
    'hmac(md5)',
    { kind: 'authentication', keyLengthsBits: [128], truncation: { min: 96, max: 128 } },
  ],
  [
    'hmac(sha1)',
    { kind: 'authentication', keyLengthsBits: [160], truncation: { min: 96, max: 160 } },
  ],
  [
    'hmac(sha256)',
    { kind: 'authentication', keyLengthsBits: [256], truncation: { min: 96, max: 256 } },
  ],
  [
    'hmac(sha384)',
    { kind: 'authentication', keyLengthsBits: [384], truncation: { min: 192, max: 384 } },
  ],
  [
    'hmac(sha512)',
    { kind: 'authentication', keyLengthsBits: [512], truncation: { min: 256, max: 512 } },
  ],
  [
    'xcbc(aes)',
    { kind: 'authentication', keyLengthsBits: [128], truncation: { min: 96, max: 96 } },
  ],
  [
    'cmac(aes)',
    { kind: 'authentication', keyLengthsBits: [128], truncation: { min: 96, max: 96 } },
  ],
  [
    'rfc4106(gcm(aes))',
    { kind: 'aead', keyLengthsBits: [160, 224, 288], truncation: [64, 96, 128] },
  ],
  [
    'rfc7539esp(chacha20,poly1305)',
    { kind: 'aead', keyLengthsBits: [288], truncation: { min: 128, max: 128 } },
  ],
]);

function truncationValid(rule: AlgorithmRule, bits: number): boolean {
  const t = rule.truncation;
  if (t === undefined) return true;
  if ('min' in t) return bits >= t.min && bits <= t.max;
  return t.includes(bits);
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * An IPsec algorithm with its key (Android `android.net.IpSecAlgorithm`). Names are the Linux
 * crypto names Android uses; the constructor validates name, key length and truncation length in
 * Android's order and throws {@link IllegalArgumentError} with Android's message.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { IpSecAlgorithm } from 'tsnetd/ipsec';
 * const aead = new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(36), 128);
 * console.log(aead.getName(), aead.getTruncationLengthBits()); // rfc4106(gcm(aes)) 128
 * console.log(String(aead)); // {mName=rfc4106(gcm(aes)), mTruncLenBits=128}  (never the key)
 * ```
 */
export class IpSecAlgorithm {
  /** AES-CBC encryption, keys 128/192/256 bits (RFC 3602). */
  static readonly CRYPT_AES_CBC = 'cbc(aes)';
  /** AES-CTR encryption, key‖nonce 160/224/288 bits (RFC 3686). */
  static readonly CRYPT_AES_CTR = 'rfc3686(ctr(aes))';
  /** HMAC-MD5, 128-bit key, truncation 96–128 bits (RFC 2403). */
  static readonly AUTH_HMAC_MD5 = 'hmac(md5)';
  /** HMAC-SHA1, 160-bit key, truncation 96–160 bits (RFC 2404). */
  static readonly AUTH_HMAC_SHA1 = 'hmac(sha1)';
  /** HMAC-SHA256, 256-bit key, truncation 96–256 bits (RFC 4868). */
  static readonly AUTH_HMAC_SHA256 = 'hmac(sha256)';
  /** HMAC-SHA384, 384-bit key, truncation 192–384 bits (RFC 4868). */
  static readonly AUTH_HMAC_SHA384 = 'hmac(sha384)';
  /** HMAC-SHA512, 512-bit key, truncation 256–512 bits (RFC 4868). */
  static readonly AUTH_HMAC_SHA512 = 'hmac(sha512)';
  /** AES-XCBC-MAC-96, 128-bit key, truncation exactly 96 (RFC 3566). */
  static readonly AUTH_AES_XCBC = 'xcbc(aes)';
  /** AES-CMAC-96, 128-bit key, truncation exactly 96 (RFC 4494). */
  static readonly AUTH_AES_CMAC = 'cmac(aes)';
  /** AES-GCM AEAD, key‖salt 160/224/288 bits, ICV 64/96/128 (RFC 4106). */
  static readonly AUTH_CRYPT_AES_GCM = 'rfc4106(gcm(aes))';
  /** ChaCha20-Poly1305 AEAD, key‖salt 288 bits, ICV 128 (RFC 7634). */
  static readonly AUTH_CRYPT_CHACHA20_POLY1305 = 'rfc7539esp(chacha20,poly1305)';

  readonly #name: string;
  readonly #key: Uint8Array;
  readonly #truncLenBits: number;

  /**
   * @param name one of the constants of this class
   * @param key key material (copied); for CTR, GCM and ChaCha20-Poly1305 the last 4 bytes are the salt/nonce
   * @param truncLenBits truncation (ICV) length in bits; ignored for encryption algorithms; default 0,
   *   which every authentication or AEAD algorithm refuses (Android's 2-argument constructor)
   * @throws {IllegalArgumentError} "Unsupported algorithm: X", "Invalid key material keyLength: N",
   *   "Invalid truncation keyLength: N", in that order
   */
  constructor(name: string, key: Uint8Array, truncLenBits = 0) {
    if (typeof name !== 'string')
      throw new TypeError('Cannot create IpSecAlgorithm: name must be a string');
    if (!(key instanceof Uint8Array)) {
      throw new TypeError('Cannot create IpSecAlgorithm: key must be a Uint8Array');
    }
    if (!Number.isInteger(truncLenBits)) {
      throw new TypeError('Cannot create IpSecAlgorithm: truncLenBits must be an integer');
    }
    checkValidOrThrow(name, key.length * 8, truncLenBits);
    this.#name = name;
    // Uint8Array.from, not key.slice(): Buffer#slice is a view, and the key must not alias the
    // caller's buffer (zeroing it, or mutating getKey()'s result, must not change this key).
    this.#key = Uint8Array.from(key);
    this.#truncLenBits = truncLenBits;
  }

  /**
   * The set of algorithm names this implementation supports: all 11 public Android algorithms.
   *
   * @example
   * ```ts
   * import { IpSecAlgorithm } from 'tsnetd/ipsec';
   * console.log(IpSecAlgorithm.getSupportedAlgorithms().has('cmac(aes)')); // true
   * ```
   */
  static getSupportedAlgorithms(): ReadonlySet<string> {
    return new Set(RULES.keys());
  }

  /**
   * The algorithm name.
   *
   * @example
   * ```ts
   * import { IpSecAlgorithm } from 'tsnetd/ipsec';
   * console.log(new IpSecAlgorithm('cbc(aes)', new Uint8Array(16)).getName()); // cbc(aes)
   * ```
   */
  getName(): string {
    return this.#name;
  }

  /**
   * A copy of the key material (Android clones it too).
   *
   * @example
   * ```ts
   * import { IpSecAlgorithm } from 'tsnetd/ipsec';
   * console.log(new IpSecAlgorithm('cbc(aes)', new Uint8Array(16)).getKey().length); // 16
   * ```
   */
  getKey(): Uint8Array {
    return Uint8Array.from(this.#key);
  }

  /**
   * The truncation (ICV) length in bits.
   *
   * @example
   * ```ts
   * import { IpSecAlgorithm } from 'tsnetd/ipsec';
   * console.log(new IpSecAlgorithm('hmac(sha256)', new Uint8Array(32), 128).getTruncationLengthBits()); // 128
   * ```
   */
  getTruncationLengthBits(): number {
    return this.#truncLenBits;
  }

  /** How the algorithm is used: `'encryption'`, `'authentication'` or `'aead'`. */
  get kind(): AlgorithmKind {
    return (RULES.get(this.#name) as AlgorithmRule).kind;
  }

  /** Android's `toString()`: name and truncation, never the key. */
  toString(): string {
    return `{mName=${this.#name}, mTruncLenBits=${this.#truncLenBits}}`;
  }

  /** JSON form without the key. */
  toJSON(): { name: string; truncLenBits: number } {
    return { name: this.#name, truncLenBits: this.#truncLenBits };
  }

  [INSPECT](): string {
    return `IpSecAlgorithm ${this.toString()}`;
  }
}

/**
 * Android's `checkValidOrThrow(name, keyLen, truncLen)`: name, key length, truncation, in that order.
 *
 * @throws {IllegalArgumentError} with Android's messages
 */
export function checkValidOrThrow(name: string, keyLenBits: number, truncLenBits: number): void {
  const rule = RULES.get(name);
  if (rule === undefined)
    throw new IllegalArgumentError(`Unsupported algorithm: ${truncateText(name)}`);
  if (!rule.keyLengthsBits.includes(keyLenBits)) {
    throw new IllegalArgumentError(`Invalid key material keyLength: ${keyLenBits}`);
  }
  if (!truncationValid(rule, truncLenBits)) {
    throw new IllegalArgumentError(`Invalid truncation keyLength: ${truncLenBits}`);
  }
}
