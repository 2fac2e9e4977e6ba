/**
 * Tests of AES-XCBC-MAC (RFC 3566) and its 96-bit truncation AES-XCBC-MAC-96: the RFC 3566 §4.6
 * test cases 1-7 (test/vectors/esp/rfc3566-xcbc.json), a cross-check against a block-by-block
 * implementation written here in the most obvious way, multi-part input, reuse of one instance,
 * dispose and key hygiene. (openssl has no XCBC MAC, so there is no external oracle here; the
 * published vectors cover empty, partial, exact-block and multi-block messages.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AesXcbcMac, createAesXcbcMac } from '../../../src/esp/transforms/aes_xcbc_mac.ts';
import {
  aes,
  assertIndependentResults,
  assertMatchesReference,
  bytes,
  hex,
  splitRandomly,
  views,
  xor,
} from './_block_mac.ts';

interface XcbcVector {
  readonly id: string;
  readonly source: string;
  readonly key: string;
  readonly message_length: number;
  readonly message: string;
  readonly mac: string;
  readonly mac96: string;
}

const FILE = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../vectors/esp/rfc3566-xcbc.json'), 'utf8'),
) as { readonly vectors: readonly XcbcVector[] };

// --- The obvious reference: RFC 3566 §4 block by block with AES-128-ECB ----------------------

function referenceKeys(key: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  return [
    aes(key, new Uint8Array(16).fill(0x01)),
    aes(key, new Uint8Array(16).fill(0x02)),
    aes(key, new Uint8Array(16).fill(0x03)),
  ];
}
function referenceXcbc(key: Uint8Array, message: Uint8Array): Uint8Array {
  const [k1, k2, k3] = referenceKeys(key);
  const n = Math.max(1, Math.ceil(message.length / 16));
  let e: Uint8Array = new Uint8Array(16); // E[0] = 0
  for (let i = 0; i < n - 1; i++) e = aes(k1, xor(message.slice(16 * i, 16 * i + 16), e));
  const tail = message.slice(16 * (n - 1));
  if (message.length > 0 && tail.length === 16) {
    return aes(k1, xor(xor(tail, e), k2));
  }
  const padded = new Uint8Array(16);
  padded.set(tail);
  padded[tail.length] = 0x80;
  return aes(k1, xor(xor(padded, e), k3));
}

describe('AesXcbcMac published vectors', () => {
  test('AesXcbcMac.compute() reproduces RFC 3566 §4.6 test cases 1-7 (full and 96-bit)', () => {
    assert.equal(FILE.vectors.length, 7);
    const mac = createAesXcbcMac(bytes(FILE.vectors[0]!.key));
    for (const v of FILE.vectors) {
      const label = `${v.id} (${v.source})`;
      try {
        const message = bytes(v.message);
        assert.equal(message.length, v.message_length);
        const tag = mac.compute([message]);
        assert.equal(hex(tag), v.mac);
        assert.equal(hex(tag.subarray(0, 12)), v.mac96);
        assert.equal(hex(mac.compute(splitRandomly(message))), v.mac, 'split into parts');
        assert.equal(hex(referenceXcbc(bytes(v.key), message)), v.mac, 'reference');
      } catch (error: unknown) {
        throw new Error(`Vector ${label} failed`, { cause: error });
      }
    }
    mac.dispose();
  });

  test('AesXcbcMac.compute() detects a one-bit change of the message', () => {
    const v = FILE.vectors[5]!;
    const message = bytes(v.message);
    message[33] = message[33]! ^ 0x80;
    const mac = new AesXcbcMac(bytes(v.key));
    assert.notEqual(hex(mac.compute([message])), v.mac);
    mac.dispose();
  });
});

describe('AesXcbcMac cross-checks', () => {
  test('AesXcbcMac matches the block-by-block reference for random keys and lengths', () => {
    assertMatchesReference((key) => new AesXcbcMac(key), referenceXcbc, false);
  });

  test('AesXcbcMac.compute() gives independent results on one instance', () => {
    assertIndependentResults(new AesXcbcMac(randomBytes(16)), 33, 5);
  });
});

describe('AesXcbcMac lifecycle and key hygiene', () => {
  test('AesXcbcMac constructor validates the key (RFC 3566: 128-bit keys only)', () => {
    for (const length of [0, 10, 15, 17, 18, 24, 32]) {
      assert.throws(() => new AesXcbcMac(new Uint8Array(length)), RangeError, `length ${length}`);
    }
    assert.throws(() => new AesXcbcMac([1, 2, 3] as unknown as Uint8Array), TypeError);
  });

  test('AesXcbcMac.compute() rejects parts that are not Uint8Array', () => {
    const mac = new AesXcbcMac(new Uint8Array(16));
    assert.throws(() => mac.compute([null as unknown as Uint8Array]), TypeError);
    mac.dispose();
  });

  test('AesXcbcMac.dispose() makes further use throw and is idempotent', () => {
    const mac = new AesXcbcMac(randomBytes(16));
    mac.dispose();
    mac.dispose();
    assert.throws(
      () => mac.compute([]),
      (error: unknown) =>
        error instanceof TypeError &&
        (error as TypeError & { code?: string }).code === 'ERR_ESP_MAC_DISPOSED' &&
        /^Cannot compute AES-XCBC-MAC: /.test(error.message),
    );
  });

  test('AesXcbcMac never shows its key or derived keys in inspect, JSON or String', () => {
    const key = bytes(FILE.vectors[0]!.key);
    const secrets = [key, ...referenceKeys(key)].map(hex);
    const mac = new AesXcbcMac(key);
    mac.compute([new Uint8Array(20)]);
    for (const view of views(mac)) {
      assert.ok(!/Uint8Array|Buffer|\d+, \d+/.test(view), `byte arrays visible in ${view}`);
      for (const secret of secrets) {
        assert.ok(!view.toLowerCase().includes(secret.slice(0, 8)), `${secret} visible in ${view}`);
      }
    }
    assert.equal(String(mac), '[object AesXcbcMac]');
    mac.dispose();
  });
});
