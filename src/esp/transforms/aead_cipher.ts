/**
 * Combined-mode ESP transforms: AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634).
 *
 * - Nonce = 4-byte salt (last 4 bytes of the key material) ‖ 8-byte IV from the packet
 *   (RFC 4106 §4, RFC 7634 §2).
 * - AAD = SPI ‖ Seq(32) or, with ESN, SPI ‖ Seq high(32) ‖ Seq low(32) (RFC 4106 §5, RFC 7634 §2.1).
 * - ICV = the tag, 8/12/16 bytes for GCM (RFC 4106 §6), 16 for ChaCha20-Poly1305.
 * - The plaintext is released only after `final()` verified the tag.
 *
 * Per-SA scratch (nonce, AAD) is allocated once; a packet costs one `createCipheriv` or
 * `createDecipheriv` (node:crypto cannot re-key or re-IV a cipher object).
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { EspCipher } from './esp_cipher.ts';

/** Node's names of the AEAD ciphers used here. */
export type AeadNodeAlgorithm = 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

/** Options of {@link AeadCipher}. */
export interface AeadCipherOptions {
  readonly algorithm: AeadNodeAlgorithm;
  /** Key without the salt; copied. */
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
const DATA_OFFSET = HEADER_LENGTH + IV_LENGTH;

/**
 * AES-GCM or ChaCha20-Poly1305 applied to ESP packets.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { AeadCipher } from './aead_cipher.ts';
 * const [key, salt] = [randomBytes(16), randomBytes(4)];
 * const c = new AeadCipher({ algorithm: 'aes-128-gcm', key, salt, icvLength: 16, spi: 0x100, esn: false });
 * assert.deepEqual([c.ivLength, c.icvLength], [8, 16]);
 * c.dispose();
 * ```
 */
export class AeadCipher implements EspCipher {
  readonly ivLength = IV_LENGTH;
  readonly icvLength: number;
  readonly blockSize = 1;
  readonly #algorithm: AeadNodeAlgorithm;
  readonly #key: Uint8Array;
  readonly #nonce = new Uint8Array(SALT_LENGTH + IV_LENGTH);
  readonly #aad: Uint8Array;
  readonly #esn: boolean;
  readonly #options: { authTagLength: number };

  constructor(options: AeadCipherOptions) {
    this.#algorithm = options.algorithm;
    this.#key = Uint8Array.from(options.key);
    this.#nonce.set(options.salt.subarray(0, SALT_LENGTH), 0);
    this.icvLength = options.icvLength;
    this.#esn = options.esn;
    this.#options = { authTagLength: options.icvLength };
    this.#aad = new Uint8Array(options.esn ? 12 : 8);
    const spi = options.spi;
    this.#aad[0] = spi >>> 24;
    this.#aad[1] = spi >>> 16;
    this.#aad[2] = spi >>> 8;
    this.#aad[3] = spi;
  }

  seal(out: Uint8Array, plaintextEnd: number, seqHigh: number): void {
    this.#prepare(out, seqHigh);
    const cipher = createCipheriv(
      this.#algorithm as 'aes-128-gcm',
      this.#key,
      this.#nonce,
      this.#options,
    );
    cipher.setAAD(this.#aad);
    out.set(cipher.update(out.subarray(DATA_OFFSET, plaintextEnd)), DATA_OFFSET);
    cipher.final();
    out.set(cipher.getAuthTag(), plaintextEnd);
  }

  open(packet: Uint8Array, seqHigh: number): Uint8Array | undefined {
    this.#prepare(packet, seqHigh);
    const icvStart = packet.length - this.icvLength;
    const decipher = createDecipheriv(
      this.#algorithm as 'aes-128-gcm',
      this.#key,
      this.#nonce,
      this.#options,
    );
    decipher.setAAD(this.#aad);
    decipher.setAuthTag(packet.subarray(icvStart));
    const plaintext = decipher.update(packet.subarray(DATA_OFFSET, icvStart));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      return undefined;
    }
    return plaintext;
  }

  dispose(): void {
    this.#key.fill(0);
    this.#nonce.fill(0);
  }

  /** Copies the IV of `packet` into the nonce and the sequence number into the AAD. */
  #prepare(packet: Uint8Array, seqHigh: number): void {
    const nonce = this.#nonce;
    for (let i = 0; i < IV_LENGTH; i++) nonce[SALT_LENGTH + i] = packet[HEADER_LENGTH + i]!;
    const aad = this.#aad;
    let o = 4;
    if (this.#esn) {
      aad[4] = seqHigh >>> 24;
      aad[5] = seqHigh >>> 16;
      aad[6] = seqHigh >>> 8;
      aad[7] = seqHigh;
      o = 8;
    }
    aad[o] = packet[4]!;
    aad[o + 1] = packet[5]!;
    aad[o + 2] = packet[6]!;
    aad[o + 3] = packet[7]!;
  }
}
