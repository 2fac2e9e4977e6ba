/**
 * Every published vector of test/vectors/esp/esp-vectors.json, in both directions, at the SA
 * level (EspOutboundSa/EspInboundSa) and at the transform level (SPI 0 of case 4 is refused by
 * the SA API, RFC 4303 §2.1, so that case is checked at the transform level only), plus the
 * derived negative twins (flipped ICV bits, wrong SPI, truncation, bad padding, replay, wrong
 * ESN high half) next to every vector.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { EspSaOptions } from '../../src/esp/esp_sa_options.ts';
import {
  ALGORITHMS,
  type DropReason,
  EspInboundSa,
  EspOutboundSa,
  fixedIv,
  type OpenResult,
} from '../../src/esp/mod.ts';
import { createEspCipher } from '../../src/esp/transforms/create_esp_cipher.ts';
import { HmacIntegrity } from '../../src/esp/transforms/esp_integrity.ts';
import { fromHex, hex, type ReferencePacket, referenceSeal } from './helpers/reference_esp.ts';
import { type EspVector, loadEspVectors } from './helpers/vectors.ts';

const vectors = loadEspVectors();

interface PacketCase {
  readonly vector: EspVector;
  readonly kind: 'gcm' | 'chacha' | 'cbc';
  readonly options: EspSaOptions;
  readonly spi: number;
  readonly seq: bigint;
  readonly seqHigh: number;
  readonly seqLow: number;
  readonly esn: boolean;
  readonly iv: Uint8Array;
  readonly payload: Uint8Array;
  readonly nextHeader: number;
  /** payload ‖ padding ‖ pad length ‖ next header. */
  readonly plaintext: Uint8Array;
  readonly expected: Uint8Array;
  readonly keyMaterial: Uint8Array;
}

function packetCase(v: EspVector): PacketCase | undefined {
  if (v.expected_esp === null || v.spi === null || v.seq === null || v.iv === null)
    return undefined;
  if (v.id.endsWith('case15')) return undefined; // GMAC, RFC 4543: not an Android algorithm
  const kind = v.id.startsWith('rfc7634') ? 'chacha' : v.id.startsWith('rfc3602') ? 'cbc' : 'gcm';
  const seq = BigInt(`0x${v.seq}`);
  const esn = v.esn === true;
  const keyMaterial = fromHex(kind === 'cbc' ? v.key : v.keymat_key_then_salt!);
  const options: EspSaOptions =
    kind === 'cbc'
      ? { spi: Number.parseInt(v.spi, 16), cipher: { name: 'cbc(aes)', key: keyMaterial }, esn }
      : {
          spi: Number.parseInt(v.spi, 16),
          aead: {
            name: kind === 'gcm' ? 'rfc4106(gcm(aes))' : 'rfc7539esp(chacha20,poly1305)',
            key: keyMaterial,
            icvLengthBits: v.icv_len * 8,
          },
          esn,
        };
  return {
    vector: v,
    kind,
    options,
    spi: Number.parseInt(v.spi, 16),
    seq,
    seqHigh: Number(seq >> 32n),
    seqLow: Number(seq & 0xffffffffn),
    esn,
    iv: fromHex(v.iv),
    payload: fromHex(v.plaintext_ip_payload_or_packet),
    nextHeader: v.next_header!,
    plaintext: fromHex((v.gcm_plaintext ?? v.aead_plaintext ?? v.cbc_plaintext)!),
    expected: fromHex(v.expected_esp),
    keyMaterial,
  };
}

function reference(c: PacketCase, overrides: Partial<ReferencePacket> = {}): Uint8Array {
  return referenceSeal({
    cipher: c.kind,
    cipherKey: c.keyMaterial,
    icvLength: c.vector.icv_len,
    spi: c.spi,
    seqHigh: c.seqHigh,
    seqLow: c.seqLow,
    esn: c.esn,
    iv: c.iv,
    plaintext: c.plaintext,
    ...overrides,
  });
}

function inbound(
  c: PacketCase,
  extra: Partial<{ spi: number; esn: boolean; highest: bigint }> = {},
): EspInboundSa {
  return new EspInboundSa({
    ...c.options,
    spi: extra.spi ?? c.spi,
    esn: extra.esn ?? c.esn,
    highestSequenceNumber: extra.highest ?? (c.seq > 0n ? c.seq - 1n : 0n),
  });
}

function assertDrop(result: OpenResult, reason: DropReason, label: string): void {
  assert.deepEqual(result, { ok: false, reason }, label);
}

const packetCases = vectors.map(packetCase).filter((c): c is PacketCase => c !== undefined);

test('the vector file holds the 26 published vectors', () => {
  assert.equal(vectors.length, 26);
  assert.equal(packetCases.length, 21);
});

