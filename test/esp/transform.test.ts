/** The algorithm table matches Android's IpSecAlgorithm. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALGORITHMS, isValidTruncationBits } from '../../src/esp/mod.ts';

test("ALGORITHMS holds exactly Android's 11 public algorithms plus the hidden NULL cipher", () => {
  assert.deepEqual([...ALGORITHMS.keys()].sort(), [
    'cbc(aes)',
    'cmac(aes)',
    'ecb(cipher_null)',
    'hmac(md5)',
    'hmac(sha1)',
    'hmac(sha256)',
    'hmac(sha384)',
    'hmac(sha512)',
    'rfc3686(ctr(aes))',
    'rfc4106(gcm(aes))',
    'rfc7539esp(chacha20,poly1305)',
    'xcbc(aes)',
  ]);
  assert.equal([...ALGORITHMS.values()].filter((a) => a.androidRequiredSdk === 0).length, 7);
  assert.equal([...ALGORITHMS.values()].filter((a) => a.androidRequiredSdk === 31).length, 4);
});

test("key lengths, truncation ranges, IV and block sizes are Android's and the RFCs'", () => {
  const row = (name: string) => ALGORITHMS.get(name)!;
  const table: [string, number[], [number, number] | undefined, number, number][] = [
    ['cbc(aes)', [128, 192, 256], undefined, 16, 16],
    ['rfc3686(ctr(aes))', [160, 224, 288], undefined, 8, 1],
    ['hmac(md5)', [128], [96, 128], 0, 1],
    ['hmac(sha1)', [160], [96, 160], 0, 1],
    ['hmac(sha256)', [256], [96, 256], 0, 1],
    ['hmac(sha384)', [384], [192, 384], 0, 1],
    ['hmac(sha512)', [512], [256, 512], 0, 1],
    ['xcbc(aes)', [128], [96, 96], 0, 1],
    ['cmac(aes)', [128], [96, 96], 0, 1],
    ['rfc4106(gcm(aes))', [160, 224, 288], [64, 128], 8, 1],
    ['rfc7539esp(chacha20,poly1305)', [288], [128, 128], 8, 1],
  ];
  for (const [name, keys, trunc, iv, block] of table) {
    const r = row(name);
    assert.deepEqual(r.keyLengthsBits, keys, name);
    assert.deepEqual(
      r.truncation === undefined ? undefined : [r.truncation.minBits, r.truncation.maxBits],
      trunc,
      name,
    );
    assert.equal(r.ivLength, iv, name);
    assert.equal(r.blockSize, block, name);
    assert.ok(Object.isFrozen(r));
  }
});

test('isValidTruncationBits() follows Android: inclusive ranges, no multiple-of-8 rule for HMAC, GCM 64/96/128 only', () => {
  const v = (name: string, bits: number) => isValidTruncationBits(ALGORITHMS.get(name)!, bits);
  assert.ok(v('hmac(sha512)', 256) && v('hmac(sha512)', 257) && v('hmac(sha512)', 512));
  assert.ok(!v('hmac(sha512)', 255) && !v('hmac(sha512)', 513));
  assert.ok(
    v('rfc4106(gcm(aes))', 64) && v('rfc4106(gcm(aes))', 96) && v('rfc4106(gcm(aes))', 128),
  );
  assert.ok(!v('rfc4106(gcm(aes))', 80) && !v('rfc4106(gcm(aes))', 0));
  assert.ok(!v('cbc(aes)', 128), 'encryption algorithms have no truncation');
  assert.ok(!v('hmac(sha256)', 128.5));
});
