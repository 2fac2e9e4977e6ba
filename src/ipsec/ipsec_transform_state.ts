/**
 * `IpSecTransformState` (Android 15): a snapshot of an SA's sequence numbers,
 * packet and byte counters and anti-replay bitmap.
 */

/**
 * A snapshot of a transform's state, returned by `IpSecTransform.requestIpSecTransformState()`.
 * Counters are `bigint` (Android: unsigned longs). Byte counts are inner sizes (transport UDP:
 * UDP header + payload), as in Android's CTS.
 *
 * @example
 * ```ts
 * import { IpSecTransformState } from 'tsnetd/ipsec';
 * const s = new IpSecTransformState({ timestampMillis: 1000, txHighestSequenceNumber: 10n,
 *   rxHighestSequenceNumber: 20n, packetCount: 30n, byteCount: 840n, replayBitmap: new Uint8Array(512) });
 * console.log(s.getPacketCount()); // 30n
 * ```
 */
export class IpSecTransformState {
  /** Milliseconds since the epoch (`Date.now()`, wall clock) when the snapshot was taken. */
  readonly timestampMillis: number;
  /** Highest sequence number sent (64-bit form). */
  readonly txHighestSequenceNumber: bigint;
  /** Highest sequence number received and authenticated (64-bit form). */
  readonly rxHighestSequenceNumber: bigint;
  /** Packets processed by the SA, both directions. */
  readonly packetCount: bigint;
  /** Inner bytes processed by the SA, both directions. */
  readonly byteCount: bigint;
  readonly #replayBitmap: Uint8Array;

  constructor(fields: {
    timestampMillis: number;
    txHighestSequenceNumber: bigint;
    rxHighestSequenceNumber: bigint;
    packetCount: bigint;
    byteCount: bigint;
    replayBitmap: Uint8Array;
  }) {
    if (!(fields.replayBitmap instanceof Uint8Array)) {
      throw new TypeError('Cannot create IpSecTransformState: replayBitmap is required');
    }
    this.timestampMillis = fields.timestampMillis;
    this.txHighestSequenceNumber = fields.txHighestSequenceNumber;
    this.rxHighestSequenceNumber = fields.rxHighestSequenceNumber;
    this.packetCount = fields.packetCount;
    this.byteCount = fields.byteCount;
    this.#replayBitmap = Uint8Array.from(fields.replayBitmap);
  }

  /** Android getter of {@link IpSecTransformState.timestampMillis}. */
  getTimestampMillis(): number {
    return this.timestampMillis;
  }
  /** Android getter of {@link IpSecTransformState.txHighestSequenceNumber}. */
  getTxHighestSequenceNumber(): bigint {
    return this.txHighestSequenceNumber;
  }
  /** Android getter of {@link IpSecTransformState.rxHighestSequenceNumber}. */
  getRxHighestSequenceNumber(): bigint {
    return this.rxHighestSequenceNumber;
  }
  /** Android getter of {@link IpSecTransformState.packetCount}. */
  getPacketCount(): bigint {
    return this.packetCount;
  }
  /** Android getter of {@link IpSecTransformState.byteCount}. */
  getByteCount(): bigint {
    return this.byteCount;
  }
  /**
   * The anti-replay bitmap (a copy): bit i, LSB first within each byte, set ⇔ sequence
   * number (right edge − window + 1 + i) … in Android's layout, 512 bytes for a 4096 window.
   */
  getReplayBitmap(): Uint8Array {
    return Uint8Array.from(this.#replayBitmap);
  }
}
