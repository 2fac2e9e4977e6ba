/**
 * ESP padding (RFC 4303 §2.4, §2.5): build and check the default 1, 2, 3, … pattern.
 *
 * The padded plaintext `payload ‖ padding ‖ Pad Length ‖ Next Header` is a multiple of the
 * cipher block size and of 4 (the ICV is 4-byte aligned). Padding is always minimal, as Linux
 * builds it; for AEAD this is what RFC 4106 §3.2 asks ("less than four octets").
 *
 * @module
 */
import { ESP_ALIGNMENT, ESP_TRAILER_LENGTH } from './constants.ts';

// Module-local copies: read on every packet.
const ALIGNMENT = ESP_ALIGNMENT;
const TRAILER_LENGTH = ESP_TRAILER_LENGTH;

/**
 * Minimal padding length for a payload.
 *
 * @param payloadLength bytes of payload
 * @param blockSize cipher block size (1 for stream/AEAD/NULL, 16 for CBC); a power of two
 * @returns 0..max(blockSize, 4) - 1
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { paddingLength } from './padding.ts';
 * assert.equal(paddingLength(5, 1), 1); // 5 + 1 + 2 = 8
 * assert.equal(paddingLength(50, 16), 12); // 50 + 12 + 2 = 64
 * ```
 */
export function paddingLength(payloadLength: number, blockSize: number): number {
  const alignment = blockSize > ALIGNMENT ? blockSize : ALIGNMENT;
  return (alignment - ((payloadLength + TRAILER_LENGTH) % alignment)) % alignment;
}

/**
 * Writes the default padding `1, 2, …, padLength` at `offset`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { writePadding } from './padding.ts';
 * const buf = new Uint8Array(24);
 * writePadding(buf, 20, 3);
 * assert.deepEqual([...buf.subarray(20, 23)], [1, 2, 3]);
 * ```
 */
export function writePadding(target: Uint8Array, offset: number, padLength: number): void {
  for (let i = 0; i < padLength; i++) target[offset + i] = i + 1;
}

/**
 * Checks the default padding pattern (RFC 4303 §2.4: the receiver SHOULD inspect it).
 *
 * @returns `true` when `plaintext[offset, offset + padLength)` is `1, 2, …, padLength`
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { isDefaultPadding } from './padding.ts';
 * assert.equal(isDefaultPadding(Uint8Array.of(1, 2, 2, 17), 0, 2), true); // pad 01 02, length 2, next header 17
 * assert.equal(isDefaultPadding(Uint8Array.of(0, 0, 2, 17), 0, 2), false);
 * ```
 */
export function isDefaultPadding(
  plaintext: Uint8Array,
  offset: number,
  padLength: number,
): boolean {
  let diff = 0;
  for (let i = 0; i < padLength; i++) diff |= plaintext[offset + i]! ^ (i + 1);
  return diff === 0;
}
