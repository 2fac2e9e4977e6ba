/**
 * HMAC-MD5/SHA-1/SHA-2 ICVs (RFC 2403, 2404, 4868) on one OpenSSL `HMAC_CTX` per SA: keyed once,
 * each packet restarts from the stored inner and outer states (`HMAC_Init_ex` without key), then
 * one `HMAC_Update` over `SPI ‖ Seq ‖ IV ‖ ciphertext` (+ the ESN high half, appended in the
 * scratch area) and `HMAC_Final`: three native calls. The node:crypto twin is `HmacIntegrity` in
 * `../esp_integrity.ts`; the truncated tag is compared in constant time.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { NativeCryptoError } from '../../errors.ts';
import type { EspIntegrity, HmacHash } from '../esp_integrity.ts';
import { NativeHmacContext } from './native_context.ts';
import {
  checkDataLength,
  DATA_OFFSET,
  DIGEST_OFFSET,
  nativeOpenSsl,
  type OpenSsl,
} from './openssl.ts';

const DIGEST_NAMES: Readonly<Record<HmacHash, string>> = {
  md5: 'MD5',
  sha1: 'SHA1',
  sha256: 'SHA256',
  sha384: 'SHA384',
  sha512: 'SHA512',
};

/**
 * HMAC truncated to `icvLength` bytes, through OpenSSL.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { espCryptoProvider } from 'tsnetd/esp';
 * import { NativeHmacIntegrity } from './native_hmac.ts';
 * if (espCryptoProvider() === 'openssl-native') {
 *   const mac = new NativeHmacIntegrity('sha256', randomBytes(32), 16, false);
 *   const packet = new Uint8Array(24 + 16);
 *   mac.sign(packet, 24, 0);
 *   assert.equal(mac.verify(packet, 24, 0), true);
 *   mac.dispose();
 * }
 * ```
 */
export class NativeHmacIntegrity implements EspIntegrity {
  readonly icvLength: number;
  readonly #ssl: OpenSsl;
  readonly #context: NativeHmacContext;
  readonly #esn: boolean;

  /**
   * @param hash digest name
   * @param key copied into OpenSSL only
   * @param icvLength bytes of the truncated tag
   * @param esn append the ESN high half to the ICV input
   */
  constructor(hash: HmacHash, key: Uint8Array, icvLength: number, esn: boolean) {
    if (!Number.isInteger(icvLength) || icvLength < 1 || icvLength > 64) {
      throw new RangeError('Cannot create HMAC: icvLength must be 1..64');
    }
    this.#ssl = nativeOpenSsl();
    this.icvLength = icvLength;
    this.#esn = esn;
    this.#context = new NativeHmacContext(this.#ssl, DIGEST_NAMES[hash], key);
  }

  sign(packet: Uint8Array, end: number, seqHigh: number): void {
    if (end + this.icvLength > packet.length) {
      throw new RangeError('Cannot sign: no room for the ICV');
    }
    this.#digest(packet, end, seqHigh, 'seal');
    const s = this.#ssl.scratch;
    packet.set(s.subarray(DIGEST_OFFSET, DIGEST_OFFSET + this.icvLength), end);
  }

  verify(packet: Uint8Array, end: number, seqHigh: number): boolean {
    const icvLength = this.icvLength;
    if (end < 0 || end + icvLength > packet.length) return false;
    this.#digest(packet, end, seqHigh, 'open');
    const s = this.#ssl.scratch;
    return timingSafeEqual(
      s.subarray(DIGEST_OFFSET, DIGEST_OFFSET + icvLength),
      packet.subarray(end, end + icvLength),
    );
  }

  dispose(): void {
    this.#context.free();
  }

  /** Leaves the full digest at `DIGEST_OFFSET`; wipes the copied packet bytes. */
  #digest(packet: Uint8Array, end: number, seqHigh: number, action: string): void {
    const ctx = this.#context.address(action);
    const length = end + (this.#esn ? 4 : 0);
    if (end < 0 || end > packet.length) throw new RangeError('Cannot authenticate: bad range');
    checkDataLength(length);
    const ssl = this.#ssl;
    const s = ssl.scratch;
    const b = ssl.base;
    s.set(packet.subarray(0, end), DATA_OFFSET);
    if (this.#esn) {
      s[DATA_OFFSET + end] = seqHigh >>> 24;
      s[DATA_OFFSET + end + 1] = seqHigh >>> 16;
      s[DATA_OFFSET + end + 2] = seqHigh >>> 8;
      s[DATA_OFFSET + end + 3] = seqHigh;
    }
    const ok =
      ssl.hmacInit(ctx, 0, 0, 0, 0) === 1 &&
      ssl.hmacUpdate(ctx, b + DATA_OFFSET, length) === 1 &&
      ssl.hmacFinal(ctx, b + DIGEST_OFFSET, 0) === 1;
    s.fill(0, DATA_OFFSET, DATA_OFFSET + length);
    if (!ok) throw new NativeCryptoError(action, 'OpenSSL HMAC failed');
  }
}
