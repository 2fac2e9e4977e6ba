/**
 * The receive ring of the userspace data path: native packet memory that `recvmmsg` fills, one
 * slot per datagram, where ESP is opened in place (the native AEAD ciphers decrypt where the
 * packet lies; only the application's payload is copied out, into the `Buffer` it receives).
 *
 * One ring serves the whole process: a batch is received and fully processed inside one
 * readiness callback, synchronously, before any other socket's batch can start, and a slot's
 * bytes are never handed on (every consumer copies what it keeps). Slots are 64 KiB, room for
 * the largest UDP datagram, so nothing is truncated; the memory is virtual until a slot is used.
 *
 * @module
 */
import { allocateNativePacketMemory, nativeAddressOf } from '../esp/transforms/native/openssl.ts';
import { UdpRecvBatch } from '../sys/mod.ts';

/** Slots of the ring: datagrams one `recvmmsg` may carry. */
export const RX_RING_SLOTS = 64;
/** Bytes per slot. */
export const RX_RING_SLOT_LENGTH = 65536;

let shared: EspRxRing | undefined | null;

/**
 * The process-wide receive ring.
 *
 * @example
 * ```ts
 * import { EspRxRing } from './esp_rx_ring.ts';
 * const ring = EspRxRing.shared(); // undefined with the node:crypto provider or off Linux
 * console.log(ring === undefined || ring.slots.length === 64); // true
 * ```
 */
export class EspRxRing {
  /** One view per slot. */
  readonly slots: readonly Uint8Array[];
  /** The `recvmmsg` batch filling {@link EspRxRing.slots}. */
  readonly batch: UdpRecvBatch;

  private constructor(slots: readonly Uint8Array[], batch: UdpRecvBatch) {
    this.slots = slots;
    this.batch = batch;
  }

  /** The ring, created on first call; `undefined` where it is not offered. */
  static shared(): EspRxRing | undefined {
    if (shared !== undefined) return shared ?? undefined;
    shared = null;
    const memory = allocateNativePacketMemory(RX_RING_SLOTS * RX_RING_SLOT_LENGTH);
    if (memory === undefined) return undefined;
    const slots: Uint8Array[] = [];
    const addresses: number[] = [];
    for (let i = 0; i < RX_RING_SLOTS; i++) {
      const slot = memory.subarray(i * RX_RING_SLOT_LENGTH, (i + 1) * RX_RING_SLOT_LENGTH);
      const address = nativeAddressOf(slot);
      if (address === undefined) return undefined;
      slots.push(slot);
      addresses.push(address);
    }
    const batch = UdpRecvBatch.create(addresses, RX_RING_SLOT_LENGTH);
    if (batch === undefined) return undefined;
    shared = new EspRxRing(slots, batch);
    return shared;
  }
}
