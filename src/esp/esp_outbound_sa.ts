/**
 * The sending side of an ESP SA: `seal()` turns a payload into an ESP packet (RFC 4303 §3.3).
 *
 * Seal order:
 * 1. validate arguments (API misuse throws `TypeError`/`RangeError`);
 * 2. advance the sequence number; refuse to wrap (RFC 4303 §3.3.3): throws
 *    `SequenceNumberExhaustedError` once 2^32-1 (2^64-1 with ESN) was used;
 * 3. write `SPI ‖ Seq(low 32) ‖ IV ‖ payload ‖ padding(1, 2, 3, …) ‖ Pad Length ‖ Next Header`
 *    with minimal padding to the block size and to 4 bytes (RFC 4303 §2.4, RFC 4106 §3.2);
 * 4. encrypt and append the ICV (ESN high half in the AAD or as implicit ICV trailer).
 *
 * @module
 */
import {
  ESP_HEADER_LENGTH,
  ESP_NEXT_HEADER,
  ESP_TRAILER_LENGTH,
  MAX_PAYLOAD_LENGTH,
} from './constants.ts';
import { SaDisposedError, SequenceNumberExhaustedError } from './errors.ts';
import type { EspSaOptions } from './esp_sa_options.ts';
import { resolveSaOptions } from './esp_sa_options.ts';
import { formatSpi } from './format_spi.ts';
import { CounterIvWriter, type IvWriter, RandomIvWriter, SourceIvWriter } from './iv_source.ts';
import { paddingLength, writePadding } from './padding.ts';
import { OutboundSequence } from './sequence.ts';
import { createEspCipher } from './transforms/create_esp_cipher.ts';
import type { EspCipher } from './transforms/esp_cipher.ts';
import { fillRandom } from './transforms/random.ts';

/**
 * Options of an outbound SA.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { EspOutboundSa, type EspOutboundSaOptions } from 'tsnetd/esp';
 * const key = randomBytes(20); // 16-byte AES key ‖ 4-byte salt
 * const options: EspOutboundSaOptions = { spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 } };
 * using sa = new EspOutboundSa(options);
 * ```
 */
export interface EspOutboundSaOptions extends EspSaOptions {
  /** Sequence number of the first sealed packet; default `1n`. */
  readonly nextSequenceNumber?: bigint;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

// Module-local copies of the constants read on every packet.
const HEADER_LENGTH = ESP_HEADER_LENGTH;
const TRAILER_LENGTH = ESP_TRAILER_LENGTH;
const MAX_PAYLOAD = MAX_PAYLOAD_LENGTH;
const NEXT_HEADER_NONE = ESP_NEXT_HEADER.NONE;

/**
 * Output packets are carved from shared 64 KiB slabs: one ArrayBuffer per ~45 full-size packets
 * instead of one per packet halves the external-memory churn the garbage collector sees
 * (bench/esp.bench.ts). A packet view keeps its slab alive; callers that keep packets for long
 * should copy them (`packet.slice()`).
 */
const SLAB_LENGTH = 65536;
let slab = new ArrayBuffer(SLAB_LENGTH);
let slabOffset = 0;

/** The real element count of a typed array (%TypedArray%.prototype.length, not an own property). */
const typedArrayLength = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  'length',
)?.get as (this: Uint8Array) => number;

function allocatePacket(length: number): Uint8Array {
  if (length > SLAB_LENGTH >>> 2) return new Uint8Array(length);
  if (slabOffset + length > SLAB_LENGTH) {
    slab = new ArrayBuffer(SLAB_LENGTH);
    slabOffset = 0;
  }
  const packet = new Uint8Array(slab, slabOffset, length);
  slabOffset += (length + 7) & ~7;
  return packet;
}

/**
 * An outbound ESP SA.
 *
 * @example Seal a UDP datagram with AES-GCM-128
 * ```ts
 * import assert from 'node:assert/strict';
 * import { buildUdpDatagram, ESP_NEXT_HEADER, EspOutboundSa } from 'tsnetd/esp';
 * const lo = Uint8Array.of(127, 0, 0, 1);
 * const udpDatagram = buildUdpDatagram({ srcAddr: lo, dstAddr: lo, srcPort: 40000, dstPort: 40001, payload: Uint8Array.of(1, 2) });
 * const sa = new EspOutboundSa({
 *   spi: 0x1234,
 *   aead: { name: 'rfc4106(gcm(aes))', key: crypto.getRandomValues(new Uint8Array(20)), icvLengthBits: 128 },
 * });
 * const packet = sa.seal(udpDatagram, ESP_NEXT_HEADER.UDP);
 * assert.equal(packet.length, 8 + 8 + 10 + 2 + 16); // header, IV, datagram, trailer, ICV
 * sa.dispose();
 * ```
 */
