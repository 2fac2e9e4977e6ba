/**
 * The inbound anti-replay window of an ESP SA, with Extended Sequence Number inference.
 *
 * - RFC 4303 §3.4.3: the duplicate check runs before the ICV check and does not change state
 *   ({@link ReplayWindow.check}); the window is updated only after the ICV verified
 *   ({@link ReplayWindow.update}). A packet left of the window or already received is dropped.
 * - RFC 4303 Appendix A2.2/A2.3: with ESN only the low 32 bits travel on the wire; the high
 *   half is inferred from the right edge of the window (Case A: the window lies in one 2^32
 *   subspace; Case B: it spans two). A packet further behind than the window is, by the RFC's
 *   rule, read as belonging to the NEXT subspace (Seqh = Th + 1); its ICV then fails and the
 *   packet is dropped as 'auth', exactly as the RFC intends. Appendix A3 (resynchronisation
 *   after 2^32 lost packets) is not implemented.
 * - RFC 6479: the bitmap is a ring of 32-bit blocks indexed by sequence number; moving the right
 *   edge clears only the blocks it passes over, nothing is shifted. The ring holds a power of
 *   two of blocks and at least one block more than the requested window, so the usable window
 *   is exactly the requested size and the block index of a 64-bit number depends on its low
 *   half only (the block count divides 2^27).
 *
 * Hot path: `check` and `update` allocate nothing and use no bigint; the right edge is held as
 * two uint32 numbers (high, low). The results of `check` are frozen objects created when the
 * high half changes (once per 2^32 packets).
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Spec constants (RFC 4303 §3.4.3)
// ---------------------------------------------------------------------------------------------

/** Smallest window an implementation must support with 32-bit sequence numbers. RFC 4303 §3.4.3. */
export const REPLAY_WINDOW_MIN_SIZE = 32;

// ---------------------------------------------------------------------------------------------
// Implementation limits and defaults
// ---------------------------------------------------------------------------------------------

/** Largest window this implementation accepts (16 KiB of bitmap). */
export const REPLAY_WINDOW_MAX_SIZE = 65536;
/** The window Android 14+ uses for every SA (IpSecManager's default); callers pass it explicitly. */
export const DEFAULT_REPLAY_WINDOW_SIZE = 4096;
/**
 * Width used to infer the ESN high half when anti-replay is disabled (size 0): the nearest
 * 64-bit number to the right edge, up to 2^31 behind it.
 */
const DISABLED_INFERENCE_WINDOW = 2 ** 31;

const BLOCK_SHIFT = 5; // 32 bits per block
const BIT_MASK = 31;
const BLOCKS_PER_HIGH_UNIT = 2 ** 27; // 2^32 / 32: block-index distance of one high-half step
const UINT32_MAX = 0xffff_ffff;
const TWO_POW_32 = 2 ** 32;
const MAX_ESN_SEQ = (1n << 64n) - 1n;
const MAX_SEQ_32 = 0xffff_ffffn;

/** Options of {@link ReplayWindow}. */
export interface ReplayWindowOptions {
  /**
   * Number of sequence numbers the window covers, right edge included: 0 disables anti-replay,
   * otherwise an integer from {@link REPLAY_WINDOW_MIN_SIZE} to {@link REPLAY_WINDOW_MAX_SIZE}.
   */
  readonly size: number;
  /** Extended Sequence Numbers (RFC 4303 §2.2.1): infer the high 32 bits of each packet. */
  readonly esn: boolean;
  /**
   * Initial right edge (highest sequence number already received), default 0n. The bitmap starts
   * empty: numbers inside the initial window are accepted once.
   */
  readonly highest?: bigint;
}

/** Result of {@link ReplayWindow.check}: accepted with the inferred high half, or rejected. */
export type ReplayCheckResult =
  | { readonly ok: true; readonly seqHigh: number }
  | { readonly ok: false };

