/**
 * Random bytes for IVs (RFC 3602 §2: CBC IVs must be unpredictable), IV masks and dummy payloads.
 *
 * Draws from a pool refilled with `crypto.randomFillSync` so that a packet costs a copy, not a
 * call into OpenSSL. The pool is consumed once: bytes handed out are zeroed in the pool.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';

const POOL_LENGTH = 4096;
const pool = new Uint8Array(POOL_LENGTH);
let poolOffset = POOL_LENGTH;

/**
 * Writes `length` random bytes into `target` at `offset`.
 *
 * @param target written, not retained
 * @param offset first byte to write
 * @param length bytes to write
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { fillRandom } from './random.ts';
 * const iv = new Uint8Array(16);
 * fillRandom(iv, 0, 16);
 * assert.ok(iv.some((b) => b !== 0)); // all zero with probability 2^-128
 * ```
 */
export function fillRandom(target: Uint8Array, offset: number, length: number): void {
  if (length > POOL_LENGTH) {
    randomFillSync(target, offset, length);
    return;
  }
  if (poolOffset + length > POOL_LENGTH) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  for (let i = 0; i < length; i++) {
    target[offset + i] = pool[poolOffset + i]!;
    pool[poolOffset + i] = 0;
  }
  poolOffset += length;
}
