/**
 * The encryption half of an ESP SA with separate algorithms (RFC 4303 §3.3.2):
 * AES-CBC (RFC 3602), AES-CTR (RFC 3686) and NULL (RFC 2410).
 *
 * - CBC: 16-byte IV in the packet, ciphertext a multiple of 16 bytes, no cipher padding
 *   (ESP padding already block-aligns the plaintext).
 * - CTR: key material = AES key ‖ 4-byte nonce; 8-byte IV in the packet; counter block =
 *   nonce ‖ IV ‖ be32(1) (RFC 3686 §4).
 * - NULL: ciphertext = plaintext, no IV.
 *
 * @module
 */
import { type Cipher, createCipheriv, createDecipheriv, type Decipher } from 'node:crypto';

/** Internal: encrypts/decrypts the ciphertext range of an ESP packet. */
export interface EspEncryption {
  readonly ivLength: number;
  readonly blockSize: number;
  /** Encrypts `packet[start, end)` in place; the IV is at `packet[8, 8 + ivLength)`. */
  encryptInPlace(packet: Uint8Array, start: number, end: number): void;
  /** Decrypts `packet[start, end)` into a new buffer; `packet` is not modified. */
  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array;
  dispose(): void;
}

const IV_OFFSET = 8;
const CBC_BLOCK = 16;

/** Node's names of AES-CBC for the three key sizes. */
type CbcAlgorithm = 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';
type CtrAlgorithm = 'aes-128-ctr' | 'aes-192-ctr' | 'aes-256-ctr';

/**
 * AES-CBC with ESP's explicit 16-byte IV (RFC 3602).
 *
 * node:crypto cannot re-IV a cipher object, and creating one per packet (key schedule included)
 * is most of the cost of CBC. So each SA keeps one long-lived encryption and one decryption
 * context (no padding, never finalised until `dispose()`); OpenSSL carries the last ciphertext
 * block over as the chaining value of the next call. CBC with IV `iv` is recovered exactly:
 * - encrypt: the first plaintext block is XORed with `iv ⊕ chain` before it goes in, so the
 *   context computes `E(P1 ⊕ iv)`;
 * - decrypt: the context outputs `D(C1) ⊕ chain`; XORing `chain ⊕ iv` into the first block gives
 *   `D(C1) ⊕ iv`.
 * `chain` is the last ciphertext block the context saw (public data). The same trick drives
 * the CBC-MAC core (`_cbc_mac.ts`).
 *
 * Key hygiene: the key copy is zeroed by `dispose()`, which also finalises (frees and cleanses)
 * both OpenSSL contexts; until then OpenSSL holds the key schedule, as it does for the
 * XCBC/CMAC contexts. A disposed instance recreates its contexts from the zeroed copy.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { CbcEncryption } from './esp_encryption.ts';
 * const enc = new CbcEncryption(randomBytes(16));
 * const packet = new Uint8Array(8 + 16 + 16); // header ‖ IV ‖ one block
 * packet.set(randomBytes(16), 8);
 * enc.encryptInPlace(packet, 24, 40);
 * assert.ok(packet.subarray(24, 40).some((b) => b !== 0)); // encrypted
 * assert.ok(enc.decrypt(packet, 24, 40).every((b) => b === 0)); // the zero block again
 * enc.dispose();
 * ```
 */
export class CbcEncryption implements EspEncryption {
  readonly ivLength = 16;
  readonly blockSize = 16;
  readonly #algorithm: CbcAlgorithm;
  readonly #key: Uint8Array;
  #encryptor: Cipher | undefined;
  #decryptor: Decipher | undefined;
  /** Last ciphertext block the encryptor produced (its pending chaining value). */
  readonly #encryptChain = new Uint8Array(CBC_BLOCK);
  /** Last ciphertext block the decryptor consumed (its pending chaining value). */
  readonly #decryptChain = new Uint8Array(CBC_BLOCK);

