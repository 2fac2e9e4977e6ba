/**
 * Tests of AES-CMAC (RFC 4493) and its 96-bit truncation AES-CMAC-96 (RFC 4494): the published
 * vectors (test/vectors/esp/rfc4493-cmac.json, rfc4494-cmac96.json), a cross-check against a
 * block-by-block implementation written here in the most obvious way, `openssl mac … CMAC` as an
 * external oracle, multi-part input, reuse of one instance, dispose and key hygiene.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AesCmac, createAesCmac } from '../../../src/esp/transforms/aes_cmac.ts';
import {
  aes,
  assertIndependentResults,
  assertMatchesReference,
  bytes,
  hex,
  splitRandomly as split,
  views,
  xor,
} from './_block_mac.ts';

const VECTORS = join(import.meta.dirname, '../../vectors/esp');

interface CmacVector {
  readonly id: string;
  readonly source: string;
  readonly key: string;
  readonly message_length: number;
  readonly message: string;
  readonly mac?: string;
  readonly mac96?: string;
}
interface CmacFile {
  readonly subkeys?: {
    readonly key: string;
    readonly l: string;
    readonly k1: string;
    readonly k2: string;
  };
  readonly vectors: readonly CmacVector[];
}

function load(name: string): CmacFile {
  return JSON.parse(readFileSync(join(VECTORS, name), 'utf8')) as CmacFile;
}

// --- The obvious reference: RFC 4493 §2.3/§2.4 block by block with AES-128-ECB -------------

function dbl(block: Uint8Array): Uint8Array {
  const v = BigInt(`0x${hex(block)}`);
  let d = (v << 1n) & ((1n << 128n) - 1n);
  if (v >> 127n === 1n) d ^= 0x87n;
  return bytes(d.toString(16).padStart(32, '0'));
}
function referenceSubkeys(key: Uint8Array): { l: Uint8Array; k1: Uint8Array; k2: Uint8Array } {
  const l = aes(key, new Uint8Array(16));
  const k1 = dbl(l);
  return { l, k1, k2: dbl(k1) };
}
function referenceCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const { k1, k2 } = referenceSubkeys(key);
  let n = Math.ceil(message.length / 16);
  let complete: boolean;
  if (n === 0) {
    n = 1;
    complete = false;
  } else {
    complete = message.length % 16 === 0;
  }
  let last: Uint8Array;
  if (complete) {
    last = xor(message.slice(16 * (n - 1), 16 * n), k1);
  } else {
    const padded = new Uint8Array(16);
    const tail = message.slice(16 * (n - 1));
    padded.set(tail);
    padded[tail.length] = 0x80;
    last = xor(padded, k2);
  }
  let x: Uint8Array = new Uint8Array(16);
  for (let i = 0; i < n - 1; i++) x = aes(key, xor(x, message.slice(16 * i, 16 * i + 16)));
  return aes(key, xor(x, last));
}

const splitRandomly = (message: Uint8Array): Uint8Array[] => split(message, true);

describe('AesCmac published vectors', () => {
  const rfc4493 = load('rfc4493-cmac.json');
  const rfc4494 = load('rfc4494-cmac96.json');

  test('the reference implementation reproduces the RFC 4493 §4 subkeys', () => {
    const s = rfc4493.subkeys!;
    const got = referenceSubkeys(bytes(s.key));
    assert.equal(hex(got.l), s.l);
    assert.equal(hex(got.k1), s.k1);
    assert.equal(hex(got.k2), s.k2);
  });

  test('AesCmac.compute() reproduces RFC 4493 §4 examples 1-4', () => {
    assert.equal(rfc4493.vectors.length, 4);
    for (const v of rfc4493.vectors) {
      const label = `${v.id} (${v.source})`;
      try {
        const message = bytes(v.message);
        assert.equal(message.length, v.message_length);
        const mac = new AesCmac(bytes(v.key));
        assert.equal(hex(mac.compute([message])), v.mac);
        assert.equal(hex(mac.compute(splitRandomly(message))), v.mac, 'split into parts');
        assert.equal(hex(referenceCmac(bytes(v.key), message)), v.mac, 'reference');
        mac.dispose();
      } catch (error: unknown) {
        throw new Error(`Vector ${label} failed`, { cause: error });
      }
    }
  });

  test('AesCmac.compute() truncated to 96 bits reproduces RFC 4494 examples 1-4', () => {
    assert.equal(rfc4494.vectors.length, 4);
    const mac = createAesCmac(bytes(rfc4494.vectors[0]!.key));
    for (const v of rfc4494.vectors) {
      const tag = mac.compute([bytes(v.message)]);
      assert.equal(tag.length, 16);
      assert.equal(hex(tag.subarray(0, 12)), v.mac96, v.id);
    }
    mac.dispose();
  });

  test('AesCmac.compute() detects a one-bit change of the message', () => {
    const v = rfc4493.vectors[3]!;
    const message = bytes(v.message);
    message[17] = message[17]! ^ 0x01;
    const mac = new AesCmac(bytes(v.key));
    assert.notEqual(hex(mac.compute([message])), v.mac);
    mac.dispose();
  });
});

describe('AesCmac cross-checks', () => {
  test('AesCmac matches the block-by-block reference for random keys and lengths', () => {
    assertMatchesReference((key) => new AesCmac(key), referenceCmac, true);
  });

  test('AesCmac agrees with openssl mac … CMAC (external oracle)', (t) => {
    // openssl is installed by scripts/ensure-test-deps.sh (npm test's pretest step).
    const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
    assert.equal(probe.status, 0, 'openssl is not installed: run scripts/ensure-test-deps.sh');
    t.diagnostic(probe.stdout.trim());
    const key = randomBytes(16);
    const mac = new AesCmac(key);
    for (const length of [0, 1, 16, 20, 40, 64, 333, 1400]) {
      const message = randomBytes(length);
      const run = spawnSync(
        'openssl',
        ['mac', '-cipher', 'AES-128-CBC', '-macopt', `hexkey:${hex(key)}`, 'CMAC'],
        { input: message, encoding: 'utf8' },
      );
      assert.equal(run.status, 0, run.stderr);
      assert.equal(
        hex(mac.compute([message])),
        run.stdout.trim().toLowerCase(),
        `length ${length}`,
      );
    }
    mac.dispose();
  });

  test('AesCmac.compute() gives independent results on one instance', () => {
    assertIndependentResults(new AesCmac(randomBytes(16)), 50, 7);
  });
});

describe('AesCmac lifecycle and key hygiene', () => {
  test('AesCmac constructor validates the key', () => {
    for (const length of [0, 15, 17, 24, 32]) {
      assert.throws(() => new AesCmac(new Uint8Array(length)), RangeError, `length ${length}`);
    }
    assert.throws(() => new AesCmac('00'.repeat(16) as unknown as Uint8Array), TypeError);
  });

  test('AesCmac.compute() rejects parts that are not Uint8Array', () => {
    const mac = new AesCmac(new Uint8Array(16));
    assert.throws(() => mac.compute(['abc' as unknown as Uint8Array]), TypeError);
    mac.dispose();
  });

  test('AesCmac.dispose() makes further use throw and is idempotent', () => {
    const mac = new AesCmac(randomBytes(16));
    mac.compute([new Uint8Array(3)]);
    mac.dispose();
    mac.dispose();
    assert.throws(
      () => mac.compute([new Uint8Array(3)]),
      (error: unknown) =>
        error instanceof TypeError &&
        (error as TypeError & { code?: string }).code === 'ERR_ESP_MAC_DISPOSED' &&
        /^Cannot compute AES-CMAC: /.test(error.message),
    );
  });

  test('AesCmac never shows its key or subkeys in inspect, JSON or String', () => {
    const s = load('rfc4493-cmac.json').subkeys!;
    const mac = new AesCmac(bytes(s.key));
    mac.compute([new Uint8Array(40)]);
    for (const view of views(mac)) {
      assert.ok(!/Uint8Array|Buffer|\d+, \d+/.test(view), `byte arrays visible in ${view}`);
      for (const secret of [s.key, s.l, s.k1, s.k2]) {
        assert.ok(!view.toLowerCase().includes(secret), `${secret} visible in ${view}`);
        assert.ok(!view.includes(secret.slice(0, 8)), `part of ${secret} visible in ${view}`);
      }
    }
    assert.equal(String(mac), '[object AesCmac]');
    mac.dispose();
  });
});