for (const c of packetCases) {
  const id = c.vector.id;
  const hasIcv = c.kind !== 'cbc';
  describe(`vector ${id}`, () => {
    test('the reference builder reproduces expected_esp (checks the test helper)', () => {
      assert.equal(hex(reference(c)), hex(c.expected));
    });

    test('the transform seals the published plaintext to expected_esp and opens it back', () => {
      const resolved = {
        spi: c.spi,
        esn: c.esn,
        ivSource: undefined,
        algorithms: '',
        aead:
          c.kind === 'cbc'
            ? undefined
            : {
                info: ALGORITHMS.get(
                  c.kind === 'gcm' ? 'rfc4106(gcm(aes))' : 'rfc7539esp(chacha20,poly1305)',
                )!,
                key: c.keyMaterial,
                icvLength: c.vector.icv_len,
              },
        cipher:
          c.kind === 'cbc' ? { info: ALGORITHMS.get('cbc(aes)')!, key: c.keyMaterial } : undefined,
        auth: undefined,
      };
      const cipher = createEspCipher(resolved);
      const out = new Uint8Array(c.expected.length);
      out.set(c.expected.subarray(0, 8 + c.iv.length));
      out.set(c.plaintext, 8 + c.iv.length);
      cipher.seal(out, 8 + c.iv.length + c.plaintext.length, c.seqHigh);
      assert.equal(hex(out), hex(c.expected));
      const opened = cipher.open(c.expected, c.seqHigh);
      assert.ok(opened !== undefined);
      assert.equal(hex(opened), hex(c.plaintext));
      cipher.dispose();
    });

    if (c.spi === 0) {
      test('SPI 0 is refused by the SA API (RFC 4303 §2.1)', () => {
        assert.throws(() => new EspOutboundSa(c.options), RangeError);
        assert.throws(() => new EspInboundSa(c.options), RangeError);
      });
      return;
    }

    test('EspOutboundSa.seal() with the fixed IV reproduces expected_esp bit-exactly', () => {
      const sa = new EspOutboundSa({
        ...c.options,
        nextSequenceNumber: c.seq,
        ivSource: fixedIv(c.iv),
      });
      assert.equal(hex(sa.seal(c.payload, c.nextHeader)), hex(c.expected));
      assert.equal(sa.lastSequenceNumber, c.seq);
      sa.dispose();
    });

    test('EspInboundSa.open() returns the payload, next header and full sequence number', () => {
      const sa = inbound(c);
      const r = sa.open(c.expected);
      assert.ok(r.ok, r.ok ? '' : `open failed: ${r.reason}`);
      assert.equal(hex(r.payload), hex(c.payload));
      assert.equal(r.nextHeader, c.nextHeader);
      assert.equal(r.seq, c.seq);
      sa.dispose();
    });

    if (hasIcv) {
      test('twin: every flipped ICV bit → auth, and the window does not move', () => {
        const sa = inbound(c);
        const before = sa.highestSequenceNumber;
        const icvStart = c.expected.length - c.vector.icv_len;
        for (let bit = 0; bit < c.vector.icv_len * 8; bit++) {
          const bad = Uint8Array.from(c.expected);
          bad[icvStart + (bit >> 3)]! ^= 1 << (bit & 7);
          assertDrop(sa.open(bad), 'auth', `bit ${bit}`);
        }
        assert.equal(sa.highestSequenceNumber, before);
        assert.ok(sa.open(c.expected).ok, 'the genuine packet is still accepted');
      });

      test('twin: a flipped ciphertext, IV or header bit → auth', () => {
        const sa = inbound(c);
        for (const index of [4 + 3, 8, 8 + c.iv.length, c.expected.length - c.vector.icv_len - 1]) {
          const bad = Uint8Array.from(c.expected);
          bad[index]! ^= 0x01;
          const r = sa.open(bad);
          // flipping the low sequence byte may also land left of the window (replay) — never ok
          assert.equal(r.ok, false, `byte ${index}`);
          if (index !== 7) assertDrop(r, 'auth', `byte ${index}`);
        }
      });
    } else {
      test('twin (no ICV): encryption-only gives no integrity — a flipped IV bit is accepted with a flipped payload bit', () => {
        const sa = inbound(c);
        const bad = Uint8Array.from(c.expected);
        bad[8]! ^= 0x80;
        const r = sa.open(bad);
        assert.ok(r.ok);
        const expected = Uint8Array.from(c.payload);
        expected[0]! ^= 0x80;
        assert.equal(hex(r.payload), hex(expected));
      });
    }

    test('twin: wrong SPI → no-sa', () => {
      const sa = inbound(c, { spi: c.spi ^ 0x01 || 2 });
      assertDrop(sa.open(c.expected), 'no-sa', 'SA with another SPI');
      const bad = Uint8Array.from(c.expected);
      bad[0]! ^= 0x80;
      assertDrop(inbound(c).open(bad), 'no-sa', 'packet with another SPI');
    });

    test(`twin: truncated by one byte → ${c.kind === 'cbc' ? 'truncated (CBC length not a block multiple)' : 'auth (length still plausible)'}`, () => {
      const sa = inbound(c);
      assertDrop(
        sa.open(c.expected.subarray(0, c.expected.length - 1)),
        c.kind === 'cbc' ? 'truncated' : 'auth',
        '-1',
      );
    });

    test('twin: truncated below the header and below the minimum length → truncated', () => {
      const sa = inbound(c);
      for (const length of [0, 1, 7])
        assertDrop(sa.open(c.expected.subarray(0, length)), 'truncated', `${length}`);
      const min = 8 + c.iv.length + (c.kind === 'cbc' ? 16 : 2) + c.vector.icv_len;
      assertDrop(sa.open(c.expected.subarray(0, min - 1)), 'truncated', `min - 1 = ${min - 1}`);
      assertDrop(sa.open(c.expected.subarray(0, 8)), 'truncated', 'header only');
    });

    test('twin: corrupted padding under a correct ICV → bad-padding (and the payload is not released)', () => {
      const padLength = c.vector.pad_length!;
      const variants: Uint8Array[] = [];
      if (padLength > 0) {
        const p = Uint8Array.from(c.plaintext);
        p[p.length - 2 - padLength]! ^= 0x40; // first padding byte no longer 1
        variants.push(p);
      }
      // a pad length longer than the plaintext
      const longPad = Uint8Array.from(c.plaintext);
      longPad[longPad.length - 2] = 255;
      variants.push(longPad);
      for (const plaintext of variants) {
        const packet = reference(c, { plaintext });
        const sa = inbound(c);
        assertDrop(sa.open(packet), 'bad-padding', hex(plaintext.subarray(-4)));
        if (hasIcv) {
          // authenticated, so the window moved: the same sequence number is now a replay
          assertDrop(sa.open(c.expected), 'replay', 'after bad padding');
        }
      }
    });

    test(
      hasIcv
        ? 'twin: replayed sequence number → replay'
        : 'twin: replay is accepted on encryption-only SAs (no anti-replay without integrity, RFC 4303 §3.4.3)',
      () => {
        const sa = inbound(c);
        assert.ok(sa.open(c.expected).ok);
        if (hasIcv) assertDrop(sa.open(c.expected), 'replay', 'second copy');
        else assert.ok(sa.open(c.expected).ok);
      },
    );

    if (hasIcv) {
      test('twin: wrong ESN high half → auth', () => {
        if (c.esn) {
          const wrongHigh = reference(c, { seqHigh: (c.seqHigh ^ 1) >>> 0 });
          assertDrop(inbound(c).open(wrongHigh), 'auth', 'sealed with another high half');
          // without ESN a low half of 0 is sequence number 0, which the window never accepts
          const reason = c.seqLow === 0 ? 'replay' : 'auth';
          assertDrop(
            inbound(c, { esn: false, highest: 0n }).open(c.expected),
            reason,
            'opened without ESN',
          );
        } else {
          const withHigh = reference(c, { esn: true, seqHigh: 1 });
          assertDrop(inbound(c).open(withHigh), 'auth', 'sealed with ESN high half 1');
          assertDrop(inbound(c, { esn: true }).open(c.expected), 'auth', 'opened with ESN');
        }
      });
    }
  });
}

