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
 * Built on node:crypto: `aes-128-ecb` derives K1-K3; the CBC-MAC itself is the core shared with
 * AES-CMAC (`_cbc_mac.ts`), keyed with K1.
 *
 * Key hygiene: neither K nor K1 is kept in JavaScript memory (OpenSSL holds the K1 schedule); K2,
 * K3 and scratch buffers live in `#private` fields, are zeroed by `dispose()`, and never appear in
 * `util.inspect`, `JSON.stringify` or `String()`.
 *
 * @module
 */
import { AES_BLOCK_LENGTH, aes128EcbEncrypt, CbcMac, CbcMacCore } from './_cbc_mac.ts';
import type { Mac } from './mac.ts';

/** AES-XCBC-MAC key length in bytes (RFC 3566 §4: 128-bit keys only). */
export const AES_XCBC_MAC_KEY_LENGTH = 16;
/** Full AES-XCBC-MAC tag length in bytes. */
export const AES_XCBC_MAC_TAG_LENGTH = 16;

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
export class AesXcbcMac extends CbcMac {
  /**
   * @param key the 16-byte key K; used once to derive K1-K3, not retained
   * @throws {TypeError} if `key` is not a Uint8Array
   * @throws {RangeError} if `key` is not 16 bytes long
   */
  constructor(key: Uint8Array) {
    super('AES-XCBC-MAC', key, (k) => {
      const constants = new Uint8Array(3 * AES_BLOCK_LENGTH);
      constants.fill(0x01, 0, AES_BLOCK_LENGTH);
      constants.fill(0x02, AES_BLOCK_LENGTH, 2 * AES_BLOCK_LENGTH);
      constants.fill(0x03, 2 * AES_BLOCK_LENGTH);
      const derived = aes128EcbEncrypt(k, constants); // RFC 3566 §4 (1): K1 ‖ K2 ‖ K3
      const k1 = derived.subarray(0, AES_BLOCK_LENGTH);
      const k2 = Uint8Array.from(derived.subarray(AES_BLOCK_LENGTH, 2 * AES_BLOCK_LENGTH));
      const k3 = Uint8Array.from(derived.subarray(2 * AES_BLOCK_LENGTH, 3 * AES_BLOCK_LENGTH));
      // RFC 3566 §4 (3): complete last block → K2, otherwise pad 0x80 00… and K3; chained under K1.
      const core = new CbcMacCore('AES-XCBC-MAC', k1, k2, k3);
      derived.fill(0);
      return core;
    });
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
