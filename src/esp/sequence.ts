/**
 * The outbound sequence number counter (RFC 4303 §2.2, §2.2.1, §3.3.3).
 *
 * Held as two uint32 halves so a 64-bit ESN never passes through a lossy JS number (the vectors
 * start at 0x8765432100000000 > 2^53). The counter never wraps: once the last value
 * (2^32-1, or 2^64-1 with ESN) was used, `advance()` reports exhaustion and the SA must be
 * replaced (rekeyed).
 *
 * @module
 */
import { MAX_SEQ_32, MAX_SEQ_64 } from './constants.ts';

/**
 * Splits a sequence number into its high and low 32-bit halves.
 *
 * @param seq 0 ≤ seq < 2^64
 * @returns `[high, low]`
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { splitSequenceNumber } from './sequence.ts';
 * assert.deepEqual(splitSequenceNumber(0x8765432100000001n), [0x87654321, 1]);
 * ```
 */
export function splitSequenceNumber(seq: bigint): [number, number] {
  return [Number(seq >> 32n), Number(seq & 0xffff_ffffn)];
}

/**
 * Joins the halves of a sequence number.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { joinSequenceNumber } from './sequence.ts';
 * assert.equal(joinSequenceNumber(1, 2), 0x100000002n);
 * ```
 */
export function joinSequenceNumber(high: number, low: number): bigint {
  return high === 0 ? BigInt(low) : (BigInt(high) << 32n) | BigInt(low);
}

/**
 * Outbound counter of one SA.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { OutboundSequence } from './sequence.ts';
 * const seq = new OutboundSequence({ next: 1n, esn: false });
 * assert.equal(seq.advance(), true);
 * assert.equal(seq.low, 1);
 * ```
 */
export class OutboundSequence {
  /** High half of the last used number (always 0 without ESN). */
  high: number;
  /** Low half of the last used number. */
  low: number;
  readonly #maxHigh: number;

  /**
   * @param options.next the number of the first packet, 1 ≤ next ≤ 2^32-1 (2^64-1 with ESN)
   * @throws {TypeError} when `next` is not a bigint
   * @throws {RangeError} when `next` is out of range
   */
  constructor(options: { readonly next: bigint; readonly esn: boolean }) {
    const { next, esn } = options;
    const max = esn ? MAX_SEQ_64 : BigInt(MAX_SEQ_32);
    if (typeof next !== 'bigint') {
      throw new TypeError(
        `Cannot create ESP SA: nextSequenceNumber must be a bigint, got ${typeof next}`,
      );
    }
    if (next < 1n || next > max) {
      throw new RangeError(
        `Cannot create ESP SA: nextSequenceNumber must be a bigint in 1..${max}, got ${String(next)}`,
      );
    }
    [this.high, this.low] = splitSequenceNumber(next - 1n);
    this.#maxHigh = esn ? MAX_SEQ_32 : 0;
  }

  /** The last used number (next - 1 before the first `advance()`). */
  get last(): bigint {
    return joinSequenceNumber(this.high, this.low);
  }

  /**
   * Moves to the next number.
   *
   * @returns `false` (and leaves the counter unchanged) when the counter is exhausted
   */
  advance(): boolean {
    if (this.low !== MAX_SEQ_32) {
      this.low++;
      return true;
    }
    if (this.high === this.#maxHigh) return false;
    this.high++;
    this.low = 0;
    return true;
  }
}
