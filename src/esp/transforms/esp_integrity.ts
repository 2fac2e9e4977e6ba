/**
 * The integrity half of an ESP SA with separate algorithms (RFC 4303 §3.3.2.1, §3.4.4.1):
 * HMAC-MD5/SHA-1/SHA-2 (RFC 2403, RFC 2404, RFC 4868), AES-XCBC-MAC-96 (RFC 3566) and
 * AES-CMAC-96 (RFC 4494).
 *
 * The ICV covers `SPI ‖ Seq ‖ IV ‖ ciphertext`; with ESN the high half of the sequence number is
 * appended as an implicit trailer (RFC 4303 §2.2.1, §3.3.3). The tag is truncated to its leftmost
 * `icvLength` bytes and compared in constant time (`crypto.timingSafeEqual`).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Mac } from './mac.ts';

/** Internal: computes and checks the ICV of an ESP packet. */
export interface EspIntegrity {
  readonly icvLength: number;
  /** Writes the ICV over `packet[0, end)` (+ ESN high half) at `packet[end, end + icvLength)`. */
  sign(packet: Uint8Array, end: number, seqHigh: number): void;
  /** Checks the ICV at `packet[end, end + icvLength)` in constant time. */
  verify(packet: Uint8Array, end: number, seqHigh: number): boolean;
  dispose(): void;
}

/** OpenSSL digest names of the HMAC algorithms. */
export type HmacHash = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';

/**
 * HMAC truncated to `icvLength` bytes.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { HmacIntegrity } from './esp_integrity.ts';
 * const key32 = randomBytes(32);
 * const mac = new HmacIntegrity('sha256', key32, 16, false);
 * const packet = new Uint8Array(24 + mac.icvLength); // 24 bytes of header ‖ IV ‖ ciphertext, then the ICV
 * mac.sign(packet, 24, 0);
 * assert.equal(mac.verify(packet, 24, 0), true);
 * mac.dispose();
 * ```
 */
export class HmacIntegrity implements EspIntegrity {
  readonly icvLength: number;
  readonly #hash: HmacHash;
  readonly #key: Uint8Array;
  readonly #esnHigh: Uint8Array | undefined;

  /**
   * @param hash digest name
   * @param key copied
   * @param icvLength bytes of the truncated tag
   * @param esn append the ESN high half to the ICV input
   */
  constructor(hash: HmacHash, key: Uint8Array, icvLength: number, esn: boolean) {
    this.#hash = hash;
    this.#key = Uint8Array.from(key);
    this.icvLength = icvLength;
    this.#esnHigh = esn ? new Uint8Array(4) : undefined;
  }

  sign(packet: Uint8Array, end: number, seqHigh: number): void {
    const digest = this.#digest(packet, end, seqHigh);
    for (let i = 0; i < this.icvLength; i++) packet[end + i] = digest[i]!;
  }

  verify(packet: Uint8Array, end: number, seqHigh: number): boolean {
    const digest = this.#digest(packet, end, seqHigh);
    const icvLength = this.icvLength;
    return timingSafeEqual(digest.subarray(0, icvLength), packet.subarray(end, end + icvLength));
  }

  dispose(): void {
    this.#key.fill(0);
  }

  #digest(packet: Uint8Array, end: number, seqHigh: number): Uint8Array {
    const hmac = createHmac(this.#hash, this.#key);
    hmac.update(packet.subarray(0, end));
    const esnHigh = this.#esnHigh;
    if (esnHigh !== undefined) {
      esnHigh[0] = seqHigh >>> 24;
      esnHigh[1] = seqHigh >>> 16;
      esnHigh[2] = seqHigh >>> 8;
      esnHigh[3] = seqHigh;
      hmac.update(esnHigh);
    }
    return hmac.digest();
  }
}

/**
 * A block-cipher MAC (AES-XCBC-MAC or AES-CMAC) truncated to 96 bits (RFC 3566 §4, RFC 4494 §2).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { createAesCmac } from './aes_cmac.ts';
 * import { BlockMacIntegrity } from './esp_integrity.ts';
 * const key16 = randomBytes(16);
 * const mac = new BlockMacIntegrity(createAesCmac(key16), 12, false); // AES-CMAC-96
 * const packet = new Uint8Array(24 + 12);
 * mac.sign(packet, 24, 0);
 * assert.equal(mac.verify(packet, 24, 0), true);
 * mac.dispose();
 * ```
 */
export class BlockMacIntegrity implements EspIntegrity {
  readonly icvLength: number;
  readonly #mac: Mac;
  readonly #esnHigh: Uint8Array | undefined;
  readonly #parts: Uint8Array[];

  /**
   * @param mac takes ownership (disposed with this object)
   * @param icvLength bytes of the truncated tag
   * @param esn append the ESN high half to the MAC input
   */
  constructor(mac: Mac, icvLength: number, esn: boolean) {
    this.#mac = mac;
    this.icvLength = icvLength;
    this.#esnHigh = esn ? new Uint8Array(4) : undefined;
    this.#parts = esn ? [new Uint8Array(0), this.#esnHigh!] : [new Uint8Array(0)];
  }

  sign(packet: Uint8Array, end: number, seqHigh: number): void {
    const tag = this.#compute(packet, end, seqHigh);
    for (let i = 0; i < this.icvLength; i++) packet[end + i] = tag[i]!;
  }

  verify(packet: Uint8Array, end: number, seqHigh: number): boolean {
    const tag = this.#compute(packet, end, seqHigh);
    const icvLength = this.icvLength;
    return timingSafeEqual(tag.subarray(0, icvLength), packet.subarray(end, end + icvLength));
  }

  dispose(): void {
    this.#mac.dispose();
  }

  #compute(packet: Uint8Array, end: number, seqHigh: number): Uint8Array {
    const esnHigh = this.#esnHigh;
    if (esnHigh !== undefined) {
      esnHigh[0] = seqHigh >>> 24;
      esnHigh[1] = seqHigh >>> 16;
      esnHigh[2] = seqHigh >>> 8;
      esnHigh[3] = seqHigh;
    }
    this.#parts[0] = packet.subarray(0, end);
    const tag = this.#mac.compute(this.#parts);
    this.#parts[0] = EMPTY;
    return tag;
  }
}

const EMPTY = new Uint8Array(0);