  /** @param key 16, 24 or 32 bytes; copied */
  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
    this.#algorithm = `aes-${key.length * 8}-cbc` as CbcAlgorithm;
  }

  encryptInPlace(packet: Uint8Array, start: number, end: number): void {
    checkBlocks(end - start);
    const cipher = this.#encryptor ?? this.#createEncryptor();
    const chain = this.#encryptChain;
    for (let i = 0; i < CBC_BLOCK; i++) {
      packet[start + i] = packet[start + i]! ^ packet[IV_OFFSET + i]! ^ chain[i]!;
    }
    const ciphertext = cipher.update(packet.subarray(start, end));
    packet.set(ciphertext, start);
    const last = end - start - CBC_BLOCK;
    for (let i = 0; i < CBC_BLOCK; i++) chain[i] = ciphertext[last + i]!;
  }

  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array {
    checkBlocks(end - start);
    const decipher = this.#decryptor ?? this.#createDecryptor();
    const plaintext = decipher.update(packet.subarray(start, end));
    const chain = this.#decryptChain;
    for (let i = 0; i < CBC_BLOCK; i++) {
      plaintext[i] = plaintext[i]! ^ chain[i]! ^ packet[IV_OFFSET + i]!;
      chain[i] = packet[end - CBC_BLOCK + i]!;
    }
    return plaintext;
  }

  dispose(): void {
    this.#key.fill(0);
    const encryptor = this.#encryptor;
    const decryptor = this.#decryptor;
    this.#encryptor = undefined;
    this.#decryptor = undefined;
    encryptor?.final();
    decryptor?.final();
    this.#encryptChain.fill(0);
    this.#decryptChain.fill(0);
  }

  #createEncryptor(): Cipher {
    const cipher = createCipheriv(this.#algorithm, this.#key, this.#encryptChain);
    cipher.setAutoPadding(false);
    this.#encryptor = cipher;
    return cipher;
  }

  #createDecryptor(): Decipher {
    const decipher = createDecipheriv(this.#algorithm, this.#key, this.#decryptChain);
    decipher.setAutoPadding(false);
    this.#decryptor = decipher;
    return decipher;
  }
}

/**
 * The chaining of the long-lived CBC contexts stays correct only if every call is a whole
 * number of blocks (at least one); ESP padding and `open()`'s length check guarantee it.
 */
function checkBlocks(length: number): void {
  if (length < CBC_BLOCK || length % CBC_BLOCK !== 0) {
    throw new RangeError(
      `Cannot process CBC data: length must be a positive multiple of ${CBC_BLOCK}, got ${length}`,
    );
  }
}

/**
 * AES-CTR as RFC 3686 uses it in ESP.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { CtrEncryption } from './esp_encryption.ts';
 * const keyMaterial20Bytes = randomBytes(20); // AES key ‖ nonce
 * const enc = new CtrEncryption(keyMaterial20Bytes.subarray(0, 16), keyMaterial20Bytes.subarray(16));
 * const packet = new Uint8Array(8 + 8 + 5); // header ‖ IV ‖ data (no block alignment)
 * packet.set(randomBytes(8), 8);
 * enc.encryptInPlace(packet, 16, 21);
 * assert.ok(enc.decrypt(packet, 16, 21).every((b) => b === 0)); // the zero bytes again
 * enc.dispose();
 * ```
 */
export class CtrEncryption implements EspEncryption {
  readonly ivLength = 8;
  readonly blockSize = 1;
  readonly #algorithm: CtrAlgorithm;
  readonly #key: Uint8Array;
  /** nonce(4) ‖ IV(8) ‖ block counter be32(1) (RFC 3686 §4). */
  readonly #counterBlock = new Uint8Array(16);

  /**
   * @param key the AES key, 16/24/32 bytes; copied
   * @param nonce the 4-byte nonce from the end of the key material; copied
   */
  constructor(key: Uint8Array, nonce: Uint8Array) {
    this.#key = Uint8Array.from(key);
    this.#algorithm = `aes-${key.length * 8}-ctr` as CtrAlgorithm;
    this.#counterBlock.set(nonce.subarray(0, 4), 0);
    this.#counterBlock[15] = 1;
  }

  encryptInPlace(packet: Uint8Array, start: number, end: number): void {
    const cipher = createCipheriv(this.#algorithm, this.#key, this.#loadIv(packet));
    packet.set(cipher.update(packet.subarray(start, end)), start);
  }

  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array {
    const decipher = createDecipheriv(this.#algorithm, this.#key, this.#loadIv(packet));
    return decipher.update(packet.subarray(start, end));
  }

  dispose(): void {
    this.#key.fill(0);
    this.#counterBlock.fill(0, 0, 12); // nonce and last IV; the block counter stays 1
  }

  #loadIv(packet: Uint8Array): Uint8Array {
    const block = this.#counterBlock;
    for (let i = 0; i < 8; i++) block[4 + i] = packet[IV_OFFSET + i]!;
    return block;
  }
}

/**
 * NULL encryption (RFC 2410): the "ciphertext" is the plaintext. Only valid with integrity.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { NullEncryption } from './esp_encryption.ts';
 * const enc = new NullEncryption(); // RFC 2410: no IV, the data stays clear
 * assert.equal(enc.ivLength, 0);
 * assert.deepEqual(enc.decrypt(Uint8Array.of(1, 2, 3), 1, 3), Uint8Array.of(2, 3));
 * ```
 */
export class NullEncryption implements EspEncryption {
  readonly ivLength = 0;
  readonly blockSize = 1;

  encryptInPlace(_packet: Uint8Array, _start: number, _end: number): void {}

  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array {
    // A copy (Buffer#slice would return a view when `packet` is a Buffer).
    const plaintext = new Uint8Array(end - start);
    plaintext.set(packet.subarray(start, end));
    return plaintext;
  }

  dispose(): void {}
}
