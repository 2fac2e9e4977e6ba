/**
 * Keys never leak: not through toString, JSON.stringify, util.inspect (with and without custom
 * inspection, hidden properties, any depth) or error messages; they are copied in and zeroed on
 * dispose (observed at the transform level: after dispose a transform computes with a zero key).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  EspInboundSa,
  EspOutboundSa,
  type EspSaOptions,
  SequenceNumberExhaustedError,
} from '../../src/esp/mod.ts';
import { AeadCipher } from '../../src/esp/transforms/aead_cipher.ts';
import { createAesCmac } from '../../src/esp/transforms/aes_cmac.ts';
import { CbcEncryption, CtrEncryption } from '../../src/esp/transforms/esp_encryption.ts';
import { BlockMacIntegrity, HmacIntegrity } from '../../src/esp/transforms/esp_integrity.ts';
import { hex } from './helpers/reference_esp.ts';

function keyOf(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (0x5a + seed + i * 7) & 0xff || 1);
}

const SAS: readonly { label: string; options: EspSaOptions; keys: Uint8Array[] }[] = (() => {
  const gcm = keyOf(36, 1);
  const chacha = keyOf(36, 2);
  const cbc = keyOf(32, 3);
  const sha = keyOf(64, 4);
  const ctr = keyOf(28, 5);
  const xcbc = keyOf(16, 6);
  return [
    {
      label: 'gcm',
      options: { spi: 1, aead: { name: 'rfc4106(gcm(aes))', key: gcm, icvLengthBits: 96 } },
      keys: [gcm],
    },
    {
      label: 'chacha',
      options: {
        spi: 2,
        aead: { name: 'rfc7539esp(chacha20,poly1305)', key: chacha, icvLengthBits: 128 },
      },
      keys: [chacha],
    },
    {
      label: 'cbc+sha512',
      options: {
        spi: 3,
        cipher: { name: 'cbc(aes)', key: cbc },
        auth: { name: 'hmac(sha512)', key: sha, truncationLengthBits: 256 },
      },
      keys: [cbc, sha],
    },
    {
      label: 'ctr+xcbc',
      options: {
        spi: 4,
        cipher: { name: 'rfc3686(ctr(aes))', key: ctr },
        auth: { name: 'xcbc(aes)', key: xcbc, truncationLengthBits: 96 },
      },
      keys: [ctr, xcbc],
    },
  ];
})();

/** Every 8-byte window of every key, hex and as a decimal byte list. */
function fragments(keys: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const key of keys) {
    for (let i = 0; i + 8 <= key.length; i += 4) {
      out.push(hex(key.subarray(i, i + 8)));
      out.push(Array.from(key.subarray(i, i + 4)).join(', '));
    }
  }
  return out;
}

function assertNoKey(text: string, keys: Uint8Array[], where: string): void {
  for (const f of fragments(keys))
    assert.ok(!text.includes(f), `${where} contains key bytes ${f}: ${text}`);
}

/** `options` with some fields of its `aead`, `auth` or `cipher` replaced. */
function altered<K extends 'aead' | 'auth' | 'cipher'>(
  options: EspSaOptions,
  part: K,
  change: Partial<NonNullable<EspSaOptions[K]>>,
): EspSaOptions {
  return { ...options, [part]: { ...options[part]!, ...change } };
}

describe('key hygiene', () => {
  for (const { label, options, keys } of SAS) {
    test(`${label}: toString, JSON.stringify and util.inspect show no key material`, () => {
      for (const sa of [new EspOutboundSa(options), new EspInboundSa(options)]) {
        sa instanceof EspOutboundSa && sa.seal(new Uint8Array(3), 17);
        const texts = [
          String(sa),
          `${sa}`,
          JSON.stringify(sa),
          JSON.stringify({ nested: [sa] }),
          inspect(sa),
          inspect(sa, { showHidden: true, depth: Number.POSITIVE_INFINITY, customInspect: false }),
          inspect({ sa }, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
          Object.keys(sa).join(','),
          Object.getOwnPropertyNames(sa).join(','),
        ];
        for (const text of texts) assertNoKey(text, keys, label);
        assert.match(String(sa), /spi=0x0000000\d/);
        assert.ok(JSON.stringify(sa).includes('"spi"'));
        sa.dispose();
      }
    });

    test(`${label}: error messages show no key material`, () => {
      const messages: string[] = [];
      const capture = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          messages.push(String(e), (e as Error).stack ?? '', inspect(e));
        }
      };
      const bad = { ...options, spi: 0 };
      capture(() => new EspOutboundSa(bad));
      if (options.aead !== undefined) {
        capture(() => new EspOutboundSa(altered(options, 'aead', { icvLengthBits: 1 })));
        capture(
          () => new EspOutboundSa(altered(options, 'aead', { key: options.aead!.key.subarray(1) })),
        );
      } else {
        capture(() => new EspOutboundSa(altered(options, 'auth', { truncationLengthBits: 1 })));
        capture(
          () => new EspOutboundSa(altered(options, 'auth', { key: options.auth!.key.subarray(1) })),
        );
        capture(
          () =>
            new EspOutboundSa(altered(options, 'cipher', { key: options.cipher!.key.subarray(1) })),
        );
      }
      const sa = new EspOutboundSa({ ...options, nextSequenceNumber: 0xffffffffn });
      sa.seal(new Uint8Array(1), 17);
      capture(() => sa.seal(new Uint8Array(1), 17));
      sa.dispose();
      capture(() => sa.seal(new Uint8Array(1), 17));
      assert.ok(messages.length >= 12);
      for (const m of messages) assertNoKey(m, keys, 'error');
      assert.ok(messages.some((m) => m.includes(SequenceNumberExhaustedError.name)));
    });
  }
});

