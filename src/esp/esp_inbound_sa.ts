/**
 * The receiving side of an ESP SA: `open()` checks and decrypts an ESP packet
 * (RFC 4303 §3.4). It never throws for packet content; every failure is a drop reason.
 *
 * Open order (RFC 4303 §3.4.2–§3.4.4; fixed, the window changes only after authentication):
 * 1. length < 8 (no SPI and sequence number) → `'truncated'`;
 * 2. SPI differs from this SA's → `'no-sa'`;
 * 3. too short for IV + minimal ciphertext + ICV, or (CBC) ciphertext not a multiple of the
 *    block size → `'truncated'`;
 * 4. read-only anti-replay check, which also infers the ESN high half (RFC 4303 §3.4.3,
 *    Appendix A) → `'replay'`;
 * 5. authenticate in constant time: the ICV with `crypto.timingSafeEqual` (separate
 *    algorithms; the ciphertext is decrypted only after it passed), or the AEAD tag through
 *    `final()` (the plaintext is released only if it passed) → `'auth'`;
 * 6. commit the sequence number to the replay window;
 * 7. padding: Pad Length fits and the padding is the default 1, 2, 3, … (RFC 4303 §2.4)
 *    → `'bad-padding'`;
 * 8. Next Header 59 → `'dummy'` (RFC 4303 §2.6: discard silently, callers count it).
 *
 * Encryption-only SAs (no integrity) skip step 5 and have anti-replay disabled, as
 * RFC 4303 §3.4.3 requires ("MUST NOT enable anti-replay without integrity").
 *
 * @module
 */
import { ESP_HEADER_LENGTH, ESP_NEXT_HEADER, ESP_TRAILER_LENGTH } from './constants.ts';
import { SaDisposedError } from './errors.ts';
import type { EspSaOptions } from './esp_sa_options.ts';
import { resolveSaOptions } from './esp_sa_options.ts';
import { formatSpi } from './format_spi.ts';
import { isDefaultPadding } from './padding.ts';
import {
  DEFAULT_REPLAY_WINDOW_SIZE,
  REPLAY_WINDOW_MAX_SIZE,
  REPLAY_WINDOW_MIN_SIZE,
  ReplayWindow,
} from './replay_window.ts';
import { joinSequenceNumber } from './sequence.ts';
import { createEspCipher } from './transforms/create_esp_cipher.ts';
import type { EspCipher } from './transforms/esp_cipher.ts';

/**
 * Options of an inbound SA.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { EspInboundSa, type EspInboundSaOptions } from 'tsnetd/esp';
 * const key = randomBytes(20); // 16-byte AES key ‖ 4-byte salt
 * const options: EspInboundSaOptions = { spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 }, replayWindowSize: 1024 };
 * using sa = new EspInboundSa(options);
 * ```
 */
export interface EspInboundSaOptions extends EspSaOptions {
  /**
   * Anti-replay window in packets: 0 disables anti-replay, otherwise 32..65536.
   * Default 4096 (Android 14); default 0 (and only 0 allowed) for encryption-only SAs.
   */
  readonly replayWindowSize?: number;
  /** Initial right edge of the window (highest sequence number already seen); default `0n`. */
  readonly highestSequenceNumber?: bigint;
}

/** Why `open()` dropped a packet (a closed set). */
export type DropReason = 'truncated' | 'no-sa' | 'replay' | 'auth' | 'bad-padding' | 'dummy';

/** The result of `open()`. */
export type OpenResult =
  | {
      readonly ok: true;
      /** A view into a new buffer holding the decrypted payload; owned by the caller. */
      readonly payload: Uint8Array;
      readonly nextHeader: number;
      /** The full (ESN: 64-bit) sequence number of the packet. */
      readonly seq: bigint;
    }
  | { readonly ok: false; readonly reason: DropReason };

function drop(reason: DropReason): OpenResult {
  return Object.freeze({ ok: false, reason });
}

const TRUNCATED = drop('truncated');
const NO_SA = drop('no-sa');
const REPLAY = drop('replay');
const AUTH = drop('auth');
const BAD_PADDING = drop('bad-padding');
const DUMMY = drop('dummy');

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

