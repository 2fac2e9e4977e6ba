/**
 * EspInboundSa: options, the fixed open order (RFC 4303 §3.4), the replay window behaviour seen
 * through open(), the bitmap, dispose; and peekSpi.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EspInboundSa,
  type EspInboundSaOptions,
  EspOutboundSa,
  peekSpi,
  SaDisposedError,
} from '../../src/esp/mod.ts';

const GCM: EspInboundSaOptions = {
  spi: 0x0a0b0c0d,
  aead: {
    name: 'rfc4106(gcm(aes))',
    key: Uint8Array.from({ length: 20 }, (_, i) => i + 1),
    icvLengthBits: 128,
  },
};
const CBC_ONLY: EspInboundSaOptions = {
  spi: 0x0a0b0c0e,
  cipher: { name: 'cbc(aes)', key: new Uint8Array(16).fill(3) },
};

function forge(packet: Uint8Array): Uint8Array {
  const bad = Uint8Array.from(packet);
  bad[bad.length - 1]! ^= 1;
  return bad;
}

describe('EspInboundSa options', () => {
  test('the replay window defaults to 4096 with integrity and 0 without', () => {
    assert.equal(new EspInboundSa(GCM).replayWindowSize, 4096);
    assert.equal(new EspInboundSa(CBC_ONLY).replayWindowSize, 0);
    assert.equal(new EspInboundSa({ ...GCM, replayWindowSize: 0 }).replayWindowSize, 0);
    assert.equal(new EspInboundSa({ ...GCM, replayWindowSize: 32 }).replayWindowSize, 32);
    assert.equal(new EspInboundSa({ ...GCM, replayWindowSize: 65536 }).replayWindowSize, 65536);
  });

  test('refuses window sizes outside 0 and 32..65536', () => {
    for (const size of [-1, 1, 31, 65537, 64.5, Number.NaN]) {
      assert.throws(
        () => new EspInboundSa({ ...GCM, replayWindowSize: size }),
        /replayWindowSize/,
        String(size),
      );
    }
  });

  test('refuses anti-replay on an SA without integrity (RFC 4303 §3.4.3)', () => {
    assert.throws(
      () => new EspInboundSa({ ...CBC_ONLY, replayWindowSize: 64 }),
      /anti-replay requires integrity/,
    );
  });

  test('validates highestSequenceNumber against 32 or 64 bits', () => {
    assert.throws(
      () => new EspInboundSa({ ...GCM, highestSequenceNumber: 0x1_0000_0000n }),
      RangeError,
    );
    assert.throws(() => new EspInboundSa({ ...GCM, highestSequenceNumber: -1n }), RangeError);
    assert.throws(
      () => new EspInboundSa({ ...GCM, highestSequenceNumber: 5 as unknown as bigint }),
      TypeError,
    );
    assert.throws(
      () => new EspInboundSa({ ...GCM, esn: true, highestSequenceNumber: 1n << 64n }),
      RangeError,
    );
    assert.equal(
      new EspInboundSa({ ...GCM, esn: true, highestSequenceNumber: (1n << 64n) - 1n })
        .highestSequenceNumber,
      (1n << 64n) - 1n,
    );
  });
});

describe('EspInboundSa.open() order (RFC 4303 §3.4)', () => {
  test('a packet shorter than 8 bytes is truncated even before the SPI is looked at', () => {
    const sa = new EspInboundSa(GCM);
    assert.deepEqual(sa.open(new Uint8Array(7)), { ok: false, reason: 'truncated' });
  });

  test('the SPI is checked before the remaining lengths: an 8-byte packet of another SA is no-sa', () => {
    const sa = new EspInboundSa(GCM);
    assert.deepEqual(sa.open(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1)), {
      ok: false,
      reason: 'no-sa',
    });
    assert.deepEqual(sa.open(Uint8Array.of(0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 0, 1)), {
      ok: false,
      reason: 'truncated',
    });
  });

  test('the replay check comes before the ICV: a forged copy of a received number is replay', () => {
    const out = new EspOutboundSa(GCM);
    const sa = new EspInboundSa(GCM);
    const p = out.seal(new Uint8Array(10), 17);
    assert.ok(sa.open(p).ok);
    assert.deepEqual(sa.open(forge(p)), { ok: false, reason: 'replay' });
  });

  test('a forged packet does not move the window; the genuine one is accepted afterwards', () => {
    const out = new EspOutboundSa({ ...GCM, nextSequenceNumber: 10_000n });
    const sa = new EspInboundSa(GCM);
    const p = out.seal(new Uint8Array(10), 17);
    assert.deepEqual(sa.open(forge(p)), { ok: false, reason: 'auth' });
    assert.equal(sa.highestSequenceNumber, 0n);
    const r = sa.open(p);
    assert.ok(r.ok);
    assert.equal(r.seq, 10_000n);
    assert.equal(sa.highestSequenceNumber, 10_000n);
  });

  test('CBC ciphertext that is not a multiple of 16 bytes is truncated', () => {
    const out = new EspOutboundSa(CBC_ONLY);
    const sa = new EspInboundSa(CBC_ONLY);
    const p = out.seal(new Uint8Array(30), 17);
    assert.ok(sa.open(p).ok);
    const extended = new Uint8Array(p.length + 4);
    extended.set(p);
    assert.deepEqual(sa.open(extended), { ok: false, reason: 'truncated' });
  });

  test('a packet authenticated under a different SA key is auth, not no-sa', () => {
    const out = new EspOutboundSa({ ...GCM, aead: { ...GCM.aead!, key: new Uint8Array(20) } });
    assert.deepEqual(new EspInboundSa(GCM).open(out.seal(new Uint8Array(3), 17)), {
      ok: false,
      reason: 'auth',
    });
  });

  test('the payload is a view into a new buffer, not into the packet', () => {
    const out = new EspOutboundSa({
      spi: 5,
      auth: { name: 'hmac(sha1)', key: new Uint8Array(20), truncationLengthBits: 96 },
    });
    const sa = new EspInboundSa({
      spi: 5,
      auth: { name: 'hmac(sha1)', key: new Uint8Array(20), truncationLengthBits: 96 },
    });
    const p = out.seal(Uint8Array.of(1, 2, 3), 17);
    const r = sa.open(p);
    assert.ok(r.ok);
    assert.notEqual(r.payload.buffer, p.buffer);
    p[8] = 99;
    assert.deepEqual([...r.payload], [1, 2, 3]);
  });
});

describe('EspInboundSa replay window through open()', () => {
  test('out of order inside the window is accepted once; left of the window is replay', () => {
    const out = new EspOutboundSa(GCM);
    const sa = new EspInboundSa({ ...GCM, replayWindowSize: 32 });
    const packets = Array.from({ length: 40 }, () => out.seal(new Uint8Array(1), 17));
    assert.ok(sa.open(packets[39]!).ok); // seq 40
    assert.ok(sa.open(packets[20]!).ok); // seq 21, inside [9, 40]
    assert.deepEqual(sa.open(packets[20]!), { ok: false, reason: 'replay' });
    assert.ok(sa.open(packets[8]!).ok); // seq 9: the left edge
    assert.deepEqual(sa.open(packets[7]!), { ok: false, reason: 'replay' }); // seq 8: outside
  });

  test('with the window disabled duplicates are accepted and the right edge still moves', () => {
    const out = new EspOutboundSa(GCM);
    const sa = new EspInboundSa({ ...GCM, replayWindowSize: 0 });
    const p = out.seal(new Uint8Array(1), 17);
    assert.ok(sa.open(p).ok);
    assert.ok(sa.open(p).ok);
    assert.equal(sa.highestSequenceNumber, 1n);
    assert.equal(sa.replayBitmap().length, 0);
  });

  test('replayBitmap() uses the kernel layout: bit i = sequence i+1, 512 bytes for 4096', () => {
    const out = new EspOutboundSa(GCM);
    const sa = new EspInboundSa(GCM);
    const ps = [1, 2, 3, 4, 5].map(() => out.seal(new Uint8Array(1), 17));
    for (const i of [0, 2, 4]) assert.ok(sa.open(ps[i]!).ok);
    const bitmap = sa.replayBitmap();
    assert.equal(bitmap.length, 512);
    assert.equal(bitmap[0], 0b10101);
    assert.ok(bitmap.subarray(1).every((b) => b === 0));
  });

  test('dispose() is idempotent and makes open() throw SaDisposedError; a non-Uint8Array is a TypeError', () => {
    const sa = new EspInboundSa(GCM);
    assert.throws(() => sa.open('x' as unknown as Uint8Array), TypeError);
    sa.dispose();
    sa.dispose();
    assert.throws(() => sa.open(new Uint8Array(40)), SaDisposedError);
  });
});

describe('peekSpi()', () => {
  test('reads the SPI big-endian, or undefined below 8 bytes', () => {
    assert.equal(peekSpi(Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0, 0, 0, 0)), 0xfffefdfc);
    assert.equal(peekSpi(Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 1, 9)), 256);
    assert.equal(peekSpi(new Uint8Array(7)), undefined);
    assert.equal(peekSpi(new Uint8Array(0)), undefined);
  });
});