describe('vector mcgrew-gcm-test-01-case15 (AES-GMAC, RFC 4543)', () => {
  const v = vectors.find((x) => x.id.endsWith('case15'))!;
  test("is outside Android's algorithm set, so the engine has no GMAC SA", () => {
    for (const name of ALGORITHMS.keys())
      assert.ok(!name.includes('4543') && !name.includes('gmac'));
  });
  test('the GCM primitive the engine uses yields the published GMAC tag', () => {
    const key = fromHex(v.key);
    const nonce = fromHex(`${v.keymat_key_then_salt!.slice(-8)}${v.iv}`);
    const c = createCipheriv('aes-128-gcm', key, nonce);
    c.setAAD(fromHex(v.aad!));
    c.final();
    assert.equal(hex(c.getAuthTag()), v.expected_esp!.slice(-32));
  });
});

describe('RFC 4868 AUTH256 vectors (HMAC-SHA-256-128 truncation)', () => {
  for (const v of vectors.filter((x) => x.id.startsWith('rfc4868'))) {
    test(`${v.id}: HmacIntegrity signs the data with the published 128-bit ICV`, () => {
      const data = fromHex(v.plaintext_ip_payload_or_packet);
      const mac = new HmacIntegrity('sha256', fromHex(v.key), 16, false);
      const buf = new Uint8Array(data.length + 16);
      buf.set(data);
      mac.sign(buf, data.length, 0);
      assert.equal(hex(buf.subarray(data.length)), v.expected_icv);
      assert.equal(hex(createHmac('sha256', fromHex(v.key)).update(data).digest()), v.hmac_full);
      assert.ok(mac.verify(buf, data.length, 0));
      buf[buf.length - 1]! ^= 1;
      assert.equal(mac.verify(buf, data.length, 0), false);
      mac.dispose();
    });
  }
});