const REJECT: ReplayCheckResult = Object.freeze({ ok: false });
const ACCEPT_LOW_ONLY: ReplayCheckResult = Object.freeze({ ok: true, seqHigh: 0 });

function accept(seqHigh: number): ReplayCheckResult {
  return Object.freeze({ ok: true, seqHigh });
}

function isUint32(value: number): boolean {
  return value >>> 0 === value;
}

/**
 * Anti-replay window of one inbound SA (RFC 4303 §3.4.3, Appendix A; RFC 6479 layout).
 *
 * @example Check, authenticate, then commit
 * ```ts
 * import { ReplayWindow } from './replay_window.ts';
 * const window = new ReplayWindow({ size: 4096, esn: true });
 * const result = window.check(1);          // read-only: { ok: true, seqHigh: 0 }
 * if (result.ok) {
 *   // ... verify the ICV with the 64-bit number (result.seqHigh, 1) ...
 *   window.update(result.seqHigh, 1);      // only after the ICV verified
 * }
 * window.check(1);                         // { ok: false }: a replay
 * ```
 */
export class ReplayWindow {
  readonly #size: number;
  readonly #esn: boolean;
  /** ESN inference width: the window size, or 2^31 when anti-replay is disabled. */
  readonly #inferenceWindow: number;
  /** RFC 6479 ring of blocks (empty when disabled). */
  readonly #ring: Uint32Array;
  /** Block count - 1 (block count is a power of two). */
  readonly #ringMask: number;
  /** High 32 bits of the right edge (always 0 without ESN). */
  #high: number;
  /** Low 32 bits of the right edge. */
  #low: number;
  #acceptPrevious: ReplayCheckResult;
  #acceptCurrent: ReplayCheckResult;
  #acceptNext: ReplayCheckResult;

  /**
   * @param options window size, ESN flag and optional initial right edge
   * @throws {TypeError} if `esn` is not a boolean or `highest` is not a bigint
   * @throws {RangeError} if `size` is not 0 or an integer in 32..65536, or `highest` is out of
   *   range (non-ESN: 0..2^32-1, ESN: 0..2^64-1)
   */
  constructor(options: ReplayWindowOptions) {
    const { size, esn, highest = 0n } = options;
    if (
      typeof size !== 'number' ||
      !Number.isInteger(size) ||
      (size !== 0 && (size < REPLAY_WINDOW_MIN_SIZE || size > REPLAY_WINDOW_MAX_SIZE))
    ) {
      throw new RangeError(
        `Cannot create replay window: size must be 0 or an integer from ${REPLAY_WINDOW_MIN_SIZE} to ${REPLAY_WINDOW_MAX_SIZE}, got ${String(size)}`,
      );
    }
    if (typeof esn !== 'boolean') {
      throw new TypeError(`Cannot create replay window: esn must be a boolean, got ${typeof esn}`);
    }
    if (typeof highest !== 'bigint') {
      throw new TypeError(
        `Cannot create replay window: highest must be a bigint, got ${typeof highest}`,
      );
    }
    const max = esn ? MAX_ESN_SEQ : MAX_SEQ_32;
    if (highest < 0n || highest > max) {
      throw new RangeError(
        `Cannot create replay window: highest must be from 0 to ${max}, got ${highest}`,
      );
    }
    this.#size = size;
    this.#esn = esn;
    this.#inferenceWindow = size === 0 ? DISABLED_INFERENCE_WINDOW : size;
    // RFC 6479: one redundant block; rounded up to a power of two so indexing is a mask.
    let blocks = 0;
    if (size !== 0) {
      blocks = 1;
      while (blocks < Math.ceil(size / 32) + 1) blocks *= 2;
    }
    this.#ring = new Uint32Array(blocks);
    this.#ringMask = blocks - 1;
    this.#high = Number(highest >> 32n);
    this.#low = Number(highest & MAX_SEQ_32);
    this.#acceptPrevious = REJECT;
    this.#acceptCurrent = REJECT;
    this.#acceptNext = REJECT;
    this.#rebuildResults();
  }

