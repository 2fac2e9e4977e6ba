/**
 * AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634) for ESP on one OpenSSL context per SA:
 * the same nonce, AAD and ICV rules as `../aead_cipher.ts` (the node:crypto twin), in five native
 * calls per packet.
 *
 * Seal: `EVP_CipherInit_ex(IV)` → `EVP_CipherUpdate(AAD)` → `EVP_CipherUpdate(data)` →
 * `EVP_CipherFinal_ex` → `EVP_CIPHER_CTX_ctrl(GET_TAG)`. Open: IV → `ctrl(SET_TAG)` → AAD →
 * data → `Final`, which checks the tag; the plaintext leaves the scratch area only after it
 * passed, and the scratch copy is zeroed either way. The key schedule is computed once, in the
 * constructor (CTR-based modes use the same schedule for both directions, so one context serves
 * sealing and opening).
 *
 * @module
 */
import { NativeCryptoError } from '../../errors.ts';
import type { EspCipher } from '../esp_cipher.ts';
import { NativeCipherContext } from './native_context.ts';
import {
  AAD_OFFSET,
  checkDataLength,
  DATA_OFFSET,
  EVP_CTRL_AEAD_GET_TAG,
  EVP_CTRL_AEAD_SET_TAG,
  NONCE_OFFSET,
  nativeAddressOf,
  nativeOpenSsl,
  type OpenSsl,
  OUTL_OFFSET,
  TAG_OFFSET,
} from './openssl.ts';

/** OpenSSL's names of the AEAD ciphers used here. */
export type NativeAeadAlgorithm =
  | 'AES-128-GCM'
  | 'AES-192-GCM'
  | 'AES-256-GCM'
  | 'ChaCha20-Poly1305';

/** Options of {@link NativeAeadCipher}. */
export interface NativeAeadCipherOptions {
  readonly algorithm: NativeAeadAlgorithm;
  /** Key without the salt; copied into OpenSSL's key schedule only. */
  readonly key: Uint8Array;
  /** 4-byte salt; copied. */
  readonly salt: Uint8Array;
  readonly icvLength: number;
  readonly spi: number;
  readonly esn: boolean;
}

const HEADER_LENGTH = 8;
const IV_LENGTH = 8;
const SALT_LENGTH = 4;
const PACKET_DATA_OFFSET = HEADER_LENGTH + IV_LENGTH;

/**
 * AES-GCM or ChaCha20-Poly1305 applied to ESP packets through OpenSSL.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { espCryptoProvider } from 'tsnetd/esp';
 * import { NativeAeadCipher } from './native_aead.ts';
 * if (espCryptoProvider() === 'openssl-native') {
 *   const c = new NativeAeadCipher({ algorithm: 'AES-128-GCM', key: randomBytes(16), salt: randomBytes(4), icvLength: 16, spi: 0x100, esn: false });
 *   assert.deepEqual([c.ivLength, c.icvLength], [8, 16]);
 *   c.dispose();
 * }
 * ```
 */
export class NativeAeadCipher implements EspCipher {
  readonly ivLength = IV_LENGTH;
  readonly icvLength: number;
  readonly blockSize = 1;
  readonly #ssl: OpenSsl;
  readonly #context: NativeCipherContext;
  readonly #salt: Uint8Array;
  readonly #spi: number;
  readonly #esn: boolean;

  constructor(options: NativeAeadCipherOptions) {
    if (!(options.salt instanceof Uint8Array) || options.salt.length < SALT_LENGTH) {
      throw new RangeError('Cannot create AEAD cipher: the salt must be 4 bytes');
    }
    if (!Number.isInteger(options.icvLength) || options.icvLength < 8 || options.icvLength > 16) {
      throw new RangeError('Cannot create AEAD cipher: icvLength must be 8..16');
    }
    this.#ssl = nativeOpenSsl();
    this.icvLength = options.icvLength;
    this.#salt = Uint8Array.from(options.salt.subarray(0, SALT_LENGTH));
    this.#spi = options.spi >>> 0;
    this.#esn = options.esn;
    this.#context = new NativeCipherContext(this.#ssl, options.algorithm, options.key, 1);
  }