// Module-local copies of the constants read on every packet.
const HEADER_LENGTH = ESP_HEADER_LENGTH;
const TRAILER_LENGTH = ESP_TRAILER_LENGTH;
const NEXT_HEADER_NONE = ESP_NEXT_HEADER.NONE;

/**
 * An inbound ESP SA.
 *
 * @example Open what the peer's outbound SA sealed
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EspInboundSa, EspOutboundSa } from 'tsnetd/esp';
 * const key = randomBytes(20); // 16-byte AES key ‖ 4-byte salt, shared with the peer
 * using peer = new EspOutboundSa({ spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 } });
 * using sa = new EspInboundSa({ spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 } });
 * const packet = peer.seal(new TextEncoder().encode('hi'), 17);
 * const result = sa.open(packet);
 * assert.ok(result.ok);
 * assert.equal(new TextDecoder().decode(result.payload), 'hi');
 * assert.equal(result.nextHeader, 17);
 * assert.deepEqual(sa.open(packet), { ok: false, reason: 'replay' }); // a copy is dropped
 * ```
 */
export class EspInboundSa {
  /** The SPI this SA accepts. */
  readonly spi: number;
  /** Whether 64-bit extended sequence numbers are used. */
  readonly esn: boolean;
  readonly #cipher: EspCipher;
  readonly #window: ReplayWindow;
  readonly #minLength: number;
  readonly #ivLength: number;
  readonly #icvLength: number;
  readonly #blockSize: number;
  readonly #algorithms: string;
  #disposed = false;

  /**
   * @param options copied (keys included)
   * @throws {TypeError} wrong types, unsupported algorithms or combinations
   * @throws {RangeError} SPI, key, truncation, window size or highest sequence number out of
   *   range; a non-zero window on an SA without integrity
   */
  constructor(options: EspInboundSaOptions) {
    const resolved = resolveSaOptions(options);
    const hasIntegrity = resolved.aead !== undefined || resolved.auth !== undefined;
    const size = options.replayWindowSize ?? (hasIntegrity ? DEFAULT_REPLAY_WINDOW_SIZE : 0);
    if (
      typeof size !== 'number' ||
      !Number.isInteger(size) ||
      (size !== 0 && (size < REPLAY_WINDOW_MIN_SIZE || size > REPLAY_WINDOW_MAX_SIZE))
    ) {
      throw new RangeError(
        `Cannot create ESP SA: replayWindowSize must be 0 or an integer in ${REPLAY_WINDOW_MIN_SIZE}..${REPLAY_WINDOW_MAX_SIZE}, got ${String(size)}`,
      );
    }
    if (size !== 0 && !hasIntegrity) {
      throw new RangeError(
        'Cannot create ESP SA: anti-replay requires integrity, replayWindowSize must be 0 (RFC 4303 §3.4.3)',
      );
    }
    const highest = options.highestSequenceNumber ?? 0n;
    if (typeof highest !== 'bigint') {
      throw new TypeError('Cannot create ESP SA: highestSequenceNumber must be a bigint');
    }
    const max = resolved.esn ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
    if (highest < 0n || highest > max) {
      throw new RangeError(`Cannot create ESP SA: highestSequenceNumber must be in 0..${max}`);
    }
    this.#window = new ReplayWindow({ size, esn: resolved.esn, highest });
    this.spi = resolved.spi;
    this.esn = resolved.esn;
    this.#algorithms = resolved.algorithms;
    this.#cipher = createEspCipher(resolved, 'open');
    this.#ivLength = this.#cipher.ivLength;
    this.#icvLength = this.#cipher.icvLength;
    this.#blockSize = this.#cipher.blockSize;
    const minCiphertext =
      this.#blockSize > ESP_TRAILER_LENGTH ? this.#blockSize : ESP_TRAILER_LENGTH;
    this.#minLength = ESP_HEADER_LENGTH + this.#ivLength + minCiphertext + this.#icvLength;
  }

  /** The right edge of the replay window: the highest authenticated sequence number. */
  get highestSequenceNumber(): bigint {
    return this.#window.highest;
  }

  /** The anti-replay window size (0 = disabled). */
  get replayWindowSize(): number {
    return this.#window.size;
  }