export class EspOutboundSa {
  /** The SPI written into every packet. */
  readonly spi: number;
  /** Whether 64-bit extended sequence numbers are used. */
  readonly esn: boolean;
  readonly #cipher: EspCipher;
  readonly #sequence: OutboundSequence;
  readonly #iv: IvWriter;
  readonly #ivLength: number;
  readonly #icvLength: number;
  readonly #blockSize: number;
  readonly #algorithms: string;
  #disposed = false;

  /**
   * @param options copied (keys included); the caller may zero its key buffers afterwards
   * @throws {TypeError} wrong types, unsupported algorithms or combinations
   * @throws {RangeError} SPI, key, truncation or sequence number out of range
   */
  constructor(options: EspOutboundSaOptions) {
    const resolved = resolveSaOptions(options);
    this.#sequence = new OutboundSequence({
      next: options.nextSequenceNumber ?? 1n,
      esn: resolved.esn,
    });
    this.spi = resolved.spi;
    this.esn = resolved.esn;
    this.#algorithms = resolved.algorithms;
    this.#cipher = createEspCipher(resolved, 'seal');
    this.#ivLength = this.#cipher.ivLength;
    this.#icvLength = this.#cipher.icvLength;
    this.#blockSize = this.#cipher.blockSize;
    if (resolved.ivSource !== undefined) this.#iv = new SourceIvWriter(resolved.ivSource);
    else if (this.#ivLength === 16) this.#iv = new RandomIvWriter();
    else this.#iv = new CounterIvWriter();
  }

  /** The sequence number of the last sealed packet (`nextSequenceNumber - 1` before the first). */
  get lastSequenceNumber(): bigint {
    return this.#sequence.last;
  }

  /**
   * Seals a payload into an ESP packet.
   *
   * @param payload the next-layer data (a transport-mode datagram or an inner IP packet), or
   *   several parts concatenated in order; not retained, not modified
   * @param nextHeader IANA protocol number of the payload, 0..255 (59 = dummy)
   * @returns `SPI ‖ Seq ‖ IV ‖ ciphertext ‖ ICV` in a new buffer owned by the caller
   * @throws {SequenceNumberExhaustedError} the counter would wrap: replace the SA
   * @throws {SaDisposedError} after `dispose()`
   * @throws {TypeError} payload is not a Uint8Array (or array of them)
   * @throws {RangeError} nextHeader out of range or payload longer than 65535 bytes
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { randomBytes } from 'node:crypto';
   * import { ESP_NEXT_HEADER, EspInboundSa, EspOutboundSa } from 'tsnetd/esp';
   * const aead = { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } as const;
   * using sa = new EspOutboundSa({ spi: 0x1234, aead });
   * using peer = new EspInboundSa({ spi: 0x1234, aead });
   * const udpHeader = new Uint8Array(8);
   * const data = new TextEncoder().encode('hi');
   * const packet = sa.seal([udpHeader, data], ESP_NEXT_HEADER.UDP); // sealed as if concatenated
   * const r = peer.open(packet);
   * assert.ok(r.ok && r.payload.length === 10);
   * ```
   */
  seal(payload: Uint8Array | readonly Uint8Array[], nextHeader: number): Uint8Array {
    if (this.#disposed) throw new SaDisposedError(this.spi, 'seal');
    if (!Number.isInteger(nextHeader) || nextHeader < 0 || nextHeader > 255) {
      throw new RangeError(
        `Cannot seal: nextHeader must be an integer in 0..255, got ${String(nextHeader)}`,
      );
    }
    // One pass over the caller's array: a snapshot of the parts and their real lengths (the
    // %TypedArray% getter, not a possibly redefined own `length`), so the copy below cannot
    // disagree with the allocation (review: hostile iterators, lying `length` properties).
    let parts: readonly Uint8Array[];
    let payloadLength: number;
    if (payload instanceof Uint8Array) {
      parts = [payload];
      payloadLength = typedArrayLength.call(payload);
    } else if (Array.isArray(payload)) {
      const snapshot: Uint8Array[] = [];
      payloadLength = 0;
      for (const part of payload) {
        if (!(part instanceof Uint8Array)) {
          throw new TypeError('Cannot seal: payload parts must be Uint8Arrays');
        }
        snapshot.push(part);
        payloadLength += typedArrayLength.call(part);
      }
      parts = snapshot;
    } else {
      throw new TypeError('Cannot seal: payload must be a Uint8Array or an array of Uint8Arrays');
    }
    if (payloadLength > MAX_PAYLOAD) {
      throw new RangeError(
        `Cannot seal: payload is ${payloadLength} bytes, at most ${MAX_PAYLOAD_LENGTH}`,
      );
    }
    const out = this.#begin(payloadLength, nextHeader);
    try {
      let offset = HEADER_LENGTH + this.#ivLength;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        out.set(part, offset);
        offset += typedArrayLength.call(part);
      }
      this.#cipher.seal(out, out.length - this.#icvLength, this.#sequence.high);
    } catch (error) {
      // Never leave plaintext in the shared slab that later packets' `.buffer` exposes.
      out.fill(0);
      throw error;
    }
    return out;
  }

  /**
   * Seals a dummy packet (Next Header 59, RFC 4303 §2.6) with a random payload; receivers
   * authenticate and drop it. Useful for traffic-flow confidentiality.
   *
   * @param payloadLength bytes of random payload, default 0
   * @returns the packet in a new buffer
   * @throws {SequenceNumberExhaustedError} as {@link seal}
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { randomBytes } from 'node:crypto';
   * import { EspInboundSa, EspOutboundSa } from 'tsnetd/esp';
   * const aead = { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } as const;
   * using sa = new EspOutboundSa({ spi: 0x1234, aead });
   * using peer = new EspInboundSa({ spi: 0x1234, aead });
   * assert.deepEqual(peer.open(sa.sealDummy(64)), { ok: false, reason: 'dummy' }); // authenticated, then dropped
   * ```
   */
  sealDummy(payloadLength = 0): Uint8Array {
    if (this.#disposed) throw new SaDisposedError(this.spi, 'seal');
    if (!Number.isInteger(payloadLength) || payloadLength < 0 || payloadLength > MAX_PAYLOAD) {
      throw new RangeError(
        `Cannot seal dummy packet: payloadLength must be an integer in 0..${MAX_PAYLOAD_LENGTH}`,
      );
    }
    const out = this.#begin(payloadLength, NEXT_HEADER_NONE);
    try {
      fillRandom(out, HEADER_LENGTH + this.#ivLength, payloadLength);
      this.#cipher.seal(out, out.length - this.#icvLength, this.#sequence.high);
    } catch (error) {
      out.fill(0);
      throw error;
    }
    return out;
  }

  /**
   * Where {@link EspOutboundSa.sealInPlace} expects the payload: header + IV bytes.
   *
   * @example
   * ```ts
   * import { EspOutboundSa } from 'tsnetd/esp';
   * const aead = { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20), icvLengthBits: 128 } as const;
   * console.log(new EspOutboundSa({ spi: 0x100, aead }).payloadOffset); // 16
   * ```
   */
  get payloadOffset(): number {
    return HEADER_LENGTH + this.#ivLength;
  }

  /**
   * Seals a payload already written at `packet[payloadOffset, payloadOffset + payloadLength)`,
   * in place: header, IV, padding, trailer and ICV are written around it and the packet is
   * encrypted where it lies (in native packet memory, by OpenSSL without any copy). Used by the
   * data path to build a datagram directly in its transmit ring.
   *
   * @returns the packet's length (`packet[0, length)` is the ESP packet)
   * @throws {RangeError} the payload is too long or the packet does not fit `packet`
   * @throws {SaDisposedError} | {@link SequenceNumberExhaustedError} as {@link EspOutboundSa.seal}
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { EspInboundSa, EspOutboundSa, ESP_NEXT_HEADER } from 'tsnetd/esp';
   * const aead = { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(7), icvLengthBits: 128 } as const;
   * const out = new EspOutboundSa({ spi: 0x100, aead });
   * const buffer = new Uint8Array(2048);
   * buffer.set([1, 2, 3], out.payloadOffset);
   * const length = out.sealInPlace(buffer, 3, ESP_NEXT_HEADER.UDP);
   * const r = new EspInboundSa({ spi: 0x100, aead }).open(buffer.subarray(0, length));
   * assert.ok(r.ok && r.payload.join() === '1,2,3');
   * ```
   */
  sealInPlace(packet: Uint8Array, payloadLength: number, nextHeader: number): number {
    if (this.#disposed) throw new SaDisposedError(this.spi, 'seal');
    if (!(packet instanceof Uint8Array)) {
      throw new TypeError('Cannot seal: the packet buffer must be a Uint8Array');
    }
    if (!Number.isInteger(nextHeader) || nextHeader < 0 || nextHeader > 255) {
      throw new RangeError(
        `Cannot seal: nextHeader must be an integer in 0..255, got ${String(nextHeader)}`,
      );
    }
    if (!Number.isInteger(payloadLength) || payloadLength < 0 || payloadLength > MAX_PAYLOAD) {
      throw new RangeError(
        `Cannot seal: payloadLength must be an integer in 0..${MAX_PAYLOAD_LENGTH}, got ${String(payloadLength)}`,
      );
    }
    const length = this.#sealedLength(payloadLength);
    const capacity = typedArrayLength.call(packet);
    if (length > capacity) {
      throw new RangeError(
        `Cannot seal: the packet needs ${length} bytes, the buffer has ${capacity}`,
      );
    }
    const out = packet.subarray(0, length);
    try {
      this.#begin(payloadLength, nextHeader, out);
      this.#cipher.seal(out, length - this.#icvLength, this.#sequence.high);
    } catch (error) {
      // The payload was clear text: leave none of it behind.
      out.fill(0);
      throw error;
    }
    return length;
  }

  /** Length of the sealed packet of a `payloadLength`-byte payload. */
  #sealedLength(payloadLength: number): number {
    const padLength = paddingLength(payloadLength, this.#blockSize);
    return (
      HEADER_LENGTH + this.#ivLength + payloadLength + padLength + TRAILER_LENGTH + this.#icvLength
    );
  }

  /** Zeroes the keys. Idempotent; any later `seal()` throws {@link SaDisposedError}. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#cipher.dispose();
  }

  /** Same as {@link dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A key-free summary. */
  toJSON(): { spi: number; esn: boolean; algorithms: string; lastSequenceNumber: string } {
    return {
      spi: this.spi,
      esn: this.esn,
      algorithms: this.#algorithms,
      lastSequenceNumber: this.#sequence.last.toString(),
    };
  }

  /** A key-free description. */
  toString(): string {
    return `EspOutboundSa(spi=${formatSpi(this.spi)}, ${this.#algorithms}${this.esn ? ', esn' : ''})`;
  }

  [INSPECT](): string {
    return this.toString();
  }

  /**
   * Advances the counter, allocates the packet and writes header, IV and trailer.
   * The payload bytes are left for the caller to fill.
   */
  #begin(payloadLength: number, nextHeader: number, target?: Uint8Array): Uint8Array {
    const sequence = this.#sequence;
    if (!sequence.advance()) throw new SequenceNumberExhaustedError(this.spi, this.esn);
    const ivLength = this.#ivLength;
    const padLength = paddingLength(payloadLength, this.#blockSize);
    const dataOffset = HEADER_LENGTH + ivLength;
    const trailerOffset = dataOffset + payloadLength + padLength;
    const out = target ?? allocatePacket(trailerOffset + TRAILER_LENGTH + this.#icvLength);
    const spi = this.spi;
    const low = sequence.low;
    out[0] = spi >>> 24;
    out[1] = spi >>> 16;
    out[2] = spi >>> 8;
    out[3] = spi;
    out[4] = low >>> 24;
    out[5] = low >>> 16;
    out[6] = low >>> 8;
    out[7] = low;
    if (ivLength !== 0) {
      this.#iv.write(out, HEADER_LENGTH, ivLength, sequence.high, low);
      // A caller's IvSource runs here and may have disposed this SA (keys now zero): fail
      // closed instead of sealing under the zeroed key. The sequence number stays consumed.
      if (this.#disposed) throw new SaDisposedError(this.spi, 'seal');
    }
    writePadding(out, dataOffset + payloadLength, padLength);
    out[trailerOffset] = padLength;
    out[trailerOffset + 1] = nextHeader;
    return out;
  }
}
