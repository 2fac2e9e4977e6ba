/** The outbound counter: uint32 halves, ESN carry, no wrap (RFC 4303 §3.3.3). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  joinSequenceNumber,
  OutboundSequence,
  splitSequenceNumber,
} from '../../src/esp/sequence.ts';

test('splitSequenceNumber() and joinSequenceNumber() are exact beyond 2^53', () => {
  for (const seq of [
    0n,
    1n,
    0xffffffffn,
    0x1_0000_0000n,
    0x8765432100000000n,
    0xffff_ffff_ffff_ffffn,
    (1n << 53n) + 1n,
  ]) {
    const [high, low] = splitSequenceNumber(seq);
    assert.ok(high >>> 0 === high && low >>> 0 === low);
    assert.equal(joinSequenceNumber(high, low), seq);
  }
});

test('OutboundSequence starts at next, advances, and stops at 2^32-1 without ESN', () => {
  const s = new OutboundSequence({ next: 0xfffffffen, esn: false });
  assert.equal(s.last, 0xfffffffdn);
  assert.ok(s.advance());
  assert.equal(s.last, 0xfffffffen);
  assert.ok(s.advance());
  assert.equal(s.last, 0xffffffffn);
  assert.equal(s.advance(), false);
  assert.equal(s.advance(), false);
  assert.equal(s.last, 0xffffffffn);
  assert.equal(s.high, 0);
});

test('OutboundSequence with ESN carries into the high half and stops at 2^64-1', () => {
  const s = new OutboundSequence({ next: 0x1_ffff_ffffn, esn: true });
  assert.ok(s.advance());
  assert.deepEqual([s.high, s.low], [1, 0xffffffff]);
  assert.ok(s.advance());
  assert.deepEqual([s.high, s.low], [2, 0]);
  const end = new OutboundSequence({ next: 0xffff_ffff_ffff_ffffn, esn: true });
  assert.ok(end.advance());
  assert.equal(end.last, 0xffff_ffff_ffff_ffffn);
  assert.equal(end.advance(), false);
});

test('OutboundSequence refuses 0 and numbers beyond the range', () => {
  assert.throws(() => new OutboundSequence({ next: 0n, esn: true }), RangeError);
  assert.throws(() => new OutboundSequence({ next: 0x1_0000_0000n, esn: false }), RangeError);
  assert.throws(() => new OutboundSequence({ next: 1n << 64n, esn: true }), RangeError);
});
