/**
 * Round trips for every algorithm × key length × ICV/truncation length × ESN on/off, packet
 * layout checks (RFC 4303 §2.4 padding and alignment), cross-checks of every sealed packet
 * against an independent one-shot node:crypto construction, dummy packets and counter exhaustion.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EspInboundSa,
  EspOutboundSa,
  type EspSaOptions,
  SequenceNumberExhaustedError,
} from '../../src/esp/mod.ts';
import {
  aeadCombinations,
  type SaCombination,
  separateCombinations,
} from './helpers/algorithms.ts';
import {
  hex,
  type ReferencePacket,
  referencePlaintext,
  referenceSeal,
} from './helpers/reference_esp.ts';

const PAYLOAD_LENGTHS = [0, 1, 2, 3, 4, 13, 14, 15, 16, 17, 31, 64, 255, 1400];

function payloadOf(length: number, seed: number): Uint8Array {
  const p = new Uint8Array(length);
  for (let i = 0; i < length; i++) p[i] = (i * 31 + seed) & 0xff;
  return p;
}

function expectedLength(c: SaCombination, payloadLength: number): number {
  const align = Math.max(c.blockSize, 4);
  return 8 + c.ivLength + Math.ceil((payloadLength + 2) / align) * align + c.icvLength;
}

function roundTrip(
  c: SaCombination,
  esn: boolean,
  start: bigint,
  lengths: readonly number[],
): void {
  const options = { ...c.options, spi: 0x1000 + c.icvLength, esn } as EspSaOptions;
  const out = new EspOutboundSa({ ...options, nextSequenceNumber: start });
  const inb = new EspInboundSa({ ...options, highestSequenceNumber: start - 1n });
  let seq = start;
  for (const length of lengths) {
    const payload = payloadOf(length, length);
    const packet = out.seal(payload, 17);
    assert.equal(packet.length, expectedLength(c, length), `${c.label} length for ${length}`);
    assert.equal((packet.length - 8 - c.ivLength - c.icvLength) % 4, 0, 'trailer 4-byte aligned');
    const r = inb.open(packet);
    assert.ok(r.ok, r.ok ? '' : `${c.label} esn=${esn} payload ${length}: ${r.reason}`);
    assert.equal(hex(r.payload), hex(payload));
    assert.equal(r.nextHeader, 17);
    assert.equal(r.seq, seq);
    seq++;
  }
  assert.equal(out.lastSequenceNumber, seq - 1n);
  assert.equal(inb.highestSequenceNumber, seq - 1n);
  out.dispose();
  inb.dispose();
}

describe('round trips', () => {
  for (const esn of [false, true]) {
    test(`every AEAD key × ICV length, esn=${esn}`, () => {
      for (const c of aeadCombinations())
        roundTrip(c, esn, esn ? 0xfffffffen : 1n, PAYLOAD_LENGTHS);
    });
    test(`every cipher key × HMAC truncation length Android accepts (every bit value), esn=${esn}`, () => {
      for (const c of separateCombinations(true, (n) => n.startsWith('hmac'))) {
        if (c.icvLength === 0 && esn) continue;
        roundTrip(c, esn, esn ? 0x1fffffffen : 1n, [0, 3, 17]);
      }
    });
    test(`every cipher key × integrity algorithm over all payload lengths, esn=${esn}`, () => {
      for (const c of separateCombinations(false)) {
        roundTrip(c, esn, esn ? 0xfffffffen : 1n, PAYLOAD_LENGTHS);
      }
    });
  }

  test('HMAC truncation that is not a multiple of 8 bits yields floor(bits / 8) ICV bytes, as Linux', () => {
    const c = separateCombinations(true, (n) => n === 'hmac(sha256)').find((x) =>
      x.label.endsWith('trunc 100'),
    )!;
    assert.equal(c.icvLength, 12);
    roundTrip(c, false, 1n, [5]);
  });

  test('payload given as several parts equals the concatenation', () => {
    const c = aeadCombinations()[0]!;
    const options = { ...c.options, spi: 7 } as EspSaOptions;
    const a = new EspOutboundSa({ ...options, ivSource: { next: (n) => new Uint8Array(n) } });
    const b = new EspOutboundSa({ ...options, ivSource: { next: (n) => new Uint8Array(n) } });
    const whole = payloadOf(40, 1);
    assert.equal(
      hex(a.seal([whole.subarray(0, 3), whole.subarray(3, 3), whole.subarray(3)], 6)),
      hex(b.seal(whole, 6)),
    );
  });
});

describe('cross-check against one-shot node:crypto (test/esp/helpers/reference_esp.ts)', () => {
  const cipherKind = {
    'rfc4106(gcm(aes))': 'gcm',
    'rfc7539esp(chacha20,poly1305)': 'chacha',
    'cbc(aes)': 'cbc',
    'rfc3686(ctr(aes))': 'ctr',
    'ecb(cipher_null)': 'null',
  } as const;
  const hash = {
    'hmac(md5)': 'md5',
    'hmac(sha1)': 'sha1',
    'hmac(sha256)': 'sha256',
    'hmac(sha384)': 'sha384',
    'hmac(sha512)': 'sha512',
  } as Record<string, string>;
  const combos = [
    ...aeadCombinations(),
    ...separateCombinations(false, (n) => n.startsWith('hmac')),
  ];
  for (const esn of [false, true]) {
    test(`every AEAD and HMAC combination with default IVs equals the reference, esn=${esn}`, () => {
      for (const c of combos) {
        const o = c.options;
        const start = esn ? 0x5_ffff_fffen : 0xfffffffdn;
        const sa = new EspOutboundSa({
          ...o,
          spi: 0xabcdef01,
          esn,
          nextSequenceNumber: start,
        } as EspSaOptions);
        for (let i = 0n; i < 3n; i++) {
          const seq = start + i;
          const payload = payloadOf(Number(i) * 7 + 20, Number(i));
          const packet = sa.seal(payload, 41);
          const ref: ReferencePacket = {
            cipher: cipherKind[(o.aead ?? o.cipher)!.name],
            cipherKey: (o.aead ?? o.cipher)!.key,
            icvLength: c.icvLength,
            ...(o.auth !== undefined
              ? { hmac: { hash: hash[o.auth.name]!, key: o.auth.key, icvLength: c.icvLength } }
              : {}),
            spi: 0xabcdef01,
            seqHigh: Number(seq >> 32n),
            seqLow: Number(seq & 0xffffffffn),
            esn,
            iv: packet.subarray(8, 8 + c.ivLength),
            plaintext: referencePlaintext(payload, 41, c.blockSize),
          };
          assert.equal(hex(packet), hex(referenceSeal(ref)), `${c.label} seq ${seq}`);
        }
      }
    });
  }
});

describe('dummy packets (RFC 4303 §2.6)', () => {
  for (const c of [aeadCombinations()[2]!, separateCombinations(false)[1]!]) {
    test(`${c.label}: sealDummy() packets authenticate and are dropped as dummy`, () => {
      const options = { ...c.options, spi: 0x4242 } as EspSaOptions;
      const out = new EspOutboundSa(options);
      const inb = new EspInboundSa(options);
      for (const length of [undefined, 0, 1, 100]) {
        const packet = out.sealDummy(length);
        assert.equal(packet.length, expectedLength(c, length ?? 0));
        assert.deepEqual(inb.open(packet), { ok: false, reason: 'dummy' });
        // authenticated: the window moved
        assert.deepEqual(inb.open(packet), { ok: false, reason: 'replay' });
      }
      assert.equal(inb.highestSequenceNumber, 4n);
      const data = out.seal(new Uint8Array(3), 59);
      assert.deepEqual(
        inb.open(data),
        { ok: false, reason: 'dummy' },
        'seal(…, 59) is a dummy too',
      );
    });
  }
});

describe('sequence number exhaustion (RFC 4303 §3.3.3)', () => {
  const c = aeadCombinations()[2]!;
  test('32-bit: the packet with 2^32-1 is sealed, the next seal throws and asks for a rekey', () => {
    const sa = new EspOutboundSa({
      ...c.options,
      spi: 9,
      nextSequenceNumber: 0xfffffffen,
    } as EspSaOptions);
    const inb = new EspInboundSa({
      ...c.options,
      spi: 9,
      highestSequenceNumber: 0xfffffffdn,
    } as EspSaOptions);
    assert.ok(inb.open(sa.seal(new Uint8Array(1), 17)).ok);
    const last = sa.seal(new Uint8Array(1), 17);
    assert.equal(hex(last.subarray(4, 8)), 'ffffffff');
    assert.ok(inb.open(last).ok);
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => sa.seal(new Uint8Array(1), 17),
        (e: unknown) =>
          e instanceof SequenceNumberExhaustedError &&
          e.code === 'ERR_ESP_SEQUENCE_EXHAUSTED' &&
          e.name === 'SequenceNumberExhaustedError' &&
          /rekey/.test(e.message) &&
          e.spi === 9,
      );
      assert.throws(() => sa.sealDummy(), SequenceNumberExhaustedError);
    }
    assert.equal(sa.lastSequenceNumber, 0xffffffffn);
  });

  test('64-bit ESN: the packet with 2^64-1 is sealed, the next seal throws', () => {
    const sa = new EspOutboundSa({
      ...c.options,
      spi: 9,
      esn: true,
      nextSequenceNumber: 0xffff_ffff_ffff_ffffn,
    } as EspSaOptions);
    const inb = new EspInboundSa({
      ...c.options,
      spi: 9,
      esn: true,
      highestSequenceNumber: 0xffff_ffff_ffff_fff0n,
    } as EspSaOptions);
    const r = inb.open(sa.seal(new Uint8Array(1), 17));
    assert.ok(r.ok);
    assert.equal(r.seq, 0xffff_ffff_ffff_ffffn);
    assert.throws(
      () => sa.seal(new Uint8Array(1), 17),
      /64-bit sequence number is exhausted, rekey/,
    );
    assert.equal(sa.lastSequenceNumber, 0xffff_ffff_ffff_ffffn);
  });

  test('ESN carries into the high half at 2^32 instead of stopping', () => {
    const sa = new EspOutboundSa({
      ...c.options,
      spi: 9,
      esn: true,
      nextSequenceNumber: 0xffffffffn,
    } as EspSaOptions);
    const inb = new EspInboundSa({
      ...c.options,
      spi: 9,
      esn: true,
      highestSequenceNumber: 0xfffffffen,
    } as EspSaOptions);
    const a = sa.seal(new Uint8Array(1), 17);
    const b = sa.seal(new Uint8Array(1), 17);
    assert.equal(hex(b.subarray(4, 8)), '00000000');
    const rb = inb.open(b);
    const ra = inb.open(a);
    assert.ok(ra.ok && rb.ok);
    assert.equal(ra.seq, 0xffffffffn);
    assert.equal(rb.seq, 0x1_0000_0000n);
  });

  test('nextSequenceNumber out of range is refused', () => {
    const o = { ...c.options, spi: 9 } as EspSaOptions;
    assert.throws(() => new EspOutboundSa({ ...o, nextSequenceNumber: 0n }), RangeError);
    assert.throws(
      () => new EspOutboundSa({ ...o, nextSequenceNumber: 0x1_0000_0000n }),
      RangeError,
    );
    assert.throws(
      () => new EspOutboundSa({ ...o, esn: true, nextSequenceNumber: 1n << 64n }),
      RangeError,
    );
    assert.throws(
      () => new EspOutboundSa({ ...o, nextSequenceNumber: 5 as unknown as bigint }),
      TypeError,
    );
  });
});
