/**
 * Errors thrown by the ESP engine at its API boundary.
 *
 * Per-packet failures are never thrown: `EspInboundSa.open()` returns a drop reason instead.
 * Argument errors are plain `TypeError`/`RangeError`; the classes here are domain conditions a
 * caller handles (rekey on exhaustion, do not reuse a disposed SA).
 *
 * @module
 */
import { formatSpi } from './format_spi.ts';

/**
 * Base class of the ESP engine's domain errors. Every subclass has a stable `code`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EspError, EspOutboundSa } from 'tsnetd/esp';
 * const sa = new EspOutboundSa({ spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } });
 * sa.dispose();
 * try {
 *   sa.seal(new Uint8Array(8), 17);
 *   assert.fail('a disposed SA seals nothing');
 * } catch (error) {
 *   assert.ok(error instanceof EspError);
 *   assert.equal(error.code, 'ERR_ESP_SA_DISPOSED');
 * }
 * ```
 */
export class EspError extends Error {
  /** Stable machine-readable code, `ERR_ESP_<CONDITION>`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EspError';
    this.code = code;
  }
}

/**
 * The outbound sequence number would cycle (RFC 4303 §3.3.3): the SA must be replaced by a new
 * one with fresh keys. Thrown by `seal()` after 2^32-1 packets (2^64-1 with ESN).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EspOutboundSa, MAX_SEQ_32, SequenceNumberExhaustedError } from 'tsnetd/esp';
 * const aead = { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } as const;
 * using sa = new EspOutboundSa({ spi: 0x1234, aead, nextSequenceNumber: BigInt(MAX_SEQ_32) });
 * sa.seal(new Uint8Array(8), 17); // sequence number 2^32-1, the last one without ESN
 * assert.throws(() => sa.seal(new Uint8Array(8), 17), SequenceNumberExhaustedError); // time to rekey
 * ```
 */
export class SequenceNumberExhaustedError extends EspError {
  /** The SPI of the exhausted SA. */
  readonly spi: number;

  constructor(spi: number, esn: boolean) {
    super(
      'ERR_ESP_SEQUENCE_EXHAUSTED',
      `Cannot seal on SA ${formatSpi(spi)}: the ${esn ? '64' : '32'}-bit sequence number is exhausted, rekey with a new SA`,
    );
    this.name = 'SequenceNumberExhaustedError';
    this.spi = spi;
  }
}

/**
 * An SA was used after `dispose()` (its keys are already zeroed).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { randomBytes } from 'node:crypto';
 * import { EspOutboundSa, SaDisposedError } from 'tsnetd/esp';
 * const sa = new EspOutboundSa({ spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } });
 * sa.dispose();
 * assert.throws(() => sa.seal(new Uint8Array(8), 17), SaDisposedError);
 * ```
 */
export class SaDisposedError extends EspError {
  constructor(spi: number, action: string) {
    super('ERR_ESP_SA_DISPOSED', `Cannot ${action} on SA ${formatSpi(spi)}: the SA is disposed`);
    this.name = 'SaDisposedError';
  }
}

/**
 * The native crypto provider (OpenSSL through koffi) reported a failure, or a native context was
 * used after it was freed. Never raised for packet content (a failed tag check is a drop).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { NativeCryptoError } from 'tsnetd/esp';
 * const error = new NativeCryptoError('seal', 'EVP_CipherUpdate failed');
 * assert.equal(error.code, 'ERR_ESP_NATIVE_CRYPTO');
 * ```
 */
export class NativeCryptoError extends EspError {
  constructor(action: string, detail: string) {
    super('ERR_ESP_NATIVE_CRYPTO', `Cannot ${action}: ${detail}`);
    this.name = 'NativeCryptoError';
  }
}
