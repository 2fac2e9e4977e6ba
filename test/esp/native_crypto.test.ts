/**
 * The native crypto provider (OpenSSL through koffi): byte-identical to the node:crypto path for
 * every algorithm of Android's table (both directions, with and without ESN), the provider
 * chosen once and forced to node:crypto by the environment, lengths checked before native calls,
 * no use after free, and no key bytes left in process memory (native heaps included) after
 * dispose — while the same scan finds them before.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { resolveSaOptions } from '../../src/esp/esp_sa_options.ts';
import {
  ESP_CRYPTO_ENV,
  EspInboundSa,
  EspOutboundSa,
  espCryptoProvider,
  NativeCryptoError,
  SaDisposedError,
} from '../../src/esp/mod.ts';
import { createEspCipher } from '../../src/esp/transforms/create_esp_cipher.ts';
import { NativeAeadCipher } from '../../src/esp/transforms/native/native_aead.ts';
import { checkDataLength, MAX_DATA_LENGTH } from '../../src/esp/transforms/native/openssl.ts';
import { aeadCombinations, separateCombinations } from './helpers/algorithms.ts';
import { countInProcessMemory } from './helpers/memory_scan.ts';

const forced = process.env[ESP_CRYPTO_ENV] === 'node-crypto';

test('the provider is chosen once: openssl-native here unless forced to node-crypto', () => {
  assert.equal(espCryptoProvider(), forced ? 'node-crypto' : 'openssl-native');
  assert.equal(espCryptoProvider(), espCryptoProvider());
});

test(`${ESP_CRYPTO_ENV}=node-crypto forces the node:crypto path in a fresh process`, () => {
  const code =
    "import('./src/esp/mod.ts').then((m) => console.log(m.espCryptoProvider(), m.espNativeCryptoUnavailableReason()))";
  const run = (env: NodeJS.ProcessEnv): string =>
    spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      env,
      encoding: 'utf8',
    }).stdout.trim();
  assert.equal(
    run({ ...process.env, [ESP_CRYPTO_ENV]: 'node-crypto' }),
    `node-crypto ${ESP_CRYPTO_ENV}=node-crypto`,
  );
  assert.equal(run({ ...process.env, [ESP_CRYPTO_ENV]: '' }), 'openssl-native undefined');
});

describe('native and node:crypto ciphers are byte-identical', { skip: false }, () => {
  const combos = [...aeadCombinations(), ...separateCombinations(false)];
  for (const combo of combos) {
    for (const esn of [false, true]) {
      test(`${combo.label}${esn ? ' esn' : ''}`, () => {
        if (espCryptoProvider() !== 'openssl-native') {
          // Without the native provider there is nothing to compare: prove the fallback works.
          assert.equal(forced, true);
          return;
        }
        const resolved = resolveSaOptions({ spi: 0x01020304, esn, ...combo.options });
        const pairs = [
          [
            createEspCipher(resolved, 'seal', 'openssl-native'),
            createEspCipher(resolved, 'open', 'node-crypto'),
          ],
          [
            createEspCipher(resolved, 'seal', 'node-crypto'),
            createEspCipher(resolved, 'open', 'openssl-native'),
          ],
        ] as const;
        const ref = createEspCipher(resolved, 'seal', 'node-crypto');
        const nat = createEspCipher(resolved, 'seal', 'openssl-native');
        try {
          for (const length of [0, 1, 15, 16, 64, 1400]) {
            const block = Math.max(combo.blockSize, 4);
            const body = Math.ceil((length + 2) / block) * block;
            const total = 8 + combo.ivLength + body + combo.icvLength;
            const packet = new Uint8Array(total);
            packet.set(randomBytes(total - combo.icvLength), 0);
            // Only the CBC path needs whole blocks; the trailer bytes are arbitrary here.
            const a = packet.slice();
            const b = packet.slice();
            const plaintextEnd = total - combo.icvLength;
            ref.seal(a, plaintextEnd, 7);
            nat.seal(b, plaintextEnd, 7);
            assert.deepEqual(b, a, `seal of ${length} bytes`);
            for (const [sealer, opener] of pairs) {
              const p = packet.slice();
              sealer.seal(p, plaintextEnd, 9);
              const opened = opener.open(p, 9);
              assert.ok(opened !== undefined, 'opens across providers');
              assert.deepEqual(
                new Uint8Array(opened),
                packet.slice(8 + combo.ivLength, plaintextEnd),
              );
              if (combo.icvLength > 0) {
                p[p.length - 1]! ^= 1;
                assert.equal(opener.open(p, 9), undefined, 'negative twin: a flipped ICV bit');
                p[p.length - 1]! ^= 1;
                if (esn)
                  assert.equal(opener.open(p, 10), undefined, 'negative twin: wrong ESN high half');
              }
            }
          }
        } finally {
          for (const c of [ref, nat, ...pairs.flat()]) c.dispose();
        }
      });
    }
  }
});

describe('memory safety at the native boundary', () => {
  const native = (): boolean => espCryptoProvider() === 'openssl-native';

  test('lengths and ranges are checked in TypeScript before any native call', () => {
    assert.throws(() => checkDataLength(MAX_DATA_LENGTH + 1), RangeError);
    assert.throws(() => checkDataLength(-1), RangeError);
    assert.throws(() => checkDataLength(1.5), RangeError);
    if (!native()) return;
    const c = new NativeAeadCipher({
      algorithm: 'AES-128-GCM',
      key: randomBytes(16),
      salt: randomBytes(4),
      icvLength: 16,
      spi: 1,
      esn: false,
    });
    try {
      assert.throws(() => c.seal(new Uint8Array(40), 30, 0), RangeError); // no room for the ICV
      assert.throws(() => c.seal(new Uint8Array(40), 10, 0), RangeError); // end before the data
      assert.throws(
        () => c.seal(new Uint8Array(MAX_DATA_LENGTH + 100), MAX_DATA_LENGTH + 40, 0),
        RangeError,
      );
      assert.equal(c.open(new Uint8Array(20), 0), undefined); // shorter than IV + ICV
      assert.equal(c.open(new Uint8Array(MAX_DATA_LENGTH + 100), 0) === undefined, true);
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
    } finally {
      c.dispose();
    }
  });

  test('no use after free: a disposed cipher throws before any native call, dispose is idempotent', () => {
    if (!native()) return;
    const resolved = resolveSaOptions({
      spi: 5,
      aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 },
    });
    const c = createEspCipher(resolved, 'both', 'openssl-native');
    c.dispose();
    c.dispose();
    assert.throws(() => c.seal(new Uint8Array(64), 48, 0), NativeCryptoError);
    assert.throws(() => c.open(new Uint8Array(64), 0), NativeCryptoError);
    const sa = new EspOutboundSa({
      spi: 6,
      aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 },
    });
    sa.dispose();
    assert.throws(() => sa.seal(new Uint8Array(8), 17), SaDisposedError);
  });

  test('no use after free when an IvSource disposes its SA in the middle of a seal', () => {
    let sa: EspOutboundSa | undefined;
    sa = new EspOutboundSa({
      spi: 7,
      aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 },
      ivSource: {
        next: (n) => {
          sa?.dispose();
          return new Uint8Array(n);
        },
      },
    });
    assert.throws(() => sa?.seal(new Uint8Array(8), 17), SaDisposedError);
  });

  const scanned: readonly [string, (key: Uint8Array) => object, number][] = [
    [
      'AES-GCM-128',
      (key) => ({ aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 } }),
      20,
    ],
    [
      'ChaCha20-Poly1305',
      (key) => ({ aead: { name: 'rfc7539esp(chacha20,poly1305)', key, icvLengthBits: 128 } }),
      36,
    ],
    [
      'AES-CBC-128 + HMAC-SHA-256',
      (key) => ({
        cipher: { name: 'cbc(aes)', key: key.subarray(0, 16) },
        auth: { name: 'hmac(sha256)', key: key.subarray(16, 48), truncationLengthBits: 128 },
      }),
      48,
    ],
  ];
  for (const [label, options, length] of scanned) {
    test(`${label}: the key is in native memory while the SAs live, nowhere after dispose`, () => {
      if (!native()) return;
      const key = crypto.getRandomValues(new Uint8Array(length));
      const first = key.slice(0, 8);
      const second = key.slice(8, 16);
      const out = new EspOutboundSa({ spi: 0x77, ...options(key) });
      const inb = new EspInboundSa({ spi: 0x77, ...options(key) });
      key.fill(0);
      // Both directions work (the contexts really hold the key)...
      assert.ok(inb.open(out.seal(new Uint8Array(32), 17)).ok);
      // ...and the scan finds it: the test can fail.
      assert.ok(countInProcessMemory(first, second) >= 1, 'key schedule found while alive');
      out.dispose();
      inb.dispose();
      assert.equal(countInProcessMemory(first, second), 0, 'key bytes left after dispose');
      first.fill(0);
      second.fill(0);
    });
  }
});
