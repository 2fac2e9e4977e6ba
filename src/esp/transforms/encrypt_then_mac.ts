/**
 * ESP with separate encryption and integrity algorithms (RFC 4303 §3.3.2, §3.4.4.1):
 * encrypt, then compute the ICV over `SPI ‖ Seq ‖ IV ‖ ciphertext` (+ ESN high half);
 * on receipt verify the ICV first and decrypt only authenticated packets.
 *
 * Either half may be absent: integrity-only SAs use NULL encryption, and encryption-only SAs
 * (no ICV, RFC 4303 §3.2 permits them; Android's IpSecManager builds them from a transform with
 * encryption only) have no anti-replay.
 *
 * @module
 */
import type { EspCipher } from './esp_cipher.ts';
import type { EspEncryption } from './esp_encryption.ts';
import type { EspIntegrity } from './esp_integrity.ts';

const HEADER_LENGTH = 8;

/**
 * Encrypt-then-MAC composition of an {@link EspEncryption} and an optional {@link EspIntegrity}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EncryptThenMac } from './encrypt_then_mac.ts';
 * import { CbcEncryption } from './esp_encryption.ts';
 * import { HmacIntegrity } from './esp_integrity.ts';
 * const [key16, key32] = [randomBytes(16), randomBytes(32)];
 * const c = new EncryptThenMac(new CbcEncryption(key16), new HmacIntegrity('sha256', key32, 16, false));
 * assert.deepEqual([c.ivLength, c.blockSize, c.icvLength], [16, 16, 16]);
 * c.dispose();
 * ```
 */
export class EncryptThenMac implements EspCipher {
  readonly ivLength: number;
  readonly icvLength: number;
  readonly blockSize: number;
  readonly #encryption: EspEncryption;
  readonly #integrity: EspIntegrity | undefined;
  readonly #dataOffset: number;

  /**
   * @param encryption takes ownership
   * @param integrity takes ownership; `undefined` for encryption-only SAs
   */
  constructor(encryption: EspEncryption, integrity: EspIntegrity | undefined) {
    this.#encryption = encryption;
    this.#integrity = integrity;
    this.ivLength = encryption.ivLength;
    this.blockSize = encryption.blockSize;
    this.icvLength = integrity?.icvLength ?? 0;
    this.#dataOffset = HEADER_LENGTH + encryption.ivLength;
  }

  seal(out: Uint8Array, plaintextEnd: number, seqHigh: number): void {
    this.#encryption.encryptInPlace(out, this.#dataOffset, plaintextEnd);
    this.#integrity?.sign(out, plaintextEnd, seqHigh);
  }

  open(packet: Uint8Array, seqHigh: number): Uint8Array | undefined {
    const icvStart = packet.length - this.icvLength;
    const integrity = this.#integrity;
    if (integrity !== undefined && !integrity.verify(packet, icvStart, seqHigh)) return undefined;
    return this.#encryption.decrypt(packet, this.#dataOffset, icvStart);
  }

  dispose(): void {
    this.#encryption.dispose();
    this.#integrity?.dispose();
  }
}
