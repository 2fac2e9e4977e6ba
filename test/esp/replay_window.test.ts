/**
 * Tests of the anti-replay window (RFC 4303 §3.4.3, Appendix A; RFC 6479 layout):
 * numbered step tables (wireguard-go / kernel style), ESN across 2^32, the Android bitmap,
 * update-only-after-auth semantics, and a seeded property test against an obviously correct
 * reference (test/helpers/reference_replay_window.ts) over millions of sequence numbers.
 *
 * Set TSNETD_REPLAY_SEED to replay a property-test run, TSNETD_REPLAY_SCALE (default 2) to
 * multiply its length.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  DEFAULT_REPLAY_WINDOW_SIZE,
  REPLAY_WINDOW_MAX_SIZE,
  REPLAY_WINDOW_MIN_SIZE,
  ReplayWindow,
} from '../../src/esp/replay_window.ts';
import { ReferenceReplayWindow } from '../helpers/reference_replay_window.ts';

const TWO_POW_32 = 2 ** 32;
const U32 = 0xffff_ffff;

/** One table step: the 32-bit field received, the expected check result, and whether the
 * packet then authenticates (so the window is updated). */
interface Step {
  readonly seqLow: number;
  /** `false` = rejected by check(); a number = accepted with this inferred high half. */
  readonly expected: false | number;
  /** Commit after the check (default: whenever accepted). */
  readonly commit?: boolean;
}

function runTable(window: ReplayWindow, steps: readonly Step[], label: string): void {
  steps.forEach((step, index) => {
    const result = window.check(step.seqLow);
    const got = result.ok ? result.seqHigh : false;
    assert.equal(
      got,
      step.expected,
      `${label} step ${index + 1}: check(0x${step.seqLow.toString(16)}) returned ${String(got)}, expected ${String(step.expected)}`,
    );
    if (result.ok && step.commit !== false) window.update(result.seqHigh, step.seqLow);
  });
}

/** Steps for a non-ESN window of size w (the table is written in terms of w). */
function nonEsnSteps(w: number): Step[] {
  const s = (seqLow: number, ok: boolean): Step => ({ seqLow, expected: ok ? 0 : false });
  return [
    s(0, false), // 1: sequence number 0 is never sent (RFC 4303 §2.2)
    s(1, true), // 2
    s(1, false), // 3: duplicate
    s(2, true), // 4
    s(5, true), // 5: gap
    s(3, true), // 6: late, inside the window
    s(4, true), // 7
    s(3, false), // 8
    s(5, false), // 9
    s(w, true), // 10: T = w, window [1, w]
    s(1, false), // 11: received earlier, still inside
    s(6, true), // 12: inside, never received
    s(w + 1, true), // 13: T = w + 1, window [2, w + 1]
    s(1, false), // 14: now left of the window
    s(2, false), // 15: left edge, received
    s(7, true), // 16
    s(w - 1, true), // 17
    s(w - 1, false), // 18
    s(2 * w + 5, true), // 19: jump by more than the window
    s(w + 6, true), // 20: left edge T - w + 1
    s(w + 5, false), // 21: T - w, just outside
    s(2 * w + 5, false), // 22: right edge again
    s(2 * w + 4, true), // 23
    s(2 * w + 36, true), // 24: crosses one block
    s(2 * w + 37, true), // 25
    s(w + 37, false), // 26: T - w, outside
    s(w + 38, true), // 27: T - w + 1
    s(2 * w + 38 + 32 * 8, true), // 28: crosses several blocks at once (T)
    s(w + 38 + 32 * 8, false), // 29: just outside
    s(w + 39 + 32 * 8, true), // 30: left edge
    s(2 * w + 38 + 32 * 8 - 5, true), // 31: inside the window, in a block cleared on the way
    s(U32, true), // 32: the last 32-bit number
    s(U32, false), // 33
    s(U32 - w + 1, true), // 34: left edge
    s(U32 - w, false), // 35
    s(0, false), // 36: no wrap without ESN
  ];
}

