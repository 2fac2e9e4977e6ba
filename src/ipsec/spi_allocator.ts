/**
 * SPI allocation as netd does it (`XfrmController::allocateSpi`, `RandomSpi`):
 * a requested SPI gets exactly one attempt; a random SPI is a sequential sweep over
 * [RAND_SPI_MIN, RAND_SPI_MAX] starting at a random point, one reservation attempt per candidate,
 * stopping at the first free one. Randomness is injected (seeded in tests).
 */

/** SPI 0 is "invalid or unknown" (RFC 4303 §2.1, Android `INVALID_SECURITY_PARAMETER_INDEX`). */
export const INVALID_SPI = 0;
/** Lowest SPI handed out at random; 1–255 are reserved by IANA (RFC 4303 §2.1). */
export const RAND_SPI_MIN = 256;
/** Highest SPI handed out at random (netd `RAND_SPI_MAX`). */
export const RAND_SPI_MAX = 0xfffffffe;

const INT_MAX = 0x7fffffff;

/**
 * The candidate sequence of netd's `RandomSpi(min, max)`: start uniform in [1, INT_MAX], candidate
 * i = ((start + i) mod size) + min, at most `size` candidates.
 *
 * @param randomUint32 a source of uniform unsigned 32-bit integers
 */
export function* randomSpiCandidates(
  randomUint32: () => number,
  min = RAND_SPI_MIN,
  max = RAND_SPI_MAX,
): Generator<number, void, undefined> {
  const size = max - min + 1;
  const start = (randomUint32() % INT_MAX) + 1;
  for (let i = 0; i < size; i++) yield ((start + i) % size) + min;
}

/**
 * Sweeps the random candidates until `tryReserve` accepts one.
 *
 * @param tryReserve one reservation attempt (kernel: `XFRM_MSG_ALLOCSPI` min = max = candidate); `false` = taken
 * @returns the reserved SPI, or `undefined` when every candidate is taken
 */
export async function sweepRandomSpi(
  tryReserve: (spi: number) => Promise<boolean>,
  randomUint32: () => number,
): Promise<number | undefined> {
  for (const spi of randomSpiCandidates(randomUint32)) {
    if (await tryReserve(spi)) return spi;
  }
  return undefined;
}

/** Default random source: `crypto.getRandomValues`. */
export function defaultRandomUint32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}

/**
 * A seeded PRNG (mulberry32) for deterministic tests.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { seededRandomUint32 } from 'tsnetd/ipsec';
 * const random = seededRandomUint32(42);
 * assert.equal(random(), seededRandomUint32(42)()); // same seed, same sequence
 * ```
 */
export function seededRandomUint32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
