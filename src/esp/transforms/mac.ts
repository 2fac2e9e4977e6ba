/**
 * The block-cipher MAC interface shared by AES-XCBC-MAC (RFC 3566) and AES-CMAC (RFC 4493).
 *
 * Implementations live next to this file (`aes_xcbc_mac.ts`, `aes_cmac.ts`) and are the only
 * places besides the other transforms that import `node:crypto`. The ESP engine truncates the
 * full 16-byte tag to 96 bits itself (RFC 3566 §4, RFC 4494 §2).
 *
 * @module
 */

/**
 * A keyed MAC over a sequence of byte ranges, computed as if they were concatenated.
 *
 * @example Compute and truncate a tag
 * ```ts
 * import { createAesCmac } from './aes_cmac.ts';
 * const mac = createAesCmac(new Uint8Array(16));
 * const tag = mac.compute([new Uint8Array([1, 2]), new Uint8Array([3])]).subarray(0, 12);
 * mac.dispose();
 * ```
 */
export interface Mac {
  /**
   * Computes the full 16-byte tag over `parts` (concatenated, in order).
   *
   * @param parts byte ranges; not retained, not modified
   * @returns a new 16-byte tag owned by the caller
   */
  compute(parts: readonly Uint8Array[]): Uint8Array;
  /** Zeroes the key material; further use throws. */
  dispose(): void;
}
