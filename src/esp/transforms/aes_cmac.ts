/**
 * AES-CMAC (RFC 4493) with a 128-bit key, the MAC behind ESP's AES-CMAC-96 (RFC 4494).
 *
 * - RFC 4493 §2.3: subkeys L = AES-128(K, 0^128), K1 = dbl(L), K2 = dbl(K1) (shift left one
 *   bit, XOR 0x87 into the last byte if the bit shifted out was 1); computed once at creation.
 * - RFC 4493 §2.4: CBC-MAC over the message with zero IV; the last block is XORed with K1 when it
 *   is complete, or padded with 0x80 00… and XORed with K2 (the empty message is one padded block).
 * - RFC 4494 §2: ESP uses the first 96 bits; {@link AesCmac.compute} returns all 16 bytes and the
 *   engine truncates.
 *
 * Built on node:crypto: `aes-128-ecb` computes L; the CBC-MAC itself is the core shared with
 * AES-XCBC-MAC (`_cbc_mac.ts`).
 *
 * Key hygiene: the key is not kept in JavaScript memory (OpenSSL holds its schedule); subkeys and
 * scratch buffers live in `#private` fields, are zeroed by `dispose()`, and never appear in
 * `util.inspect`, `JSON.stringify` or `String()`.
 *
 * @module
 */
import { AES_BLOCK_LENGTH, aes128EcbEncrypt, CbcMac, CbcMacCore } from './_cbc_mac.ts';
import type { Mac } from './mac.ts';

export { AES_BLOCK_LENGTH } from './_cbc_mac.ts';
/** AES-CMAC key length in bytes (128-bit AES only, RFC 4493 §2.1 / RFC 4494 §2). */
export const AES_CMAC_KEY_LENGTH = 16;
/** Full AES-CMAC tag length in bytes. */
export const AES_CMAC_TAG_LENGTH = 16;

/** The constant R_128 of RFC 4493 §2.3 (low byte of 0^120 ‖ 10000111). */
const RB = 0x87;

/** RFC 4493 §2.3 doubling in GF(2^128): `input << 1`, XOR 0x87 if the top bit was set. */
function double(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(AES_BLOCK_LENGTH);
  for (let i = 0; i < AES_BLOCK_LENGTH - 1; i++) {
    out[i] = ((input[i]! << 1) | (input[i + 1]! >>> 7)) & 0xff;
  }
  out[AES_BLOCK_LENGTH - 1] =
    ((input[AES_BLOCK_LENGTH - 1]! << 1) & 0xff) ^ (input[0]! & 0x80 ? RB : 0);
  return out;
}

/**
 * AES-CMAC with a 16-byte key (RFC 4493), returning the full 16-byte tag.
 *
 * @example RFC 4493 §4 example 2, truncated to AES-CMAC-96 (RFC 4494)
 * ```ts
 * import { AesCmac } from './aes_cmac.ts';
 * const mac = new AesCmac(Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex'));
 * const tag = mac.compute([Buffer.from('6bc1bee22e409f96e93d7e117393172a', 'hex')]);
 * Buffer.from(tag).toString('hex');               // '070a16b46b4d4144f79bdd9dd04a287c'
 * Buffer.from(tag.subarray(0, 12)).toString('hex'); // '070a16b46b4d4144f79bdd9d'
 * mac.dispose();
 * ```
 */
export class AesCmac extends CbcMac {
  /**
   * @param key the 16-byte AES-128 key; copied into OpenSSL, not retained
   * @throws {TypeError} if `key` is not a Uint8Array
   * @throws {RangeError} if `key` is not 16 bytes long
   */
  constructor(key: Uint8Array) {
    super('AES-CMAC', key, (k) => {
      const l = aes128EcbEncrypt(k, new Uint8Array(AES_BLOCK_LENGTH)); // RFC 4493 §2.3 step 1
      const k1 = double(l);
      const k2 = double(k1);
      l.fill(0);
      // RFC 4493 §2.4 steps 3-4: complete last block → K1, otherwise pad 10^i and K2.
      return new CbcMacCore('AES-CMAC', k, k1, k2);
    });
  }

  get [Symbol.toStringTag](): string {
    return 'AesCmac';
  }
}

/**
 * Creates an AES-CMAC instance (RFC 4493) for a 16-byte key.
 *
 * @example
 * ```ts
 * import { createAesCmac } from './aes_cmac.ts';
 * const mac = createAesCmac(new Uint8Array(16));
 * const icv = mac.compute([new Uint8Array(8)]).subarray(0, 12); // AES-CMAC-96
 * mac.dispose();
 * ```
 * @throws {TypeError} if `key` is not a Uint8Array
 * @throws {RangeError} if `key` is not 16 bytes long
 */
export function createAesCmac(key: Uint8Array): Mac {
  return new AesCmac(key);
}
