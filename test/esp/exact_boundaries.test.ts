/**
 * Security review of the ESP engine: boundaries checked exactly (RFC 4303 §2.4, §3.4.3, A2.2) —
 * minimum packet lengths and one byte less, padding that claims more than there is under a valid
 * ICV, CBC with zero padding, the window edge, and ESN packets whose low half is 0.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { EspInboundSa, EspOutboundSa, type EspOutboundSaOptions } from '../../src/esp/mod.ts';
import { header } from '../helpers/oracles/hand_esp.ts';

const GCM_KEY = Uint8Array.from({ length: 20 }, (_, i) => 0x21 + i);
const GCM: EspOutboundSaOptions = {
  spi: 0x1001,
  aead: { name: 'rfc4106(gcm(aes))', key: GCM_KEY, icvLengthBits: 128 },
};
const HMAC_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x61 + i);
const NULL_HMAC: EspOutboundSaOptions = {
  spi: 0x1002,
  cipher: { name: 'ecb(cipher_null)', key: new Uint8Array(0) },
  auth: { name: 'hmac(sha256)', key: HMAC_KEY, truncationLengthBits: 128 },
};
const CBC: EspOutboundSaOptions = {
  spi: 0x1003,
  cipher: { name: 'cbc(aes)', key: Uint8Array.from({ length: 16 }, (_, i) => i) },
  auth: { name: 'hmac(sha256)', key: HMAC_KEY, truncationLengthBits: 128 },
};

/** NULL + HMAC-SHA-256-128 packet built by hand: any trailer, correct ICV. */
function nullHmacPacket(seq: number, plaintext: Uint8Array): Uint8Array {
  const body = new Uint8Array(8 + plaintext.length);
  body.set(header(NULL_HMAC.spi, seq));
  body.set(plaintext, 8);
  const icv = createHmac('sha256', HMAC_KEY).update(body).digest().subarray(0, 16);
  const packet = new Uint8Array(body.length + 16);
  packet.set(body);
  packet.set(icv, body.length);
  return packet;
}

/** AES-GCM packet with a 2-byte ciphertext (trailer only, no alignment padding) built by hand. */
function minimalGcmPacket(seq: number, nextHeader: number): Uint8Array {
  const iv = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);
  const nonce = new Uint8Array(12);
  nonce.set(GCM_KEY.subarray(16), 0);
  nonce.set(iv, 4);
  const h = header(GCM.spi, seq);
  const cipher = createCipheriv('aes-128-gcm', GCM_KEY.subarray(0, 16), nonce);
  cipher.setAAD(h);
  const ct = cipher.update(Uint8Array.of(0, nextHeader));
  cipher.final();
  return Uint8Array.from([...h, ...iv, ...ct, ...cipher.getAuthTag()]);
}

describe('review: exact minimum lengths', () => {
  test('AES-GCM: 8 + 8 + 2 + 16 bytes opens; one byte less is truncated', () => {
    using rx = new EspInboundSa(GCM);
    const p = minimalGcmPacket(1, 17);
    assert.equal(p.length, 34);
    assert.deepEqual(rx.open(p.subarray(0, 33)), { ok: false, reason: 'truncated' });
    const r = rx.open(p);
    assert.ok(r.ok);
    assert.equal(r.payload.length, 0);
  });

  test('NULL + HMAC: 8 + 2 + 16 bytes opens; one byte less is truncated', () => {
    using rx = new EspInboundSa(NULL_HMAC);
    const p = nullHmacPacket(1, Uint8Array.of(0, 17));
    assert.equal(p.length, 26);
    assert.deepEqual(rx.open(p.subarray(0, 25)), { ok: false, reason: 'truncated' });
    assert.ok(rx.open(p).ok);
  });

  test('AES-CBC: a 14-byte payload needs 0 padding and gives the minimum 8 + 16 + 16 + 16', () => {
    using tx = new EspOutboundSa(CBC);
    using rx = new EspInboundSa(CBC);
    const p = tx.seal(new Uint8Array(14).fill(3), 6);
    assert.equal(p.length, 56);
    assert.deepEqual(rx.open(p.subarray(0, 55)), { ok: false, reason: 'truncated' });
    const r = rx.open(p);
    assert.ok(r.ok);
    assert.deepEqual([...r.payload], new Array(14).fill(3));
  });
});

describe('review: padding under a valid ICV', () => {
  test('Pad Length larger than the ciphertext is bad-padding, never a negative slice', () => {
    using rx = new EspInboundSa(NULL_HMAC);
    for (const [i, padLength] of [1, 3, 255].entries()) {
      const r = rx.open(nullHmacPacket(i + 1, Uint8Array.of(1, 2, padLength, 17).subarray(2)));
      assert.deepEqual(r, { ok: false, reason: 'bad-padding' }, String(padLength));
    }
    // Exactly all of the data is padding: accepted with an empty payload.
    const r = rx.open(nullHmacPacket(9, Uint8Array.of(1, 2, 2, 17)));
    assert.ok(r.ok && r.payload.length === 0);
    // Padding not 1, 2, 3, …: rejected (RFC 4303 §2.4 default padding).
    assert.deepEqual(rx.open(nullHmacPacket(10, Uint8Array.of(1, 3, 2, 17))), {
      ok: false,
      reason: 'bad-padding',
    });
  });

  test('a bad-padding packet still consumes its sequence number (it was authenticated)', () => {
    using rx = new EspInboundSa(NULL_HMAC);
    const bad = nullHmacPacket(5, Uint8Array.of(9, 17));
    assert.equal(rx.open(bad).ok, false);
    assert.deepEqual(rx.open(bad), { ok: false, reason: 'replay' });
  });
});

describe('review: window and ESN edges', () => {
  test('without ESN the window holds exactly size numbers, right edge included', () => {
    using rx = new EspInboundSa({
      ...NULL_HMAC,
      replayWindowSize: 32,
      highestSequenceNumber: 100n,
    });
    assert.deepEqual(rx.open(nullHmacPacket(68, Uint8Array.of(0, 17))), {
      ok: false,
      reason: 'replay',
    });
    assert.ok(rx.open(nullHmacPacket(69, Uint8Array.of(0, 17))).ok);
    assert.ok(rx.open(nullHmacPacket(100, Uint8Array.of(0, 17))).ok);
    assert.deepEqual(rx.open(nullHmacPacket(0, Uint8Array.of(0, 17))), {
      ok: false,
      reason: 'replay',
    });
  });

  test('ESN: low half 0 after 2^32-1 opens as 2^32; 64-bit 0 never opens', () => {
    const esn = { ...GCM, esn: true };
    using tx = new EspOutboundSa({ ...esn, nextSequenceNumber: 0x1_0000_0000n });
    using rx = new EspInboundSa({ ...esn, highestSequenceNumber: 0xffff_ffffn });
    const p = tx.seal(new Uint8Array(3), 17);
    assert.deepEqual([...p.subarray(4, 8)], [0, 0, 0, 0]);
    const r = rx.open(p);
    assert.ok(r.ok);
    assert.equal(r.seq, 0x1_0000_0000n);
    assert.equal(rx.highestSequenceNumber, 0x1_0000_0000n);
    // A fresh receiver (highest 0) reads low half 0 as 64-bit 0: refused before any crypto.
    using fresh = new EspInboundSa(esn);
    assert.deepEqual(fresh.open(p), { ok: false, reason: 'replay' });
  });
});