describe('keys are zeroed on dispose', () => {
  const packet = (ivLength: number, plaintext: number, icv: number) => {
    const p = new Uint8Array(8 + ivLength + plaintext + icv);
    for (let i = 0; i < 8 + ivLength + plaintext; i++) p[i] = i;
    return p;
  };

  for (const [algorithm, keyLength] of [
    ['aes-128-gcm', 16],
    ['aes-256-gcm', 32],
    ['chacha20-poly1305', 32],
  ] as const) {
    test(`AeadCipher ${algorithm}: after dispose() it computes with an all-zero key and salt`, () => {
      const make = (key: Uint8Array, salt: Uint8Array) =>
        new AeadCipher({ algorithm, key, salt, icvLength: 16, spi: 9, esn: false });
      const keyed = make(keyOf(keyLength, 1), keyOf(4, 2));
      const zero = make(new Uint8Array(keyLength), new Uint8Array(4));
      const a = packet(8, 20, 16);
      const b = packet(8, 20, 16);
      const c = packet(8, 20, 16);
      keyed.seal(a, 36, 0);
      zero.seal(b, 36, 0);
      assert.notEqual(hex(a), hex(b));
      keyed.dispose();
      keyed.seal(c, 36, 0);
      assert.equal(hex(c), hex(b));
    });
  }

  test('CbcEncryption and CtrEncryption: after dispose() they encrypt with an all-zero key', () => {
    for (const [make, ivLength] of [
      [(k: Uint8Array) => new CbcEncryption(k), 16],
      [(k: Uint8Array) => new CtrEncryption(k, new Uint8Array(4)), 8],
    ] as const) {
      const keyed = make(keyOf(24, 3));
      const zero = make(new Uint8Array(24));
      const a = packet(ivLength, 32, 0);
      const b = packet(ivLength, 32, 0);
      keyed.encryptInPlace(a, 8 + ivLength, a.length);
      zero.encryptInPlace(b, 8 + ivLength, b.length);
      assert.notEqual(hex(a), hex(b));
      keyed.dispose();
      const c = packet(ivLength, 32, 0);
      keyed.encryptInPlace(c, 8 + ivLength, c.length);
      assert.equal(hex(c), hex(b));
    }
  });

  test('HmacIntegrity: after dispose() it signs with an all-zero key', () => {
    const keyed = new HmacIntegrity('sha256', keyOf(32, 4), 16, true);
    const zero = new HmacIntegrity('sha256', new Uint8Array(32), 16, true);
    const a = packet(0, 20, 16);
    const b = packet(0, 20, 16);
    keyed.sign(a, 28, 5);
    zero.sign(b, 28, 5);
    assert.notEqual(hex(a), hex(b));
    keyed.dispose();
    const c = packet(0, 20, 16);
    keyed.sign(c, 28, 5);
    assert.equal(hex(c), hex(b));
  });

  test('BlockMacIntegrity: dispose() disposes the MAC, which then refuses to compute', () => {
    const mac = new BlockMacIntegrity(createAesCmac(keyOf(16, 5)), 12, false);
    mac.sign(packet(0, 20, 12), 28, 0);
    mac.dispose();
    assert.throws(() => mac.sign(packet(0, 20, 12), 28, 0));
  });

  test("the SA copies the caller's key and never writes to it", () => {
    const key = keyOf(20, 9);
    const before = hex(key);
    const sa = new EspOutboundSa({
      spi: 1,
      aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 },
    });
    sa.seal(new Uint8Array(10), 17);
    sa.dispose();
    assert.equal(hex(key), before, "dispose zeroes the SA's copy, not the caller's buffer");
  });
});
