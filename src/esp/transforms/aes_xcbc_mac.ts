/**
 * AES-XCBC-MAC (RFC 3566) with a 128-bit key, the MAC behind ESP's AES-XCBC-MAC-96.
 *
 * - RFC 3566 §4: K1 = AES-128(K, 0x01^16), K2 = AES-128(K, 0x02^16), K3 = AES-128(K, 0x03^16),
 *   derived once at creation. CBC-MAC under K1 with a zero IV; the last block is XORed with K2 when
 *   it is complete, or padded with 0x80 00… and XORed with K3 (the empty message is one padded
 *   block). RFC 3566 fixes the key at 128 bits.
 * - RFC 3566 §4 / §5: ESP uses the first 96 bits; {@link AesXcbcMac.compute} returns all 16 bytes
 *   and the engine truncates.
 *
 * Built on node:crypto: `aes-128-ecb` (no padding) derives K1-K3; the chaining runs through one
 * long-lived `aes-128-cbc` context keyed with K1, so a packet costs one native call instead of one
 * per block. OpenSSL keeps the last ciphertext block as the next IV; `compute` XORs it into the
 * first block of the next message, which is the same as restarting CBC with a zero IV.
 *
 * Key hygiene: neither K nor K1 is kept in JavaScript memory (OpenSSL holds the K1 schedule); K2,
 * K3 and scratch buffers live in `#private` fields, are zeroed by `dispose()`, and never appear in
 * `util.inspect`, `JSON.stringify` or `String()`.
 *
 * @module
 */
import { type Cipher, createCipheriv } from 'node:crypto';
import type { Mac } from './mac.ts';

/** AES-XCBC-MAC key length in bytes (RFC 3566 §4: 128-bit keys only). */
export const AES_XCBC_MAC_KEY_LENGTH = 16;
/** Full AES-XCBC-MAC tag length in bytes. */
export const AES_XCBC_MAC_TAG_LENGTH = 16;

const BLOCK_LENGTH = 16;
/** Largest message whose padded copy is kept for reuse; longer ones use a one-off buffer. */
const MAX_RETAINED_SCRATCH_LENGTH = 65536 + BLOCK_LENGTH;

function disposedError(): TypeError {
  return Object.assign(new TypeError('Cannot compute AES-XCBC-MAC: the MAC was disposed'), {
    code: 'ERR_ESP_MAC_DISPOSED',
  });
}

/**
 * AES-XCBC-MAC with a 16-byte key (RFC 3566), returning the full 16-byte tag.
 *
 * @example RFC 3566 §4.6 test case 2, truncated to AES-XCBC-MAC-96
 * ```ts
 * import { AesXcbcMac } from './aes_xcbc_mac.ts';
 * const mac = new AesXcbcMac(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));
 * const tag = mac.compute([Uint8Array.of(0, 1, 2)]);
 * Buffer.from(tag).toString('hex');               // '5b376580ae2f19afe7219ceef172756f'
 * Buffer.from(tag.subarray(0, 12)).toString('hex'); // '5b376580ae2f19afe7219cee'
 * mac.dispose();
 * ```
 */
export class AesXcbcMac implements Mac {
  #cbc: Cipher | undefined;
  /** The CBC context's pending IV: the last ciphertext block it produced. */
  readonly #chain = new Uint8Array(BLOCK_LENGTH);
  readonly #k2: Uint8Array;
  readonly #k3: Uint8Array;
  #scratch = new Uint8Array(256);

