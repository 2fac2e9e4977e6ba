/**
 * C library number parsing as netd uses it: `strtol`/`strtoul`/`strtoull` on an LP64 system
 * (64-bit long), including base 0 auto-detection (`0x` hex, leading `0` octal), leading
 * white space, an optional sign, saturation on overflow and unsigned negation
 * (how netd reads sequence numbers and network ids).
 */

const ULONG_MAX = (1n << 64n) - 1n;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);
const C_SPACE_REGEXP = /^[ \t\n\v\f\r]*/;

/** What a C `strto*` call returns: the value and the index of the first unparsed character. */
export interface CParseResult {
  /** The converted value (already saturated/negated as the C function does). */
  readonly value: bigint;
  /** Index into the input where parsing stopped (C `*endptr`); 0 when nothing was converted. */
  readonly end: number;
}

interface RawParse {
  readonly negative: boolean;
  readonly magnitude: bigint;
  readonly overflow: boolean;
  readonly end: number;
}

function digitValue(ch: string): number {
  const c = ch.charCodeAt(0);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 87;
  if (c >= 65 && c <= 90) return c - 55;
  return 99;
}

function isDigitOf(ch: string | undefined, base: number): boolean {
  return ch !== undefined && ch.length === 1 && digitValue(ch) < base;
}

function parseRaw(text: string, requestedBase: 0 | 10): RawParse {
  let i = C_SPACE_REGEXP.exec(text)?.[0].length ?? 0;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') {
    negative = text[i] === '-';
    i += 1;
  }
  let base: number = requestedBase;
  if (base === 0) {
    if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X')) {
      if (isDigitOf(text[i + 2], 16)) {
        base = 16;
        i += 2;
      } else {
        // "0x" without a hex digit: C converts the "0" and stops at the "x".
        return { negative, magnitude: 0n, overflow: false, end: i + 1 };
      }
    } else if (text[i] === '0') {
      base = 8;
    } else {
      base = 10;
    }
  }
  const start = i;
  let magnitude = 0n;
  let overflow = false;
  const bigBase = BigInt(base);
  while (isDigitOf(text[i], base)) {
    magnitude = magnitude * bigBase + BigInt(digitValue(text[i] as string));
    if (magnitude > ULONG_MAX) overflow = true;
    i += 1;
  }
  if (i === start) return { negative: false, magnitude: 0n, overflow: false, end: 0 };
  return { negative, magnitude, overflow, end: i };
}

/**
 * C `strtoul(text, &end, base)` (also `strtoull`; both are 64-bit here). Negative input is
 * negated modulo 2^64, overflow saturates to `ULONG_MAX`.
 *
 * @example
 * ```ts
 * cStrtoul('0x10', 0).value; // 16n
 * cStrtoul('010', 0).value;  // 8n
 * cStrtoul('12abc', 0);      // { value: 12n, end: 2 }
 * ```
 */
export function cStrtoul(text: string, base: 0 | 10): CParseResult {
  const raw = parseRaw(text, base);
  if (raw.overflow) return { value: ULONG_MAX, end: raw.end };
  const value = raw.negative ? BigInt.asUintN(64, -raw.magnitude) : raw.magnitude;
  return { value, end: raw.end };
}

/**
 * C `strtol(text, &end, base)` with a 64-bit `long`: saturates to `LONG_MIN`/`LONG_MAX`.
 *
 * @example
 * ```ts
 * cStrtol('-0x10', 0).value; // -16n
 * ```
 */
export function cStrtol(text: string, base: 0 | 10): CParseResult {
  const raw = parseRaw(text, base);
  const signed = raw.negative ? -raw.magnitude : raw.magnitude;
  if (raw.overflow || signed > LONG_MAX) {
    return { value: raw.negative ? LONG_MIN : LONG_MAX, end: raw.end };
  }
  if (signed < LONG_MIN) return { value: LONG_MIN, end: raw.end };
  return { value: signed, end: raw.end };
}
