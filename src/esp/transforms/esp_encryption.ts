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
import { createCipheriv, createDecipheriv } from 'node:crypto';

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

/** Node's names of AES-CBC for the three key sizes. */
type CbcAlgorithm = 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc';
type CtrAlgorithm = 'aes-128-ctr' | 'aes-192-ctr' | 'aes-256-ctr';

/**
 * AES-CBC with ESP's explicit 16-byte IV (RFC 3602).
 *
 * @example
 * ```ts
 * const enc = new CbcEncryption(new Uint8Array(16));
 * ```
 */
export class CbcEncryption implements EspEncryption {
  readonly ivLength = 16;
  readonly blockSize = 16;
  readonly #algorithm: CbcAlgorithm;
  readonly #key: Uint8Array;
  readonly #iv = new Uint8Array(16);

  /** @param key 16, 24 or 32 bytes; copied */
  constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key);
    this.#algorithm = `aes-${key.length * 8}-cbc` as CbcAlgorithm;
  }

  encryptInPlace(packet: Uint8Array, start: number, end: number): void {
    const cipher = createCipheriv(this.#algorithm, this.#key, this.#loadIv(packet));
    cipher.setAutoPadding(false);
    packet.set(cipher.update(packet.subarray(start, end)), start);
  }

  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array {
    const decipher = createDecipheriv(this.#algorithm, this.#key, this.#loadIv(packet));
    decipher.setAutoPadding(false);
    return decipher.update(packet.subarray(start, end));
  }

  dispose(): void {
    this.#key.fill(0);
  }

  #loadIv(packet: Uint8Array): Uint8Array {
    const iv = this.#iv;
    for (let i = 0; i < 16; i++) iv[i] = packet[IV_OFFSET + i]!;
    return iv;
  }
}

/**
 * AES-CTR as RFC 3686 uses it in ESP.
 *
 * @example
 * ```ts
 * const enc = new CtrEncryption(keyMaterial20Bytes.subarray(0, 16), keyMaterial20Bytes.subarray(16));
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
 * const enc = new NullEncryption();
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
