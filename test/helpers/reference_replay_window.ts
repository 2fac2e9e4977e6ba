/**
 * An obviously correct anti-replay window used as the oracle of the ReplayWindow property test.
 *
 * Written from RFC 4303 §3.4.3 and Appendix A2.2 directly, with bigint arithmetic, a `Set` of
 * accepted 64-bit sequence numbers and a moving floor. It shares no code with
 * `src/esp/replay_window.ts` and is deliberately slow and plain.
 *
 * @module
 */

const TWO_POW_32 = 1n << 32n;
const MAX_HIGH = TWO_POW_32 - 1n;

/** Reference replay window: RFC 4303 semantics, no layout tricks. */
export class ReferenceReplayWindow {
  readonly size: number;
  readonly esn: boolean;
  /** Right edge T (64-bit). */
  highest: bigint;
  readonly #accepted = new Set<bigint>();

  constructor(size: number, esn: boolean, highest = 0n) {
    this.size = size;
    this.esn = esn;
    this.highest = highest;
  }

  /**
   * The full sequence number the receiver assumes for a packet whose 32-bit field is `seqLow`
   * (RFC 4303 Appendix A2.2), or `undefined` if the inferred high half does not exist.
   */
  infer(seqLow: number): bigint | undefined {
    const seql = BigInt(seqLow);
    if (!this.esn) return seql;
    // With anti-replay disabled the nearest number to T is taken (window 2^31).
    const w = this.size === 0 ? 1n << 31n : BigInt(this.size);
    const th = this.highest / TWO_POW_32;
    const tl = this.highest % TWO_POW_32;
    let seqh: bigint;
    if (tl >= w - 1n) {
      // Case A
      if (seql >= tl - w + 1n) seqh = th;
      else seqh = th + 1n;
    } else {
      // Case B: Tl - W + 1 computed modulo 2^32
      const bottom = (((tl - w + 1n) % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;
      if (seql >= bottom) seqh = th - 1n;
      else seqh = th;
    }
    if (seqh < 0n || seqh > MAX_HIGH) {
      if (this.size === 0) return th * TWO_POW_32 + seql; // disabled: the only possible value
      return undefined;
    }
    return seqh * TWO_POW_32 + seql;
  }

  /** The full sequence number to authenticate with, or `undefined` to drop as a replay. */
  check(seqLow: number): bigint | undefined {
    const seq = this.infer(seqLow);
    if (seq === undefined) return undefined;
    if (this.size === 0) return seq;
    if (seq === 0n) return undefined;
    if (seq > this.highest) return seq;
    if (this.highest - seq >= BigInt(this.size)) return undefined;
    if (this.#accepted.has(seq)) return undefined;
    return seq;
  }

  /** Records an authenticated sequence number. */
  update(seq: bigint): void {
    if (seq > this.highest) this.highest = seq;
    if (this.size === 0) return;
    const floor = this.highest - BigInt(this.size);
    if (seq > floor) this.#accepted.add(seq);
    if (this.#accepted.size > 2 * this.size + 64) {
      for (const s of this.#accepted) if (s <= floor) this.#accepted.delete(s);
    }
  }

  /** Whether `seq` is recorded as received and still inside the window. */
  received(seq: bigint): boolean {
    return seq > this.highest - BigInt(this.size) && this.#accepted.has(seq);
  }

  /**
   * The kernel-layout bitmap (bit (s-1) mod size for each received s inside the window),
   * computed from the Set.
   */
  bitmap(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.size / 32) * 4);
    const size = BigInt(this.size);
    for (const s of this.#accepted) {
      if (s <= this.highest - size || s < 1n) continue;
      const p = Number((s - 1n) % size);
      out[p >> 3] = (out[p >> 3] ?? 0) | (1 << (p & 7));
    }
    return out;
  }
}
