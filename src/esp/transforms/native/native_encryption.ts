/**
 * AES-CBC (RFC 3602) and AES-CTR (RFC 3686) for ESP on OpenSSL contexts keyed once: the
 * node:crypto twins are in `../esp_encryption.ts`. Two native calls per packet:
 * `EVP_CipherInit_ex(IV)` then `EVP_CipherUpdate` (padding is off, so nothing is held back and
 * no final call is needed). CBC decryption needs the inverse key schedule, so CBC keeps one
 * context per direction the SA uses; CTR uses one context both ways.
 *
 * @module
 */
import { NativeCryptoError } from '../../errors.ts';
import type { EspEncryption } from '../esp_encryption.ts';
import { NativeCipherContext } from './native_context.ts';
import {
  checkDataLength,
  DATA_OFFSET,
  NONCE_OFFSET,
  nativeOpenSsl,
  type OpenSsl,
  OUTL_OFFSET,
} from './openssl.ts';

const IV_OFFSET = 8;
const BLOCK = 16;

/** Which directions an SA's cipher serves. */
export type NativeCipherUse = 'seal' | 'open' | 'both';

/**
 * Runs one init + update over `packet[start, end)` copied into the scratch area; the IV (or
 * counter block) must already be at `NONCE_OFFSET`. Returns the processed bytes' length.
 */
function run(
  ssl: OpenSsl,
  ctx: number,
  enc: 0 | 1,
  packet: Uint8Array,
  start: number,
  end: number,
): number {
  const length = end - start;
  if (start < 0 || end > packet.length || length < 0) {
    throw new RangeError('Cannot process ESP data: range outside the packet');
  }
  checkDataLength(length);
  const b = ssl.base;
  ssl.scratch.set(packet.subarray(start, end), DATA_OFFSET);
  if (
    ssl.cipherInit(ctx, 0, 0, 0, b + NONCE_OFFSET, enc) !== 1 ||
    ssl.cipherUpdate(ctx, b + DATA_OFFSET, b + OUTL_OFFSET, b + DATA_OFFSET, length) !== 1
  ) {
    ssl.scratch.fill(0, DATA_OFFSET, DATA_OFFSET + length);
    throw new NativeCryptoError(enc === 1 ? 'seal' : 'open', 'OpenSSL cipher update failed');
  }
  return length;
}

/** Copies the processed bytes out of the scratch area into a new buffer and wipes them. */
function takeOut(ssl: OpenSsl, length: number): Uint8Array {
  const result = new Uint8Array(length);
  result.set(ssl.scratch.subarray(DATA_OFFSET, DATA_OFFSET + length));
  ssl.scratch.fill(0, DATA_OFFSET, DATA_OFFSET + length);
  return result;
}

/**
 * AES-CBC with ESP's explicit 16-byte IV, through OpenSSL.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { espCryptoProvider } from 'tsnetd/esp';
 * import { NativeCbcEncryption } from './native_encryption.ts';
 * if (espCryptoProvider() === 'openssl-native') {
 *   const enc = new NativeCbcEncryption(randomBytes(16), 'both');
 *   const packet = new Uint8Array(8 + 16 + 16); // header ‖ IV ‖ one zero block
 *   packet.set(randomBytes(16), 8);
 *   enc.encryptInPlace(packet, 24, 40);
 *   assert.ok(enc.decrypt(packet, 24, 40).every((b) => b === 0));
 *   enc.dispose();
 * }
 * ```
 */
export class NativeCbcEncryption implements EspEncryption {
  readonly ivLength = 16;
  readonly blockSize = 16;
  readonly #ssl: OpenSsl;
  readonly #encryptor: NativeCipherContext | undefined;
  readonly #decryptor: NativeCipherContext | undefined;

