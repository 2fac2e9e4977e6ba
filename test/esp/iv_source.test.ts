/** IV sources: fixedIv for vectors, the default counter and random writers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CounterIvWriter, fixedIv, RandomIvWriter } from '../../src/esp/iv_source.ts';

test('fixedIv() returns a copy of its bytes every time and refuses another length', () => {
  const bytes = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  const source = fixedIv(bytes);
  bytes[0] = 99;
  const a = source.next(8, 1n);
  a[1] = 77;
  assert.deepEqual([...source.next(8, 2n)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => source.next(16, 1n), RangeError);
  assert.throws(() => fixedIv('x' as unknown as Uint8Array), TypeError);
});

test('CounterIvWriter writes (seqHigh ‖ seqLow) XOR a per-writer mask: distinct numbers, distinct IVs', () => {
  const w = new CounterIvWriter();
  const out = new Uint8Array(8);
  const ivs = new Set<string>();
  for (const [h, l] of [
    [0, 1],
    [0, 2],
    [1, 1],
    [0xffffffff, 0xffffffff],
    [0, 0],
  ] as const) {
    w.write(out, 0, 8, h, l);
    ivs.add(Buffer.from(out).toString('hex'));
  }
  assert.equal(ivs.size, 5);
  // XOR of two IVs equals XOR of the two sequence numbers (the mask cancels out)
  const a = new Uint8Array(8);
  const b = new Uint8Array(8);
  w.write(a, 0, 8, 0, 1);
  w.write(b, 0, 8, 0, 2);
  assert.deepEqual([...a.map((x, i) => x ^ b[i]!)], [0, 0, 0, 0, 0, 0, 0, 3]);
  const other = new CounterIvWriter();
  const c = new Uint8Array(8);
  other.write(c, 0, 8, 0, 1);
  assert.notDeepEqual([...a], [...c], 'two SAs do not start from the same IV');
});

test('RandomIvWriter fills exactly the requested range', () => {
  const w = new RandomIvWriter();
  const out = new Uint8Array(20);
  w.write(out, 2, 16);
  assert.equal(out[0], 0);
  assert.equal(out[1], 0);
  assert.equal(out[18], 0);
  assert.equal(out[19], 0);
  assert.ok(out.subarray(2, 18).some((b) => b !== 0));
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    w.write(out, 0, 16);
    seen.add(Buffer.from(out.subarray(0, 16)).toString('hex'));
  }
  assert.equal(seen.size, 1000);
});