describe('ReplayWindow step tables', () => {
  for (const w of [32, 64, 4096]) {
    test(`ReplayWindow accepts and rejects the numbered steps for size ${w} without ESN`, () => {
      runTable(new ReplayWindow({ size: w, esn: false }), nonEsnSteps(w), `size ${w}`);
    });
  }

  test('ReplayWindow infers the ESN high half across 2^32 (RFC 4303 Appendix A, size 64)', () => {
    const window = new ReplayWindow({ size: 64, esn: true, highest: 0xffff_ff00n });
    runTable(
      window,
      [
        { seqLow: 0xffff_ff01, expected: 0 }, // 1: Case A, same subspace, new
        { seqLow: 0xffff_ffff, expected: 0 }, // 2: T = 0:ffffffff
        { seqLow: 0x0000_0000, expected: 1 }, // 3: Case A, below Tl-W+1 → Th+1 (= 2^32, valid)
        { seqLow: 0xffff_ffff, expected: false }, // 4: Case B, Th-1, received
        { seqLow: 0xffff_fffe, expected: 0 }, // 5: Case B, Th-1, inside, new
        { seqLow: 0xffff_ffc1, expected: 0 }, // 6: Case B bottom = Tl-W+1 mod 2^32
        { seqLow: 0xffff_ffc0, expected: 1, commit: false }, // 7: below bottom → Th, ahead; auth fails
        { seqLow: 0x0000_0005, expected: 1 }, // 8: T = 1:00000005
        { seqLow: 0xffff_ffc6, expected: 0 }, // 9: exactly the bottom of Case B
        { seqLow: 0xffff_ffc5, expected: 1, commit: false }, // 10: one below → read as ahead
        { seqLow: 0x0000_0040, expected: 1 }, // 11: T = 1:00000040, Case A again
        { seqLow: 0xffff_ffff, expected: 1, commit: false }, // 12: Case A: Th, ahead; auth fails
        { seqLow: 0x0000_0001, expected: 1 }, // 13: left edge Tl-W+1
        { seqLow: 0x0000_0001, expected: false }, // 14: duplicate
        { seqLow: 0x0000_0000, expected: 2, commit: false }, // 15: behind the window → Th+1 (RFC)
        { seqLow: 0x0000_0040, expected: false }, // 16: right edge
      ],
      'esn 64',
    );
    assert.equal(window.highest, 0x1_0000_0040n);
  });

  test('ReplayWindow carries ESN through several high halves with size 4096', () => {
    const window = new ReplayWindow({ size: 4096, esn: true, highest: 0x1_ffff_f800n });
    const steps: Step[] = [];
    for (let round = 0; round < 3; round++) {
      const high = 1 + round;
      steps.push({ seqLow: 0xffff_ffff, expected: high }); // right edge to h:ffffffff
      steps.push({ seqLow: 0xffff_f000, expected: high }); // left edge Tl - W + 1
      steps.push({ seqLow: 0xffff_efff, expected: high + 1, commit: false }); // outside → next
      steps.push({ seqLow: 0x0000_0000, expected: high + 1 }); // wraps into the next half
      steps.push({ seqLow: 0xffff_fffe, expected: high }); // behind, in the previous half
      steps.push({ seqLow: 0xffff_ffff, expected: false }); // replay across the boundary
      steps.push({ seqLow: 0xffff_f001, expected: high }); // Case B bottom
      steps.push({ seqLow: 0x0000_0000, expected: false });
      steps.push({ seqLow: 0x7fff_ffff, expected: high + 1 }); // jump half a subspace
    }
    runTable(window, steps, 'esn 4096');
    assert.equal(window.highest, 0x4_7fff_ffffn);
  });

  test('ReplayWindow rejects high halves that cannot exist', () => {
    const top = new ReplayWindow({ size: 64, esn: true, highest: 0xffff_ffff_ffff_fff0n });
    runTable(
      top,
      [
        { seqLow: 0xffff_ffff, expected: U32 },
        { seqLow: 0x0000_0001, expected: false }, // Th+1 would be 2^32
      ],
      'top',
    );
    const bottom = new ReplayWindow({ size: 64, esn: true, highest: 10n });
    runTable(
      bottom,
      [
        { seqLow: 0xffff_fff0, expected: false }, // Th-1 would be -1
        { seqLow: 0, expected: false }, // 64-bit 0
        { seqLow: 1, expected: 0 },
        { seqLow: 11, expected: 0 },
      ],
      'bottom',
    );
  });

  test('ReplayWindow with size 0 accepts everything and still infers the ESN high half', () => {
    const plain = new ReplayWindow({ size: 0, esn: false });
    runTable(
      plain,
      [
        { seqLow: 0, expected: 0 },
        { seqLow: 5, expected: 0 },
        { seqLow: 5, expected: 0 },
        { seqLow: 1, expected: 0 },
      ],
      'disabled',
    );
    assert.equal(plain.highest, 5n);
    assert.deepEqual(plain.bitmap(), new Uint8Array(0));

    const esn = new ReplayWindow({ size: 0, esn: true, highest: 0xffff_fff0n });
    runTable(
      esn,
      [
        { seqLow: 0xffff_fff0, expected: 0 }, // duplicates are not detected
        { seqLow: 0x0000_0005, expected: 1 }, // nearest: just after the wrap
        { seqLow: 0xffff_ff00, expected: 0 },
        { seqLow: 0x0000_0005, expected: 1 },
      ],
      'disabled esn',
    );
    assert.equal(esn.highest, 0x1_0000_0005n);
    assert.deepEqual(esn.check(0xffff_fff0), { ok: true, seqHigh: 0 });
    assert.deepEqual(esn.check(0x9000_0000), { ok: true, seqHigh: 0 }); // 2^31 - … behind
    assert.deepEqual(esn.check(0x7000_0000), { ok: true, seqHigh: 1 }); // ahead
  });
});

