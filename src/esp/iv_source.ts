/**
 * Where an outbound SA gets the IV of each packet.
 *
 * Defaults (chosen per algorithm by the SA):
 * - counter-based for AES-GCM, AES-CTR and ChaCha20-Poly1305: IV = 64-bit sequence number XOR a
 *   random per-SA mask (as Linux's `seqiv`). Unique per SA because the sequence number never
 *   repeats (RFC 4106 §3.1, RFC 3686 §3.1, RFC 7634 §2 need uniqueness, not unpredictability);
 * - random for AES-CBC (RFC 3602 §2: unpredictable).
 *
 * Tests inject fixed IVs with {@link fixedIv}.
 *
 * @module
 */
import { joinSequenceNumber } from './sequence.ts';
import { fillRandom } from './transforms/random.ts';

/**
 * Supplies the IV of each packet an outbound SA seals.
 *
 * @example A counter IV source
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EspOutboundSa, type IvSource } from 'tsnetd/esp';
 * const source: IvSource = {
 *   next(ivLength, seq) {
 *     const iv = new Uint8Array(ivLength);
 *     new DataView(iv.buffer).setBigUint64(ivLength - 8, seq);
 *     return iv;
 *   },
 * };
 * const aead = { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } as const;
 * using sa = new EspOutboundSa({ spi: 0x1234, aead, ivSource: source });
 * assert.deepEqual([...sa.seal(new Uint8Array(8), 17).subarray(8, 16)], [0, 0, 0, 0, 0, 0, 0, 1]);
 * ```
 */
export interface IvSource {
  /**
   * @param ivLength bytes the algorithm needs (8 for GCM/CTR/ChaCha20-Poly1305, 16 for CBC)
   * @param seq the sequence number of the packet being sealed
   * @returns exactly `ivLength` bytes; copied by the caller
   */
  next(ivLength: number, seq: bigint): Uint8Array;
}

/**
 * An IV source that always returns the same bytes. For test vectors only: reusing an IV with
 * GCM, CTR or ChaCha20-Poly1305 destroys confidentiality and integrity.
 *
 * @param bytes the IV; copied
 * @returns an {@link IvSource} whose `next()` throws `RangeError` if the length does not match
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EspOutboundSa, fixedIv } from 'tsnetd/esp';
 * const options = { spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } } as const;
 * using sa = new EspOutboundSa({ ...options, ivSource: fixedIv(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])) });
 * const packet = sa.seal(new Uint8Array(8), 17);
 * assert.deepEqual([...packet.subarray(8, 16)], [1, 2, 3, 4, 5, 6, 7, 8]); // the IV follows the header
 * ```
 */
export function fixedIv(bytes: Uint8Array): IvSource {
  if (!(bytes instanceof Uint8Array))
    throw new TypeError('Cannot create IV source: bytes must be a Uint8Array');
  const copy = Uint8Array.from(bytes);
  return {
    next(ivLength: number): Uint8Array {
      if (ivLength !== copy.length) {
        throw new RangeError(
          `Cannot supply IV: fixed IV has ${copy.length} bytes, the SA needs ${ivLength}`,
        );
      }
      return Uint8Array.from(copy);
    },
  };
}

/** Internal: writes the IV of a packet straight into the packet buffer. */
export interface IvWriter {
  write(out: Uint8Array, offset: number, ivLength: number, seqHigh: number, seqLow: number): void;
}

/** IV = (seqHigh ‖ seqLow) XOR a random per-SA mask; for 8-byte IVs. */
export class CounterIvWriter implements IvWriter {
  readonly #mask = new Uint8Array(8);

  constructor() {
    fillRandom(this.#mask, 0, 8);
  }

  write(out: Uint8Array, offset: number, _ivLength: number, seqHigh: number, seqLow: number): void {
    const m = this.#mask;
    out[offset] = (seqHigh >>> 24) ^ m[0]!;
    out[offset + 1] = (seqHigh >>> 16) ^ m[1]!;
    out[offset + 2] = (seqHigh >>> 8) ^ m[2]!;
    out[offset + 3] = seqHigh ^ m[3]!;
    out[offset + 4] = (seqLow >>> 24) ^ m[4]!;
    out[offset + 5] = (seqLow >>> 16) ^ m[5]!;
    out[offset + 6] = (seqLow >>> 8) ^ m[6]!;
    out[offset + 7] = seqLow ^ m[7]!;
  }
}

/** Random IVs (CBC). */
export class RandomIvWriter implements IvWriter {
  write(out: Uint8Array, offset: number, ivLength: number): void {
    fillRandom(out, offset, ivLength);
  }
}

/** Adapts a caller's {@link IvSource}. */
export class SourceIvWriter implements IvWriter {
  readonly #source: IvSource;

  constructor(source: IvSource) {
    this.#source = source;
  }

  write(out: Uint8Array, offset: number, ivLength: number, seqHigh: number, seqLow: number): void {
    const iv = this.#source.next(ivLength, joinSequenceNumber(seqHigh, seqLow));
    if (!(iv instanceof Uint8Array) || iv.length !== ivLength) {
      throw new RangeError(`Cannot seal: the IV source must return ${ivLength} bytes`);
    }
    out.set(iv, offset);
  }
}
