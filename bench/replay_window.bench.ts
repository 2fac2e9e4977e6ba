/**
 * Benchmark of the anti-replay window (src/esp/replay_window.ts): check() + update() operations
 * per second for a 4096 window on in-order, reordered-within-window and ESN streams, with the
 * bigint/Set reference of the tests as a baseline (what a straightforward window costs).
 *
 * Run: `node --import tsx bench/replay_window.bench.ts` (or `npm run bench -- replay`).
 * Each stream is verified once before timing (every packet must be accepted exactly once).
 *
 * @module
 */
import { ReplayWindow } from '../src/esp/replay_window.ts';
import { ReferenceReplayWindow } from '../test/helpers/reference_replay_window.ts';

const WINDOW = 4096;
const PACKETS = 2_000_000;
const ROUNDS = 5;

interface Stream {
  readonly name: string;
  readonly esn: boolean;
  readonly start: bigint;
  /** Low 32 bits as sent on the wire. */
  readonly lows: Uint32Array;
}

/** Deterministic xorshift32. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function inOrder(start: bigint, count: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 1; i <= count; i++) out.push(start + BigInt(i));
  return out;
}

/** In-order, then shuffled inside consecutive groups of 256 (all within the window). */
function reordered(start: bigint, count: number, seed: number): bigint[] {
  const out = inOrder(start, count);
  const next = xorshift(seed);
  for (let base = 0; base < count; base += 256) {
    const end = Math.min(base + 256, count);
    for (let i = end - 1; i > base; i--) {
      const j = base + (next() % (i - base + 1));
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
  }
  return out;
}

function toLows(seqs: readonly bigint[]): Uint32Array {
  return Uint32Array.from(seqs, (s) => Number(s & 0xffff_ffffn));
}

const ESN_START = (1n << 32n) - BigInt(PACKETS / 2); // crosses 2^32 half way
const STREAMS: readonly Stream[] = [
  { name: 'in-order', esn: false, start: 0n, lows: toLows(inOrder(0n, PACKETS)) },
  {
    name: 'reordered within window',
    esn: false,
    start: 0n,
    lows: toLows(reordered(0n, PACKETS, 1)),
  },
  {
    name: 'ESN in-order across 2^32',
    esn: true,
    start: ESN_START,
    lows: toLows(inOrder(ESN_START, PACKETS)),
  },
  {
    name: 'ESN reordered across 2^32',
    esn: true,
    start: ESN_START,
    lows: toLows(reordered(ESN_START, PACKETS, 2)),
  },
];

function runWindow(stream: Stream): number {
  const window = new ReplayWindow({ size: WINDOW, esn: stream.esn, highest: stream.start });
  const lows = stream.lows;
  let accepted = 0;
  for (let i = 0; i < lows.length; i++) {
    const low = lows[i]!;
    const result = window.check(low);
    if (result.ok) {
      window.update(result.seqHigh, low);
      accepted++;
    }
  }
  return accepted;
}

function runReference(stream: Stream): number {
  const window = new ReferenceReplayWindow(WINDOW, stream.esn, stream.start);
  const lows = stream.lows;
  let accepted = 0;
  for (let i = 0; i < lows.length; i++) {
    const seq = window.check(lows[i]!);
    if (seq !== undefined) {
      window.update(seq);
      accepted++;
    }
  }
  return accepted;
}

function measure(run: (stream: Stream) => number, stream: Stream, rounds: number): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    const accepted = run(stream);
    const seconds = (performance.now() - started) / 1000;
    if (accepted !== stream.lows.length) {
      throw new Error(
        `Cannot benchmark ${stream.name}: ${accepted} of ${stream.lows.length} accepted`,
      );
    }
    best = Math.max(best, stream.lows.length / seconds);
  }
  return best;
}

function format(opsPerSecond: number): string {
  return `${(opsPerSecond / 1e6).toFixed(1).padStart(7)} M ops/s`;
}

console.log(
  `replay window ${WINDOW}, ${PACKETS} packets per stream, best of ${ROUNDS}, node ${process.version} (${process.arch})`,
);
console.log(
  `${'stream'.padEnd(28)}${'ReplayWindow'.padStart(16)}${'reference'.padStart(18)}  ratio`,
);
for (const stream of STREAMS) {
  // Verify once and warm up, then time.
  if (runWindow(stream) !== PACKETS) throw new Error(`Cannot verify ${stream.name}`);
  const fast = measure(runWindow, stream, ROUNDS);
  const slow = measure(runReference, stream, 1);
  console.log(
    `${stream.name.padEnd(28)}${format(fast).padStart(16)}${format(slow).padStart(18)}  ${(fast / slow).toFixed(0)}×`,
  );
}