describe('ReplayWindow semantics', () => {
  test('ReplayWindow.check() is read-only: it accepts twice until update() commits', () => {
    for (const esn of [false, true]) {
      const window = new ReplayWindow({ size: 64, esn });
      assert.deepEqual(window.check(7), { ok: true, seqHigh: 0 });
      assert.deepEqual(window.check(7), { ok: true, seqHigh: 0 });
      assert.equal(window.highest, 0n);
      window.update(0, 7);
      assert.deepEqual(window.check(7), { ok: false });
      assert.equal(window.highest, 7n);
      // A late packet: accepted twice before its commit, rejected after.
      assert.equal(window.check(3).ok, true);
      assert.equal(window.check(3).ok, true);
      window.update(0, 3);
      assert.equal(window.check(3).ok, false);
      assert.equal(window.highest, 7n);
    }
  });

  test('ReplayWindow.check() returns frozen shared results', () => {
    const window = new ReplayWindow({ size: 64, esn: true });
    const a = window.check(5);
    const b = window.check(6);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
    assert.equal(window.check(0), window.check(0));
  });

  test('ReplayWindow.check() rejects values that are not uint32', () => {
    const window = new ReplayWindow({ size: 64, esn: true });
    for (const bad of [-1, 1.5, TWO_POW_32, Number.NaN, '5' as unknown as number]) {
      assert.deepEqual(window.check(bad), { ok: false });
    }
  });

  test('ReplayWindow.update() refuses invalid halves', () => {
    const plain = new ReplayWindow({ size: 64, esn: false });
    assert.throws(() => plain.update(1, 5), RangeError);
    assert.throws(() => plain.update(0, -1), RangeError);
    const esn = new ReplayWindow({ size: 64, esn: true });
    assert.throws(() => esn.update(TWO_POW_32, 5), RangeError);
    assert.throws(() => esn.update(0, 1.5), RangeError);
  });

  test('ReplayWindow.update() ignores numbers left of the window', () => {
    const window = new ReplayWindow({ size: 32, esn: false });
    window.update(0, 100);
    window.update(0, 35); // outside: must not mark 99, which shares its ring bit
    assert.equal(window.highest, 100n);
    for (let s = 69; s < 100; s++) assert.equal(window.check(s).ok, true, `seq ${s}`);
  });

  test('ReplayWindow constructor validates its options', () => {
    for (const size of [1, 31, REPLAY_WINDOW_MAX_SIZE + 1, 64.5, -32, Number.NaN]) {
      assert.throws(() => new ReplayWindow({ size, esn: false }), RangeError, `size ${size}`);
    }
    for (const size of [0, REPLAY_WINDOW_MIN_SIZE, 33, 100, DEFAULT_REPLAY_WINDOW_SIZE]) {
      assert.equal(new ReplayWindow({ size, esn: false }).size, size);
    }
    assert.equal(new ReplayWindow({ size: REPLAY_WINDOW_MAX_SIZE, esn: true }).size, 65536);
    assert.throws(
      () => new ReplayWindow({ size: 64, esn: 1 as unknown as boolean }),
      (error: unknown) => error instanceof TypeError && /esn must be a boolean/.test(error.message),
    );
    assert.throws(
      () => new ReplayWindow({ size: 64, esn: false, highest: 5 as unknown as bigint }),
      TypeError,
    );
    assert.throws(() => new ReplayWindow({ size: 64, esn: false, highest: 1n << 32n }), RangeError);
    assert.throws(() => new ReplayWindow({ size: 64, esn: true, highest: 1n << 64n }), RangeError);
    assert.throws(() => new ReplayWindow({ size: 64, esn: true, highest: -1n }), RangeError);
    assert.equal(new ReplayWindow({ size: 64, esn: true, highest: (1n << 64n) - 1n }).esn, true);
    assert.equal(
      new ReplayWindow({ size: 64, esn: true, highest: 0x1234_5678_9abc_def0n }).highest,
      0x1234_5678_9abc_def0n,
    );
  });
});