  /**
   * @param key the 16-byte key K; used once to derive K1-K3, not retained
   * @throws {TypeError} if `key` is not a Uint8Array
   * @throws {RangeError} if `key` is not 16 bytes long
   */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array)) {
      throw new TypeError('Cannot create AES-XCBC-MAC: key must be a Uint8Array');
    }
    if (key.length !== AES_XCBC_MAC_KEY_LENGTH) {
      throw new RangeError(
        `Cannot create AES-XCBC-MAC: key must be ${AES_XCBC_MAC_KEY_LENGTH} bytes, got ${key.length}`,
      );
    }
    const ecb = createCipheriv('aes-128-ecb', key, null);
    ecb.setAutoPadding(false);
    const constants = new Uint8Array(3 * BLOCK_LENGTH);
    constants.fill(0x01, 0, BLOCK_LENGTH);
    constants.fill(0x02, BLOCK_LENGTH, 2 * BLOCK_LENGTH);
    constants.fill(0x03, 2 * BLOCK_LENGTH);
    const derived = ecb.update(constants); // RFC 3566 §4 (1): K1 ‖ K2 ‖ K3
    ecb.final();
    const k1 = derived.subarray(0, BLOCK_LENGTH);
    this.#k2 = Uint8Array.from(derived.subarray(BLOCK_LENGTH, 2 * BLOCK_LENGTH));
    this.#k3 = Uint8Array.from(derived.subarray(2 * BLOCK_LENGTH, 3 * BLOCK_LENGTH));
    const cbc = createCipheriv('aes-128-cbc', k1, new Uint8Array(BLOCK_LENGTH));
    cbc.setAutoPadding(false);
    derived.fill(0);
    this.#cbc = cbc;
  }

  /**
   * Computes AES-XCBC-MAC over the concatenation of `parts` (RFC 3566 §4).
   *
   * @param parts byte ranges, MACed as if concatenated; not retained, not modified
   * @returns a new 16-byte tag owned by the caller
   * @throws {TypeError} after {@link dispose} (code `ERR_ESP_MAC_DISPOSED`), or if a part is not
   *   a Uint8Array
   */
  compute(parts: readonly Uint8Array[]): Uint8Array {
    const cbc = this.#cbc;
    if (cbc === undefined) throw disposedError();
    let total = 0;
    for (const part of parts) {
      if (!(part instanceof Uint8Array)) {
        throw new TypeError('Cannot compute AES-XCBC-MAC: every part must be a Uint8Array');
      }
      total += part.length;
    }
    const blocks = total === 0 ? 1 : Math.ceil(total / BLOCK_LENGTH);
    const length = blocks * BLOCK_LENGTH;
    let buffer = this.#scratch;
    if (buffer.length < length) {
      buffer = new Uint8Array(length);
      if (length <= MAX_RETAINED_SCRATCH_LENGTH) {
        this.#scratch.fill(0);
        this.#scratch = buffer;
      }
    }
    let offset = 0;
    for (const part of parts) {
      buffer.set(part, offset);
      offset += part.length;
    }
    // RFC 3566 §4 (3): complete last block → K2, otherwise pad 0x80 00… and K3.
    const complete = total !== 0 && total % BLOCK_LENGTH === 0;
    if (!complete) {
      buffer[total] = 0x80;
      buffer.fill(0, total + 1, length);
    }
    const subkey = complete ? this.#k2 : this.#k3;
    const last = length - BLOCK_LENGTH;
    for (let i = 0; i < BLOCK_LENGTH; i++) {
      buffer[last + i] = buffer[last + i]! ^ subkey[i]!;
    }
    // Cancel the IV the CBC context carries over from the previous message (E[0] = 0).
    const chain = this.#chain;
    for (let i = 0; i < BLOCK_LENGTH; i++) buffer[i] = buffer[i]! ^ chain[i]!;
    const out = cbc.update(buffer.subarray(0, length));
    const tag = new Uint8Array(AES_XCBC_MAC_TAG_LENGTH);
    tag.set(out.subarray(length - BLOCK_LENGTH, length));
    chain.set(tag);
    return tag;
  }

  /** Zeroes the subkeys and buffers and releases the cipher context; further use throws. */
  dispose(): void {
    const cbc = this.#cbc;
    if (cbc === undefined) return;
    this.#cbc = undefined;
    cbc.final();
    this.#k2.fill(0);
    this.#k3.fill(0);
    this.#chain.fill(0);
    this.#scratch.fill(0);
  }

  /** Disposes the MAC (for `using`). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  get [Symbol.toStringTag](): string {
    return 'AesXcbcMac';
  }
}

/**
 * Creates an AES-XCBC-MAC instance (RFC 3566) for a 16-byte key.
 *
 * @example
 * ```ts
 * import { createAesXcbcMac } from './aes_xcbc_mac.ts';
 * const mac = createAesXcbcMac(new Uint8Array(16));
 * const icv = mac.compute([new Uint8Array(8)]).subarray(0, 12); // AES-XCBC-MAC-96
 * mac.dispose();
 * ```
 * @throws {TypeError} if `key` is not a Uint8Array
 * @throws {RangeError} if `key` is not 16 bytes long
 */
export function createAesXcbcMac(key: Uint8Array): Mac {
  return new AesXcbcMac(key);
}
