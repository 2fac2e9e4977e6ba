/**
 * Errors thrown by the ESP engine at its API boundary.
 *
 * Per-packet failures are never thrown: `EspInboundSa.open()` returns a drop reason instead.
 * Argument errors are plain `TypeError`/`RangeError`; the classes here are domain conditions a
 * caller handles (rekey on exhaustion, do not reuse a disposed SA).
 *
 * @module
 */

/**
 * Base class of the ESP engine's domain errors. Every subclass has a stable `code`.
 *
 * @example
 * ```ts
 * try { sa.seal(payload, 17); } catch (error) {
 *   if (error instanceof EspError) console.log(error.code);
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
 * try { sa.seal(payload, 17); } catch (error) {
 *   if (error instanceof SequenceNumberExhaustedError) rekey();
 * }
 * ```
 */
export class SequenceNumberExhaustedError extends EspError {
  /** The SPI of the exhausted SA. */
  readonly spi: number;

  constructor(spi: number, esn: boolean) {
    super(
      'ERR_ESP_SEQUENCE_EXHAUSTED',
      `Cannot seal on SA 0x${spi.toString(16).padStart(8, '0')}: the ${esn ? '64' : '32'}-bit sequence number is exhausted, rekey with a new SA`,
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
 * sa.dispose();
 * sa.seal(payload, 17); // throws SaDisposedError
 * ```
 */
export class SaDisposedError extends EspError {
  constructor(spi: number, action: string) {
    super(
      'ERR_ESP_SA_DISPOSED',
      `Cannot ${action} on SA 0x${spi.toString(16).padStart(8, '0')}: the SA is disposed`,
    );
    this.name = 'SaDisposedError';
  }
}