  /** Number of sequence numbers the window covers (0 = anti-replay disabled). */
  get size(): number {
    return this.#size;
  }

  /** Whether the SA uses Extended Sequence Numbers. */
  get esn(): boolean {
    return this.#esn;
  }

  /** The right edge: the highest sequence number committed so far (64-bit with ESN). */
  get highest(): bigint {
    return (BigInt(this.#high) << 32n) | BigInt(this.#low);
  }

  /**
   * Read-only replay check of a received sequence number (RFC 4303 §3.4.3, Appendix A2.2).
   *
   * Without ESN, `seqHigh` is 0 and sequence number 0 is never valid. With ESN the high half is
   * inferred per Appendix A (Case A / Case B); a number further behind than the window is
   * inferred as the next subspace and accepted here, so that its ICV check fails. With the window
   * disabled every number is accepted (ESN: the high half is still inferred, as the nearest
   * value to the right edge). Nothing is changed: call {@link update} after the ICV verified.
   *
   * @param seqLow the 32-bit sequence number field of the packet (uint32)
   * @returns `{ ok: true, seqHigh }` or `{ ok: false }` (frozen, shared objects)
   */
  check(seqLow: number): ReplayCheckResult {
    if (!isUint32(seqLow)) return REJECT;
    const low = this.#low;
    if (!this.#esn) {
      if (this.#size === 0) return ACCEPT_LOW_ONLY;
      if (seqLow === 0) return REJECT;
      if (seqLow > low) return ACCEPT_LOW_ONLY;
      if (low - seqLow >= this.#size) return REJECT;
      return this.#isMarked(seqLow) ? REJECT : ACCEPT_LOW_ONLY;
    }
    const high = this.#high;
    const w = this.#inferenceWindow;
    // RFC 4303 A2.2: relative subspace of the packet (-1: Th-1, 0: Th, +1: Th+1).
    let subspace: number;
    if (low >= w - 1) {
      // Case A: window [Tl-W+1, Tl] within one subspace.
      subspace = seqLow >= low - w + 1 ? 0 : 1;
    } else {
      // Case B: window spans the previous subspace; Tl-W+1 taken mod 2^32.
      subspace = seqLow >= low - w + 1 + TWO_POW_32 ? -1 : 0;
    }
    if (this.#size === 0) {
      if (subspace === 1 && high !== UINT32_MAX) return this.#acceptNext;
      if (subspace === -1 && high !== 0) return this.#acceptPrevious;
      return this.#acceptCurrent; // the only representable high half
    }
    if (subspace === 1) return high === UINT32_MAX ? REJECT : this.#acceptNext;
    if (subspace === 0) {
      if (seqLow > low) return this.#acceptCurrent;
      if (high === 0 && seqLow === 0) return REJECT; // 64-bit sequence number 0 is never sent
      return this.#isMarked(seqLow) ? REJECT : this.#acceptCurrent;
    }
    if (high === 0) return REJECT; // Th - 1 does not exist
    return this.#isMarked(seqLow) ? REJECT : this.#acceptPrevious;
  }

  /**
   * Commits a sequence number after its ICV verified (RFC 4303 §3.4.3): marks it received and,
   * if it is right of the window, moves the right edge (RFC 6479: clears only the blocks passed
   * over). A number left of the window is ignored. Never allocates.
   *
   * @param seqHigh high 32 bits as returned by {@link check} (0 without ESN)
   * @param seqLow the 32-bit sequence number field of the packet
   * @throws {RangeError} if either half is not a uint32, or `seqHigh` is not 0 without ESN
   */
  update(seqHigh: number, seqLow: number): void {
    if (!isUint32(seqHigh) || !isUint32(seqLow) || (!this.#esn && seqHigh !== 0)) {
      throw new RangeError(
        `Cannot update replay window: invalid sequence number halves ${String(seqHigh)}:${String(seqLow)}`,
      );
    }
    const high = this.#high;
    const low = this.#low;
    const ring = this.#ring;
    const mask = this.#ringMask;
    if (seqHigh > high || (seqHigh === high && seqLow > low)) {
      if (this.#size !== 0) {
        const oldBlock = low >>> BLOCK_SHIFT;
        const newBlock = seqLow >>> BLOCK_SHIFT;
        // Blocks passed over; exact while small, and any inexact value is larger than the ring.
        let passed = (seqHigh - high) * BLOCKS_PER_HIGH_UNIT + (newBlock - oldBlock);
        if (passed > mask + 1) passed = mask + 1;
        for (let i = 1; i <= passed; i++) ring[(oldBlock + i) & mask] = 0;
        ring[newBlock & mask] = ring[newBlock & mask]! | (1 << (seqLow & BIT_MASK));
      }
      this.#low = seqLow;
      if (seqHigh !== high) {
        this.#high = seqHigh;
        this.#rebuildResults();
      }
      return;
    }
    if (this.#size === 0) return;
    // At or behind the right edge: mark it if it is inside the window.
    const distance = (high - seqHigh) * TWO_POW_32 + (low - seqLow);
    if (distance >= this.#size) return;
    if (seqHigh === 0 && seqLow === 0) return;
    const index = (seqLow >>> BLOCK_SHIFT) & mask;
    ring[index] = ring[index]! | (1 << (seqLow & BIT_MASK));
  }

  /**
   * The received-bitmap in the Linux kernel's `xfrm_replay_state_esn.bmp[]` layout, which
   * Android 15's `IpSecTransformState.getReplayBitmap()` returns.
   *
   * Length: `ceil(size / 32) * 4` bytes (512 for a 4096 window; empty when disabled). Sequence
   * number `s` inside the window (`highest - size < s <= highest`, `s >= 1`) owns bit
   * `p = (s - 1) mod size`: byte `p >> 3`, bit `p & 7` counted from the least significant bit
   * (the kernel's u32 words stored little-endian). So with in-order traffic from 1, bit i means
   * "sequence i+1 received", and once more than `size` packets arrived every bit is set.
   * Numbers outside the window are not represented. For sizes that are powers of two this is
   * bit-identical to the kernel; for other sizes the position uses the full 64-bit number.
   *
   * @returns a new array owned by the caller
   */
  bitmap(): Uint8Array {
    const size = this.#size;
    const out = new Uint8Array(Math.ceil(size / 32) * 4);
    if (size === 0) return out;
    const high = this.#high;
    const low = this.#low;
    const ring = this.#ring;
    const mask = this.#ringMask;
    // highest mod size, without bigint: (high * 2^32 + low) mod size.
    const edge = ((high % size) * (TWO_POW_32 % size) + (low % size)) % size;
    for (let i = 0; i < size; i++) {
      if (high === 0 && i >= low) break; // s = low - i < 1
      const sLow = (low - i) >>> 0;
      const word = ring[(sLow >>> BLOCK_SHIFT) & mask]!;
      if (((word >>> (sLow & BIT_MASK)) & 1) === 0) continue;
      const p = (edge - 1 - i + 2 * size) % size;
      out[p >>> 3] = out[p >>> 3]! | (1 << (p & 7));
    }
    return out;
  }

  #isMarked(seqLow: number): boolean {
    const word = this.#ring[(seqLow >>> BLOCK_SHIFT) & this.#ringMask]!;
    return ((word >>> (seqLow & BIT_MASK)) & 1) === 1;
  }

  #rebuildResults(): void {
    const high = this.#high;
    this.#acceptPrevious = this.#esn ? accept(high - 1) : REJECT;
    this.#acceptCurrent = this.#esn ? accept(high) : ACCEPT_LOW_ONLY;
    this.#acceptNext = this.#esn ? accept(high + 1) : REJECT;
  }
}
