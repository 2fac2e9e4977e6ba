/**
 * EspOutboundSa: argument validation, IV sources, counters, dispose and key hygiene.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EspInboundSa,
  EspOutboundSa,
  type EspOutboundSaOptions,
  fixedIv,
  SaDisposedError,
} from '../../src/esp/mod.ts';
import { hex } from './helpers/reference_esp.ts';

const GCM_KEY = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
const GCM: EspOutboundSaOptions = {
  spi: 0x01020304,
  aead: { name: 'rfc4106(gcm(aes))', key: GCM_KEY, icvLengthBits: 128 },
};
const CBC_KEY = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);
const HMAC_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
const CBC: EspOutboundSaOptions = {
  spi: 0x01020305,
  cipher: { name: 'cbc(aes)', key: CBC_KEY },
  auth: { name: 'hmac(sha256)', key: HMAC_KEY, truncationLengthBits: 128 },
};

describe('EspOutboundSa constructor', () => {
  test('refuses SPI 0, negative, fractional and > 2^32-1 (RFC 4303 §2.1)', () => {
    for (const spi of [0, -1, 1.5, 0x1_0000_0000, Number.NaN]) {
      assert.throws(() => new EspOutboundSa({ ...GCM, spi }), RangeError, String(spi));
    }
    assert.throws(() => new EspOutboundSa({ ...GCM, spi: '1' as unknown as number }), RangeError);
    assert.equal(new EspOutboundSa({ ...GCM, spi: 0xffffffff }).spi, 0xffffffff);
  });

  test('refuses NULL encryption with no integrity (RFC 4303 §5) and an empty algorithm set', () => {
    assert.throws(() => new EspOutboundSa({ spi: 1 }), /must not both be NULL/);
    assert.throws(
      () =>
        new EspOutboundSa({ spi: 1, cipher: { name: 'ecb(cipher_null)', key: new Uint8Array(0) } }),
      TypeError,
    );
  });

  test('refuses AEAD together with cipher or auth', () => {
    assert.throws(() => new EspOutboundSa({ ...GCM, cipher: CBC.cipher! }), /aead excludes/);
    assert.throws(() => new EspOutboundSa({ ...GCM, auth: CBC.auth! }), /aead excludes/);
  });

  test('refuses unknown algorithms and algorithms of the wrong kind', () => {
    assert.throws(
      () => new EspOutboundSa({ spi: 1, cipher: { name: 'rot13' as 'cbc(aes)', key: CBC_KEY } }),
      /unsupported encryption algorithm 'rot13'/,
    );
    assert.throws(
      () =>
        new EspOutboundSa({
          spi: 1,
          cipher: { name: 'hmac(sha256)' as 'cbc(aes)', key: HMAC_KEY },
        }),
      TypeError,
    );
    assert.throws(
      () =>
        new EspOutboundSa({
          spi: 1,
          aead: { name: 'cbc(aes)' as 'rfc4106(gcm(aes))', key: CBC_KEY, icvLengthBits: 128 },
        }),
      TypeError,
    );
  });

  test("refuses wrong key lengths with Android's accepted lengths in the message", () => {
    assert.throws(
      () => new EspOutboundSa({ ...GCM, aead: { ...GCM.aead!, key: new Uint8Array(16) } }),
      /is 128 bits, expected 160 or 224 or 288/,
    );
    assert.throws(
      () => new EspOutboundSa({ ...CBC, cipher: { name: 'cbc(aes)', key: new Uint8Array(20) } }),
      RangeError,
    );
    assert.throws(
      () => new EspOutboundSa({ ...CBC, auth: { ...CBC.auth!, key: new Uint8Array(16) } }),
      RangeError,
    );
    assert.throws(
      () =>
        new EspOutboundSa({ ...CBC, cipher: { name: 'ecb(cipher_null)', key: new Uint8Array(1) } }),
      RangeError,
    );
    assert.throws(
      () =>
        new EspOutboundSa({
          ...CBC,
          cipher: { name: 'cbc(aes)', key: [1, 2] as unknown as Uint8Array },
        }),
      TypeError,
    );
  });

  test('refuses truncation lengths Android refuses, accepts the ones it accepts', () => {
    const gcm = (icvLengthBits: number) =>
      new EspOutboundSa({ ...GCM, aead: { ...GCM.aead!, icvLengthBits } });
    for (const bits of [0, 32, 63, 65, 100, 127, 129, 256])
      assert.throws(() => gcm(bits), RangeError, String(bits));
    for (const bits of [64, 96, 128]) gcm(bits);
    const chacha = (icvLengthBits: number) =>
      new EspOutboundSa({
        spi: 1,
        aead: { name: 'rfc7539esp(chacha20,poly1305)', key: new Uint8Array(36), icvLengthBits },
      });
    assert.throws(() => chacha(96), RangeError);
    chacha(128);
    const hmac = (truncationLengthBits: number) =>
      new EspOutboundSa({ ...CBC, auth: { ...CBC.auth!, truncationLengthBits } });
    for (const bits of [0, 95, 257])
      assert.throws(() => hmac(bits), /truncationLengthBits of 'hmac\(sha256\)'/);
    for (const bits of [96, 97, 255, 256]) hmac(bits);
    assert.throws(
      () =>
        new EspOutboundSa({
          ...CBC,
          auth: { name: 'xcbc(aes)', key: new Uint8Array(16), truncationLengthBits: 128 },
        }),
      RangeError,
    );
  });

  test('refuses a non-boolean esn and an ivSource without next()', () => {
    assert.throws(() => new EspOutboundSa({ ...GCM, esn: 1 as unknown as boolean }), TypeError);
    assert.throws(() => new EspOutboundSa({ ...GCM, ivSource: {} as never }), TypeError);
  });
});

describe('EspOutboundSa.seal()', () => {
  test('validates nextHeader and payload types and size', () => {
    const sa = new EspOutboundSa(GCM);
    for (const nh of [-1, 256, 1.5, Number.NaN])
      assert.throws(() => sa.seal(new Uint8Array(1), nh), RangeError);
    assert.throws(() => sa.seal('abc' as unknown as Uint8Array, 17), TypeError);
    assert.throws(() => sa.seal([new Uint8Array(1), 'x' as unknown as Uint8Array], 17), TypeError);
    assert.throws(() => sa.seal(new Uint8Array(65536), 17), RangeError);
    assert.equal(sa.lastSequenceNumber, 0n, 'refused calls consume no sequence number');
    sa.seal(new Uint8Array(65535), 17);
    assert.equal(sa.lastSequenceNumber, 1n);
  });

  test('numbers packets 1, 2, 3 … and writes SPI and sequence number big-endian', () => {
    const sa = new EspOutboundSa(GCM);
    for (let i = 1; i <= 3; i++) {
      const p = sa.seal(new Uint8Array(4), 17);
      assert.equal(hex(p.subarray(0, 8)), `01020304${i.toString(16).padStart(8, '0')}`);
      assert.equal(sa.lastSequenceNumber, BigInt(i));
    }
  });

  test('default counter IVs (GCM, CTR, ChaCha20-Poly1305) are distinct per packet and per SA', () => {
    for (const options of [
      GCM,
      {
        spi: 5,
        cipher: { name: 'rfc3686(ctr(aes))', key: new Uint8Array(20) },
        auth: CBC.auth!,
      } as EspOutboundSaOptions,
      {
        spi: 6,
        aead: {
          name: 'rfc7539esp(chacha20,poly1305)',
          key: new Uint8Array(36),
          icvLengthBits: 128,
        },
      } as EspOutboundSaOptions,
    ]) {
      const seen = new Set<string>();
      for (const sa of [new EspOutboundSa(options), new EspOutboundSa(options)]) {
        for (let i = 0; i < 500; i++) seen.add(hex(sa.seal(new Uint8Array(1), 17).subarray(8, 16)));
      }
      assert.equal(seen.size, 1000);
    }
  });

  test('default CBC IVs are random (16 bytes, distinct)', () => {
    const sa = new EspOutboundSa(CBC);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(hex(sa.seal(new Uint8Array(1), 17).subarray(8, 24)));
    assert.equal(seen.size, 2000);
  });

  test('a custom IvSource gets the IV length and the full sequence number', () => {
    const calls: [number, bigint][] = [];
    const sa = new EspOutboundSa({
      ...GCM,
      esn: true,
      nextSequenceNumber: 0x1_0000_0005n,
      ivSource: {
        next: (n, seq) => {
          calls.push([n, seq]);
          return new Uint8Array(n).fill(7);
        },
      },
    });
    const p = sa.seal(new Uint8Array(1), 17);
    assert.deepEqual(calls, [[8, 0x1_0000_0005n]]);
    assert.equal(hex(p.subarray(8, 16)), '0707070707070707');
    const bad = new EspOutboundSa({ ...GCM, ivSource: { next: () => new Uint8Array(3) } });
    assert.throws(() => bad.seal(new Uint8Array(1), 17), /IV source must return 8 bytes/);
    assert.throws(
      () =>
        new EspOutboundSa({ ...CBC, ivSource: fixedIv(new Uint8Array(8)) }).seal(
          new Uint8Array(1),
          17,
        ),
      RangeError,
    );
  });

  test('sealed packets do not alias each other, across slab boundaries and for large payloads', () => {
    const sa = new EspOutboundSa(GCM);
    const inb = new EspInboundSa({ ...GCM, replayWindowSize: 0 });
    const packets: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) packets.push(sa.seal(new Uint8Array(1400).fill(i), 17));
    packets.push(sa.seal(new Uint8Array(40000).fill(7), 17));
    const copies = packets.map((p) => Uint8Array.from(p));
    for (const p of packets) {
      assert.ok(p instanceof Uint8Array);
      assert.equal(p.byteLength, p.length);
    }
    packets[0]!.fill(0);
    for (let i = 1; i < packets.length; i++) assert.deepEqual(packets[i], copies[i], `packet ${i}`);
    for (let i = 1; i < packets.length; i++) {
      const r = inb.open(packets[i]!);
      assert.ok(r.ok);
      assert.equal(r.payload[0], i < 200 ? i : 7);
    }
  });

  test("the keys are copied: changing the caller's buffer later changes nothing", () => {
    const key = Uint8Array.from(GCM_KEY);
    const options: EspOutboundSaOptions = {
      ...GCM,
      aead: { ...GCM.aead!, key },
      ivSource: fixedIv(new Uint8Array(8)),
    };
    const sa = new EspOutboundSa(options);
    const inb = new EspInboundSa({ ...GCM });
    key.fill(0);
    assert.ok(inb.open(sa.seal(new Uint8Array(4), 17)).ok);
  });

  test('dispose() is idempotent and makes seal() and sealDummy() throw SaDisposedError', () => {
    const sa = new EspOutboundSa(GCM);
    sa.dispose();
    sa.dispose();
    assert.throws(
      () => sa.seal(new Uint8Array(1), 17),
      (e: unknown) => e instanceof SaDisposedError && e.code === 'ERR_ESP_SA_DISPOSED',
    );
    assert.throws(() => sa.sealDummy(), SaDisposedError);
    const using = new EspOutboundSa(GCM);
    using[Symbol.dispose]();
    assert.throws(() => using.seal(new Uint8Array(1), 17), SaDisposedError);
  });
});
