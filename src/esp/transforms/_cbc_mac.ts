/**
 * The CBC-MAC core shared by AES-CMAC (RFC 4493 §2.4) and AES-XCBC-MAC (RFC 3566 §4): CBC
 * encryption with a zero IV over the message, whose last block is XORed with one subkey when it
 * is complete, or padded with 0x80 00… and XORed with the other subkey (the empty message is one
 * padded block). The two MACs differ only in how the chaining key and the two subkeys are derived.
 *
 * Built on node:crypto: the chaining runs through one long-lived `aes-128-cbc` context, so a
 * packet costs one native call instead of one per block (about 20× faster at 1400 bytes, see
 * docs/replay-window.md). OpenSSL keeps the last ciphertext block as the next IV;
 * `compute` XORs it into the first block of the next message, which is the same as restarting CBC
 * with a zero IV.
 *
 * Key hygiene: the chaining key lives only in OpenSSL; subkeys and scratch buffers live in
 * `#private` fields, are zeroed by `dispose()`, and never appear in `util.inspect`,
 * `JSON.stringify` or `String()`.
 *
 * @module
 */
import { type Cipher, createCipheriv } from 'node:crypto';
import type { Mac } from './mac.ts';

/** AES block length in bytes. */
export const AES_BLOCK_LENGTH = 16;

/** AES-128 key length in bytes: the only key length of AES-CMAC and AES-XCBC-MAC. */
const AES_128_KEY_LENGTH = 16;

/** Largest message whose padded copy is kept for reuse; longer ones use a one-off buffer. */
const MAX_RETAINED_SCRATCH_LENGTH = 65536 + AES_BLOCK_LENGTH;

/**
 * CBC-MAC with final-block subkeys over AES-128. Takes ownership of both subkey buffers (zeroed
 * on dispose); the chaining key is copied into OpenSSL and not retained.
 */
export class CbcMacCore {
  readonly #name: string;
  #cbc: Cipher | undefined;
  /** The CBC context's pending IV: the last ciphertext block it produced. */
  readonly #chain = new Uint8Array(AES_BLOCK_LENGTH);
  readonly #completeSubkey: Uint8Array;
  readonly #paddedSubkey: Uint8Array;
  #scratch = new Uint8Array(256);

  constructor(
    name: string,
    chainKey: Uint8Array,
    completeSubkey: Uint8Array,
    paddedSubkey: Uint8Array,
  ) {
    this.#name = name;
    this.#completeSubkey = completeSubkey;
    this.#paddedSubkey = paddedSubkey;
    const cbc = createCipheriv('aes-128-cbc', chainKey, new Uint8Array(AES_BLOCK_LENGTH));
    cbc.setAutoPadding(false);
    this.#cbc = cbc;
  }

  /** The MAC of the concatenation of `parts`: a new 16-byte tag owned by the caller. */
  compute(parts: readonly Uint8Array[]): Uint8Array {
    const cbc = this.#cbc;
    if (cbc === undefined) {
      throw Object.assign(new TypeError(`Cannot compute ${this.#name}: the MAC was disposed`), {
        code: 'ERR_ESP_MAC_DISPOSED',
      });
    }
    let total = 0;
    for (const part of parts) {
      if (!(part instanceof Uint8Array)) {
        throw new TypeError(`Cannot compute ${this.#name}: every part must be a Uint8Array`);
      }
      total += part.length;
    }
    const blocks = total === 0 ? 1 : Math.ceil(total / AES_BLOCK_LENGTH);
    const length = blocks * AES_BLOCK_LENGTH;
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
    // Complete last block → the first subkey; otherwise pad 0x80 00… and the second.
    const complete = total !== 0 && total % AES_BLOCK_LENGTH === 0;
    if (!complete) {
      buffer[total] = 0x80;
      buffer.fill(0, total + 1, length);
    }
    const subkey = complete ? this.#completeSubkey : this.#paddedSubkey;
    const last = length - AES_BLOCK_LENGTH;
    for (let i = 0; i < AES_BLOCK_LENGTH; i++) {
      buffer[last + i] = buffer[last + i]! ^ subkey[i]!;
    }
    // Cancel the IV the CBC context carries over from the previous message (zero IV per message).
    const chain = this.#chain;
    for (let i = 0; i < AES_BLOCK_LENGTH; i++) buffer[i] = buffer[i]! ^ chain[i]!;
    const out = cbc.update(buffer.subarray(0, length));
    const tag = new Uint8Array(AES_BLOCK_LENGTH);
    tag.set(out.subarray(length - AES_BLOCK_LENGTH, length));
    chain.set(tag);
    return tag;
  }

  /** Zeroes the subkeys and buffers and releases the cipher context; further use throws. */
  dispose(): void {
    const cbc = this.#cbc;
    if (cbc === undefined) return;
    this.#cbc = undefined;
    cbc.final();
    this.#completeSubkey.fill(0);
    this.#paddedSubkey.fill(0);
    this.#chain.fill(0);
    this.#scratch.fill(0);
  }
}

/** Encrypts `blocks` (a whole number of AES blocks) with AES-128-ECB under `key`. */
export function aes128EcbEncrypt(key: Uint8Array, blocks: Uint8Array): Uint8Array {
  const ecb = createCipheriv('aes-128-ecb', key, null);
  ecb.setAutoPadding(false);
  const out = ecb.update(blocks);
  ecb.final();
  return out;
}

/**
 * The public MAC classes over {@link CbcMacCore} (`AesCmac`, `AesXcbcMac`): checks the 16-byte
 * key, lets the subclass derive its core (chaining key and subkeys), and forwards to it.
 */
export abstract class CbcMac implements Mac {
  readonly #core: CbcMacCore;

  /**
   * @param name the MAC's name in error messages
   * @param key the 16-byte AES-128 key; passed to `derive` once checked, not retained
   * @param derive builds the core from the checked key
   * @throws {TypeError} if `key` is not a Uint8Array
   * @throws {RangeError} if `key` is not 16 bytes long
   */
  protected constructor(name: string, key: Uint8Array, derive: (key: Uint8Array) => CbcMacCore) {
    if (!(key instanceof Uint8Array)) {
      throw new TypeError(`Cannot create ${name}: key must be a Uint8Array`);
    }
    if (key.length !== AES_128_KEY_LENGTH) {
      throw new RangeError(
        `Cannot create ${name}: key must be ${AES_128_KEY_LENGTH} bytes, got ${key.length}`,
      );
    }
    this.#core = derive(key);
  }

  /**
   * Computes the MAC over the concatenation of `parts`.
   *
   * @param parts byte ranges, MACed as if concatenated; not retained, not modified
   * @returns a new 16-byte tag owned by the caller
   * @throws {TypeError} after {@link dispose} (code `ERR_ESP_MAC_DISPOSED`), or if a part is not
   *   a Uint8Array
   */
  compute(parts: readonly Uint8Array[]): Uint8Array {
    return this.#core.compute(parts);
  }

  /** Zeroes the subkeys and buffers and releases the cipher context; further use throws. */
  dispose(): void {
    this.#core.dispose();
  }

  /** Disposes the MAC (for `using`). */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