  /**
   * @param key 16, 24 or 32 bytes; copied into OpenSSL only
   * @param use the directions to key (an outbound SA only seals, an inbound one only opens)
   */
  constructor(key: Uint8Array, use: NativeCipherUse) {
    this.#ssl = nativeOpenSsl();
    const name = `AES-${key.length * 8}-CBC`;
    this.#encryptor = use === 'open' ? undefined : new NativeCipherContext(this.#ssl, name, key, 1);
    try {
      this.#decryptor =
        use === 'seal' ? undefined : new NativeCipherContext(this.#ssl, name, key, 0);
    } catch (err: unknown) {
      this.#encryptor?.free();
      throw err;
    }
  }

  encryptInPlace(packet: Uint8Array, start: number, end: number): void {
    checkBlocks(end - start);
    const ctx = this.#context(this.#encryptor, 'seal');
    this.#loadIv(packet);
    run(this.#ssl, ctx, 1, packet, start, end);
    const s = this.#ssl.scratch;
    packet.set(s.subarray(DATA_OFFSET, DATA_OFFSET + end - start), start);
  }

  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array {
    checkBlocks(end - start);
    const ctx = this.#context(this.#decryptor, 'open');
    this.#loadIv(packet);
    return takeOut(this.#ssl, run(this.#ssl, ctx, 0, packet, start, end));
  }

  dispose(): void {
    this.#encryptor?.free();
    this.#decryptor?.free();
  }

  #context(context: NativeCipherContext | undefined, action: string): number {
    if (context === undefined) {
      throw new NativeCryptoError(action, 'this SA was not keyed for that direction');
    }
    return context.address(action);
  }

  #loadIv(packet: Uint8Array): void {
    if (packet.length < IV_OFFSET + BLOCK) {
      throw new RangeError('Cannot process CBC data: the packet has no IV');
    }
    this.#ssl.scratch.set(packet.subarray(IV_OFFSET, IV_OFFSET + BLOCK), NONCE_OFFSET);
  }
}

function checkBlocks(length: number): void {
  if (length < BLOCK || length % BLOCK !== 0) {
    throw new RangeError(
      `Cannot process CBC data: length must be a positive multiple of ${BLOCK}, got ${length}`,
    );
  }
}

/**
 * AES-CTR as RFC 3686 uses it in ESP, through OpenSSL: counter block = nonce ‖ IV ‖ be32(1).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { espCryptoProvider } from 'tsnetd/esp';
 * import { NativeCtrEncryption } from './native_encryption.ts';
 * if (espCryptoProvider() === 'openssl-native') {
 *   const enc = new NativeCtrEncryption(randomBytes(16), randomBytes(4));
 *   const packet = new Uint8Array(8 + 8 + 5);
 *   packet.set(randomBytes(8), 8);
 *   enc.encryptInPlace(packet, 16, 21);
 *   assert.ok(enc.decrypt(packet, 16, 21).every((b) => b === 0));
 *   enc.dispose();
 * }
 * ```
 */
export class NativeCtrEncryption implements EspEncryption {
  readonly ivLength = 8;
  readonly blockSize = 1;
  readonly #ssl: OpenSsl;
  readonly #context: NativeCipherContext;
  /** nonce(4) ‖ IV(8) ‖ be32(1). */
  readonly #counterBlock = new Uint8Array(BLOCK);

  /**
   * @param key the AES key, 16/24/32 bytes; copied into OpenSSL only
   * @param nonce the 4-byte nonce from the end of the key material; copied
   */
  constructor(key: Uint8Array, nonce: Uint8Array) {
    this.#ssl = nativeOpenSsl();
    this.#counterBlock.set(nonce.subarray(0, 4), 0);
    this.#counterBlock[15] = 1;
    this.#context = new NativeCipherContext(this.#ssl, `AES-${key.length * 8}-CTR`, key, 1);
  }

  encryptInPlace(packet: Uint8Array, start: number, end: number): void {
    const ctx = this.#context.address('seal');
    this.#loadCounter(packet);
    const length = run(this.#ssl, ctx, 1, packet, start, end);
    packet.set(this.#ssl.scratch.subarray(DATA_OFFSET, DATA_OFFSET + length), start);
  }

  decrypt(packet: Uint8Array, start: number, end: number): Uint8Array {
    const ctx = this.#context.address('open');
    this.#loadCounter(packet);
    // CTR decryption is the same keystream XOR: the context stays in encrypt mode.
    return takeOut(this.#ssl, run(this.#ssl, ctx, 1, packet, start, end));
  }

  dispose(): void {
    this.#context.free();
    this.#counterBlock.fill(0, 0, 12);
  }

  #loadCounter(packet: Uint8Array): void {
    if (packet.length < IV_OFFSET + 8) {
      throw new RangeError('Cannot process CTR data: the packet has no IV');
    }
    const block = this.#counterBlock;
    for (let i = 0; i < 8; i++) block[4 + i] = packet[IV_OFFSET + i]!;
    this.#ssl.scratch.set(block, NONCE_OFFSET);
  }
}