  seal(out: Uint8Array, plaintextEnd: number, seqHigh: number): void {
    const ctx = this.#context.address('seal');
    const icvLength = this.icvLength;
    const length = plaintextEnd - PACKET_DATA_OFFSET;
    if (length < 0 || plaintextEnd + icvLength > out.length) {
      throw new RangeError('Cannot seal: the packet is shorter than its layout');
    }
    checkDataLength(length);
    const ssl = this.#ssl;
    const s = ssl.scratch;
    const b = ssl.base;
    const aadLength = this.#loadNonceAndAad(s, out, seqHigh);
    const outl = b + OUTL_OFFSET;
    // In native packet memory, OpenSSL encrypts where the packet lies and writes the tag at its
    // place (every offset is inside `out`, checked above); elsewhere through the scratch area.
    const packet = nativeAddressOf(out);
    const inPlace = packet !== undefined;
    if (!inPlace) s.set(out.subarray(PACKET_DATA_OFFSET, plaintextEnd), DATA_OFFSET);
    const data = inPlace ? packet + PACKET_DATA_OFFSET : b + DATA_OFFSET;
    const tag = inPlace ? packet + plaintextEnd : b + TAG_OFFSET;
    if (
      ssl.cipherInit(ctx, 0, 0, 0, b + NONCE_OFFSET, 1) !== 1 ||
      ssl.cipherUpdate(ctx, 0, outl, b + AAD_OFFSET, aadLength) !== 1 ||
      ssl.cipherUpdate(ctx, data, outl, data, length) !== 1 ||
      ssl.cipherFinal(ctx, data + length, outl) !== 1 ||
      ssl.cipherCtrl(ctx, EVP_CTRL_AEAD_GET_TAG, icvLength, tag) !== 1
    ) {
      if (inPlace) out.fill(0, PACKET_DATA_OFFSET, plaintextEnd + icvLength);
      else s.fill(0, DATA_OFFSET, DATA_OFFSET + length);
      throw new NativeCryptoError('seal', 'OpenSSL AEAD encryption failed');
    }
    if (inPlace) return;
    out.set(s.subarray(DATA_OFFSET, DATA_OFFSET + length), PACKET_DATA_OFFSET);
    out.set(s.subarray(TAG_OFFSET, TAG_OFFSET + icvLength), plaintextEnd);
  }

  open(packet: Uint8Array, seqHigh: number): Uint8Array | undefined {
    const ctx = this.#context.address('open');
    const icvLength = this.icvLength;
    const icvStart = packet.length - icvLength;
    const length = icvStart - PACKET_DATA_OFFSET;
    if (length < 0) return undefined;
    checkDataLength(length);
    const ssl = this.#ssl;
    const s = ssl.scratch;
    const b = ssl.base;
    const aadLength = this.#loadNonceAndAad(s, packet, seqHigh);
    const outl = b + OUTL_OFFSET;
    // OpenSSL always decrypts into the scratch area. A packet in native packet memory is read
    // where it lies (tag and ciphertext; every offset is inside `packet`) and, only once it
    // authenticated, gets its plaintext copied back over its ciphertext and returned as a view:
    // a failed open leaves it intact, so another SA with the same SPI can still try it. Any
    // other packet is copied into the scratch area and its plaintext into a new buffer.
    const at = nativeAddressOf(packet);
    const inPlace = at !== undefined;
    if (!inPlace) {
      s.set(packet.subarray(icvStart), TAG_OFFSET);
      s.set(packet.subarray(PACKET_DATA_OFFSET, icvStart), DATA_OFFSET);
    }
    const input = inPlace ? at + PACKET_DATA_OFFSET : b + DATA_OFFSET;
    const tag = inPlace ? at + icvStart : b + TAG_OFFSET;
    const data = b + DATA_OFFSET;
    const opened =
      ssl.cipherInit(ctx, 0, 0, 0, b + NONCE_OFFSET, 0) === 1 &&
      ssl.cipherCtrl(ctx, EVP_CTRL_AEAD_SET_TAG, icvLength, tag) === 1 &&
      ssl.cipherUpdate(ctx, 0, outl, b + AAD_OFFSET, aadLength) === 1 &&
      ssl.cipherUpdate(ctx, data, outl, input, length) === 1 &&
      ssl.cipherFinal(ctx, data + length, outl) === 1;
    let plaintext: Uint8Array | undefined;
    if (opened) {
      plaintext = inPlace ? packet.subarray(PACKET_DATA_OFFSET, icvStart) : new Uint8Array(length);
      plaintext.set(s.subarray(DATA_OFFSET, DATA_OFFSET + length));
    }
    s.fill(0, DATA_OFFSET, DATA_OFFSET + length);
    return plaintext;
  }

  dispose(): void {
    this.#context.free();
    this.#salt.fill(0);
  }

  /** Writes salt ‖ IV and SPI ‖ Seq (ESN: SPI ‖ Seq high ‖ Seq low) into the scratch area. */
  #loadNonceAndAad(s: Uint8Array, packet: Uint8Array, seqHigh: number): number {
    const salt = this.#salt;
    s[NONCE_OFFSET] = salt[0]!;
    s[NONCE_OFFSET + 1] = salt[1]!;
    s[NONCE_OFFSET + 2] = salt[2]!;
    s[NONCE_OFFSET + 3] = salt[3]!;
    for (let i = 0; i < IV_LENGTH; i++)
      s[NONCE_OFFSET + SALT_LENGTH + i] = packet[HEADER_LENGTH + i]!;
    const spi = this.#spi;
    s[AAD_OFFSET] = spi >>> 24;
    s[AAD_OFFSET + 1] = spi >>> 16;
    s[AAD_OFFSET + 2] = spi >>> 8;
    s[AAD_OFFSET + 3] = spi;
    let o = AAD_OFFSET + 4;
    if (this.#esn) {
      s[o] = seqHigh >>> 24;
      s[o + 1] = seqHigh >>> 16;
      s[o + 2] = seqHigh >>> 8;
      s[o + 3] = seqHigh;
      o += 4;
    }
    s[o] = packet[4]!;
    s[o + 1] = packet[5]!;
    s[o + 2] = packet[6]!;
    s[o + 3] = packet[7]!;
    return o + 4 - AAD_OFFSET;
  }
}