describe('ReplayWindow.bitmap() (Android 15 IpSecTransformState layout)', () => {
  test('ReplayWindow.bitmap() is 512 bytes for 4096 and sets bit i for sequence i+1', () => {
    const window = new ReplayWindow({ size: 4096, esn: false });
    assert.deepEqual(window.bitmap(), new Uint8Array(512));
    for (let s = 1; s <= 10; s++) window.update(0, s);
    const expected = new Uint8Array(512);
    expected[0] = 0xff;
    expected[1] = 0x03;
    assert.deepEqual(window.bitmap(), expected);
    for (let s = 11; s <= 5000; s++) window.update(0, s);
    assert.deepEqual(window.bitmap(), new Uint8Array(512).fill(0xff));
  });

  test('ReplayWindow.bitmap() places a sparse set at (s - 1) mod size, LSB first', () => {
    const window = new ReplayWindow({ size: 32, esn: false });
    window.update(0, 1);
    window.update(0, 3);
    assert.deepEqual(window.bitmap(), Uint8Array.of(0x05, 0, 0, 0));
    window.update(0, 40); // window (8, 40]: 1 and 3 fall out; 40 → bit 39 mod 32 = 7
    assert.deepEqual(window.bitmap(), Uint8Array.of(0x80, 0, 0, 0));
    window.update(0, 9); // bit 8 → byte 1 bit 0
    window.update(0, 32); // bit 31 → byte 3 bit 7
    assert.deepEqual(window.bitmap(), Uint8Array.of(0x80, 0x01, 0, 0x80));
  });

  test('ReplayWindow.bitmap() positions use the 64-bit number with ESN', () => {
    const window = new ReplayWindow({ size: 64, esn: true, highest: 0xffff_fffcn });
    for (const [high, low] of [
      [0, 0xffff_fffd],
      [0, 0xffff_ffff],
      [1, 0],
      [1, 2],
    ] as const) {
      window.update(high, low);
    }
    // (s - 1) mod 64: 0xfffffffd → 60, 0xffffffff → 62, 2^32 → 63, 2^32 + 2 → 1
    const expected = new Uint8Array(8);
    expected[7] = (1 << (60 & 7)) | (1 << (62 & 7)) | (1 << (63 & 7));
    expected[0] = 1 << 1;
    assert.deepEqual(window.bitmap(), expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Property test against the reference
// ---------------------------------------------------------------------------------------------

/** sfc32: small fast counter PRNG (public domain), seeded from one uint32. */
function sfc32(seed: number): () => number {
  let a = 0x9e37_79b9;
  let b = 0x243f_6a88;
  let c = 0xb7e1_5162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / TWO_POW_32;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

interface Scenario {
  readonly name: string;
  readonly size: number;
  readonly esn: boolean;
  readonly start: bigint;
  readonly operations: number;
  /** Probability of a forward jump per packet, and its maximum length. */
  readonly jumpProbability: number;
  readonly jumpMax: number;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'non-ESN 64',
    size: 64,
    esn: false,
    start: 0n,
    operations: 300_000,
    jumpProbability: 0.002,
    jumpMax: 5000,
  },
  {
    name: 'non-ESN 4096',
    size: 4096,
    esn: false,
    start: 0n,
    operations: 400_000,
    jumpProbability: 0.001,
    jumpMax: 50_000,
  },
  {
    name: 'non-ESN 32',
    size: 32,
    esn: false,
    start: 0n,
    operations: 200_000,
    jumpProbability: 0.003,
    jumpMax: 500,
  },
  {
    name: 'non-ESN 100 near 2^32',
    size: 100,
    esn: false,
    start: 0xfff8_0000n,
    operations: 100_000,
    jumpProbability: 0.002,
    jumpMax: 1000,
  },
  {
    name: 'ESN 4096 from just below 2^32',
    size: 4096,
    esn: true,
    start: 0xffff_0000n,
    operations: 400_000,
    jumpProbability: 0.0005,
    jumpMax: 2 ** 30,
  },
  {
    name: 'ESN 64 near 2^33',
    size: 64,
    esn: true,
    start: (1n << 33n) - 2000n,
    operations: 300_000,
    jumpProbability: 0.0005,
    jumpMax: 2 ** 30,
  },
  {
    name: 'ESN 32 from just below 2^32',
    size: 32,
    esn: true,
    start: 0xffff_ff00n,
    operations: 200_000,
    jumpProbability: 0.001,
    jumpMax: 2 ** 29,
  },
  {
    name: 'ESN 1000 near 2^32 * 7',
    size: 1000,
    esn: true,
    start: (7n << 32n) - 3000n,
    operations: 150_000,
    jumpProbability: 0.001,
    jumpMax: 2 ** 30,
  },
  {
    name: 'ESN disabled',
    size: 0,
    esn: true,
    start: 0xffff_f000n,
    operations: 100_000,
    jumpProbability: 0.0005,
    jumpMax: 2 ** 30,
  },
  {
    name: 'non-ESN disabled',
    size: 0,
    esn: false,
    start: 0n,
    operations: 50_000,
    jumpProbability: 0.001,
    jumpMax: 1000,
  },
];

interface RunStats {
  checks: number;
  accepted: number;
  committed: number;
  highChanges: number;
}

/** Multiplies every scenario's length (default 2: about 4.4 million checks, a few seconds). */
const SCALE = Number(process.env.TSNETD_REPLAY_SCALE ?? 2);

function runScenario(scenario: Scenario, rng: () => number): RunStats {
  const { size, esn } = scenario;
  const impl = new ReplayWindow({ size, esn, highest: scenario.start });
  const ref = new ReferenceReplayWindow(size, esn, scenario.start);
  const w = Math.max(size, 64);
  const maxSeq = esn ? (1n << 64n) - 1n : 0xffff_ffffn;
  const recent: bigint[] = [];
  let top = scenario.start; // highest number the sender has sent
  const stats: RunStats = { checks: 0, accepted: 0, committed: 0, highChanges: 0 };
  let lastHigh = scenario.start >> 32n;
  const randBelow = (n: number): number => Math.floor(rng() * n);

  const operations = Math.round(scenario.operations * SCALE);
  for (let op = 0; op < operations; op++) {
    // The sender's true 64-bit sequence number for this packet.
    const r = rng();
    let seq: bigint;
    if (r < scenario.jumpProbability) {
      seq = top + 1n + BigInt(randBelow(scenario.jumpMax));
    } else if (r < 0.7) {
      seq = top + 1n + BigInt(randBelow(4)); // mostly increasing with small gaps
    } else if (r < 0.85) {
      seq = top - BigInt(randBelow(Math.floor(w * 1.2))); // reordered around the window
    } else if (r < 0.95) {
      seq = recent.length > 0 ? recent[randBelow(recent.length)]! : top; // duplicate
    } else if (r < 0.99) {
      seq = top - BigInt(w) - BigInt(randBelow(1 << 20)); // far behind
    } else {
      seq = esn ? top + 1n : 0n; // non-ESN: a packet with the never-valid 0
    }
    if (seq < 0n) seq = 0n;
    if (seq > maxSeq) seq = maxSeq;
    if (seq > top) top = seq;
    const seqLow = Number(seq & 0xffff_ffffn);

    const got = impl.check(seqLow);
    const want = ref.check(seqLow);
    stats.checks++;
    if (got.ok !== (want !== undefined)) {
      assert.fail(
        `${scenario.name} op ${op}: check(0x${seqLow.toString(16)}) ok=${got.ok}, reference ${String(want)}, T=${ref.highest}`,
      );
    }
    if (!got.ok || want === undefined) continue;
    stats.accepted++;
    const inferred = BigInt(got.seqHigh) * 0x1_0000_0000n + BigInt(seqLow);
    if (inferred !== want) {
      assert.fail(
        `${scenario.name} op ${op}: inferred 0x${inferred.toString(16)}, reference 0x${want.toString(16)}, T=${ref.highest}`,
      );
    }
    // The ICV verifies only with the true number; 2 % of packets fail for other reasons.
    if (inferred !== seq || rng() < 0.02) continue;
    impl.update(got.seqHigh, seqLow);
    ref.update(want);
    stats.committed++;
    if (recent.length < 256) recent.push(seq);
    else recent[randBelow(256)] = seq;
    if ((op & 63) === 0 && impl.highest !== ref.highest) {
      assert.fail(`${scenario.name} op ${op}: highest ${impl.highest} vs ${ref.highest}`);
    }
    const high = ref.highest >> 32n;
    if (high !== lastHigh) {
      stats.highChanges++;
      lastHigh = high;
    }
    if ((op & 4095) === 0 && size > 0) {
      assert.deepEqual(impl.bitmap(), ref.bitmap(), `${scenario.name} op ${op}: bitmap`);
    }
  }
  assert.equal(impl.highest, ref.highest, `${scenario.name}: final highest`);
  if (size > 0) assert.deepEqual(impl.bitmap(), ref.bitmap(), `${scenario.name}: final bitmap`);
  return stats;
}

describe('ReplayWindow property test', () => {
  const seed = Number(process.env.TSNETD_REPLAY_SEED ?? randomInt(0, 2 ** 32 - 1));

  test(`ReplayWindow matches the reference over millions of sequence numbers (seed ${seed})`, (t) => {
    t.diagnostic(`seed ${seed} (set TSNETD_REPLAY_SEED=${seed} to replay)`);
    const rng = sfc32(seed);
    const started = performance.now();
    let checks = 0;
    for (const scenario of SCENARIOS) {
      const stats = runScenario(scenario, rng);
      checks += stats.checks;
      t.diagnostic(
        `${scenario.name}: ${stats.checks} checks, ${stats.accepted} accepted, ${stats.committed} committed, high half changed ${stats.highChanges}×`,
      );
      // The distributions must really exercise the window and the ESN boundary.
      assert.ok(stats.committed > stats.checks / 3, `${scenario.name}: too few commits`);
      if (scenario.size > 0) {
        assert.ok(stats.accepted < stats.checks, `${scenario.name}: nothing was rejected`);
      }
      if (scenario.esn && scenario.size > 0) {
        assert.ok(stats.highChanges >= 3, `${scenario.name}: high half changed too rarely`);
      }
    }
    assert.ok(checks >= 2_000_000 * Math.min(SCALE, 1), `only ${checks} checks`);
    t.diagnostic(`${checks} checks in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
});
