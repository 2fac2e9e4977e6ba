/** Tests of `IpSecAlgorithm` validation in Android's order (IpSecAlgorithmTest). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { IllegalArgumentError, IpSecAlgorithm } from '../../src/ipsec/mod.ts';

const key = (bits: number) => new Uint8Array(bits / 8).fill(0xab);
const bad = (message: string) => ({ name: 'IllegalArgumentError', message });

test('IpSecAlgorithm refuses an unknown name first (testAlgoNameValidation)', () => {
  assert.throws(
    () => new IpSecAlgorithm('rot13', key(7 * 8), 1),
    bad('Unsupported algorithm: rot13'),
  );
});

test('IpSecAlgorithm without truncation refuses every authentication and AEAD algorithm (testNoTruncLen)', () => {
  for (const [name, bits] of [
    ['hmac(md5)', 128],
    ['hmac(sha1)', 160],
    ['hmac(sha256)', 256],
    ['hmac(sha384)', 384],
    ['hmac(sha512)', 512],
    ['rfc4106(gcm(aes))', 224],
  ] as const) {
    assert.throws(
      () => new IpSecAlgorithm(name, key(bits)),
      bad('Invalid truncation keyLength: 0'),
    );
  }
  assert.equal(new IpSecAlgorithm('cbc(aes)', key(256)).getTruncationLengthBits(), 0);
});

test('IpSecAlgorithm checks key length before truncation (testLenValidation, S algorithms)', () => {
  for (const bits of [128, 192, 256]) new IpSecAlgorithm('cbc(aes)', key(bits));
  assert.throws(
    () => new IpSecAlgorithm('cbc(aes)', key(384)),
    bad('Invalid key material keyLength: 384'),
  );
  for (const bits of [160, 224, 288]) {
    new IpSecAlgorithm('rfc3686(ctr(aes))', key(bits));
    assert.throws(
      () => new IpSecAlgorithm('rfc3686(ctr(aes))', key(bits + 8)),
      IllegalArgumentError,
    );
  }
  for (const name of ['xcbc(aes)', 'cmac(aes)']) {
    new IpSecAlgorithm(name, key(128), 96);
    assert.throws(
      () => new IpSecAlgorithm(name, key(136), 96),
      bad('Invalid key material keyLength: 136'),
    );
    assert.throws(
      () => new IpSecAlgorithm(name, key(128), 97),
      bad('Invalid truncation keyLength: 97'),
    );
  }
  new IpSecAlgorithm('rfc7539esp(chacha20,poly1305)', key(288), 128);
  assert.throws(
    () => new IpSecAlgorithm('rfc7539esp(chacha20,poly1305)', key(296), 128),
    IllegalArgumentError,
  );
  assert.throws(
    () => new IpSecAlgorithm('rfc7539esp(chacha20,poly1305)', key(288), 129),
    IllegalArgumentError,
  );
  assert.throws(
    () => new IpSecAlgorithm('hmac(sha256)', key(128), 1),
    bad('Invalid key material keyLength: 128'),
  );
});

test('IpSecAlgorithm truncation ranges are inclusive (testTruncLenValidation)', () => {
  new IpSecAlgorithm('hmac(sha512)', key(512), 256);
  new IpSecAlgorithm('hmac(sha512)', key(512), 512);
  new IpSecAlgorithm('hmac(sha512)', key(512), 257); // not a multiple of 8: Android accepts it too
  for (const t of [255, 513])
    assert.throws(() => new IpSecAlgorithm('hmac(sha512)', key(512), t), IllegalArgumentError);
  for (const t of [64, 96, 128]) new IpSecAlgorithm('rfc4106(gcm(aes))', key(160), t);
  assert.throws(() => new IpSecAlgorithm('rfc4106(gcm(aes))', key(160), 80), IllegalArgumentError);
});

test('IpSecAlgorithm.getSupportedAlgorithms() lists the 11 public algorithms', () => {
  const names = IpSecAlgorithm.getSupportedAlgorithms();
  assert.equal(names.size, 11);
  for (const n of [
    IpSecAlgorithm.CRYPT_AES_CBC,
    IpSecAlgorithm.CRYPT_AES_CTR,
    IpSecAlgorithm.AUTH_HMAC_MD5,
    IpSecAlgorithm.AUTH_HMAC_SHA1,
    IpSecAlgorithm.AUTH_HMAC_SHA256,
    IpSecAlgorithm.AUTH_HMAC_SHA384,
    IpSecAlgorithm.AUTH_HMAC_SHA512,
    IpSecAlgorithm.AUTH_AES_XCBC,
    IpSecAlgorithm.AUTH_AES_CMAC,
    IpSecAlgorithm.AUTH_CRYPT_AES_GCM,
    IpSecAlgorithm.AUTH_CRYPT_CHACHA20_POLY1305,
  ]) {
    assert.ok(names.has(n), n);
  }
  assert.ok(!names.has('ecb(cipher_null)'));
});

test('IpSecAlgorithm copies its key and never prints it', () => {
  const k = key(256);
  const algo = new IpSecAlgorithm('hmac(sha256)', k, 128);
  k.fill(0);
  assert.equal(algo.getKey()[0], 0xab);
  algo.getKey().fill(0);
  assert.equal(algo.getKey()[0], 0xab);
  assert.equal(String(algo), '{mName=hmac(sha256), mTruncLenBits=128}');
  for (const text of [inspect(algo), JSON.stringify(algo), String(algo)])
    assert.ok(!/ab,? ?ab|abab|171/.test(text), text);
});