  /**
   * The received-packets bitmap in Linux's `xfrm_replay_state_esn.bmp` layout
   * (see `ReplayWindow.bitmap()`).
   *
   * @returns a new array owned by the caller
   */
  replayBitmap(): Uint8Array {
    return this.#window.bitmap();
  }

  /**
   * Checks, authenticates and decrypts one ESP packet (order in the module header).
   *
   * @param packet `SPI ‖ Seq ‖ IV ‖ ciphertext ‖ ICV` (what follows the IP or UDP header);
   *   not retained, not modified
   * @returns the payload and next header, or a drop reason; never throws for packet content
   * @throws {SaDisposedError} after `dispose()`
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { randomBytes } from 'node:crypto';
   * import { EspInboundSa, EspOutboundSa } from 'tsnetd/esp';
   * const aead = { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } as const;
   * using peer = new EspOutboundSa({ spi: 0x1234, aead });
   * using sa = new EspInboundSa({ spi: 0x1234, aead });
   * const packet = peer.seal(Uint8Array.of(1, 2, 3), 17);
   * const last = packet.length - 1;
   * packet[last] = (packet[last] ?? 0) ^ 1; // flip one bit of the ICV
   * const r = sa.open(packet);
   * assert.ok(!r.ok && r.reason === 'auth');
   * ```
   */
  open(packet: Uint8Array): OpenResult {
    if (this.#disposed) throw new SaDisposedError(this.spi, 'open');
    if (!(packet instanceof Uint8Array))
      throw new TypeError('Cannot open: packet must be a Uint8Array');
    // Memory another thread can write: take a private snapshot first, or the bytes decrypted
    // could differ from the bytes authenticated (ICV verified, then decrypted; review finding).
    if (packet.buffer instanceof SharedArrayBuffer) return this.open(new Uint8Array(packet));
    const length = packet.length;
    if (length < HEADER_LENGTH) return TRUNCATED;
    // (2) SPI
    if (
      ((packet[0]! << 24) | (packet[1]! << 16) | (packet[2]! << 8) | packet[3]!) >>> 0 !==
      this.spi
    ) {
      return NO_SA;
    }
    // (3) lengths
    if (length < this.#minLength) return TRUNCATED;
    const ciphertextLength = length - HEADER_LENGTH - this.#ivLength - this.#icvLength;
    if (this.#blockSize > 1 && ciphertextLength % this.#blockSize !== 0) return TRUNCATED;
    // (4) read-only replay check; infers the ESN high half
    const seqLow = ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
    const check = this.#window.check(seqLow);
    if (!check.ok) return REPLAY;
    const seqHigh = check.seqHigh;
    // (5) authenticate (constant time), then decrypt
    const plaintext = this.#cipher.open(packet, seqHigh);
    if (plaintext === undefined) return AUTH;
    // (6) commit to the window, only now
    this.#window.update(seqHigh, seqLow);
    // (7) padding
    const trailer = plaintext.length - TRAILER_LENGTH;
    const padLength = plaintext[trailer]!;
    const nextHeader = plaintext[trailer + 1]!;
    const payloadLength = trailer - padLength;
    if (payloadLength < 0 || !isDefaultPadding(plaintext, payloadLength, padLength)) {
      plaintext.fill(0);
      return BAD_PADDING;
    }
    // (8) dummy packets
    if (nextHeader === NEXT_HEADER_NONE) {
      plaintext.fill(0);
      return DUMMY;
    }
    return {
      ok: true,
      payload: plaintext.subarray(0, payloadLength),
      nextHeader,
      seq: joinSequenceNumber(seqHigh, seqLow),
    };
  }

  /** Zeroes the keys. Idempotent; any later `open()` throws {@link SaDisposedError}. */
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
  toJSON(): {
    spi: number;
    esn: boolean;
    algorithms: string;
    highestSequenceNumber: string;
    replayWindowSize: number;
  } {
    return {
      spi: this.spi,
      esn: this.esn,
      algorithms: this.#algorithms,
      highestSequenceNumber: this.#window.highest.toString(),
      replayWindowSize: this.#window.size,
    };
  }

  /** A key-free description. */
  toString(): string {
    return `EspInboundSa(spi=${formatSpi(this.spi)}, ${this.#algorithms}${this.esn ? ', esn' : ''})`;
  }

  [INSPECT](): string {
    return this.toString();
  }
}
