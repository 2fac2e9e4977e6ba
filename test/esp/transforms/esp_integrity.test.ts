/**
 * The ICV input of separate integrity algorithms (RFC 4303 §2.8, §3.3.2.1): header ‖ IV ‖
 * ciphertext, plus the ESN high half as an implicit trailer (RFC 4303 §2.2.1, §3.3.3), truncated;
 * for every algorithm, checked against the primitive computed by the test over the concatenated
 * bytes.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { createAesCmac } from '../../../src/esp/transforms/aes_cmac.ts';
import { createAesXcbcMac } from '../../../src/esp/transforms/aes_xcbc_mac.ts';
import {
  BlockMacIntegrity,
  type EspIntegrity,
  HmacIntegrity,
} from '../../../src/esp/transforms/esp_integrity.ts';

const DATA = Uint8Array.from({ length: 45 }, (_, i) => i * 3);
const ESN_HIGH = 0x01020304;

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function check(
  label: string,
  make: (esn: boolean) => EspIntegrity,
  full: (data: Uint8Array) => Uint8Array,
): void {
  for (const esn of [false, true]) {
    const mac = make(esn);
    const packet = new Uint8Array(DATA.length + mac.icvLength);
    packet.set(DATA);
    mac.sign(packet, DATA.length, ESN_HIGH);
    const input = esn ? concat(DATA, Uint8Array.of(1, 2, 3, 4)) : DATA;
    assert.deepEqual(
      [...packet.subarray(DATA.length)],
      [...full(input).subarray(0, mac.icvLength)],
      `${label} esn=${esn}`,
    );
    assert.ok(mac.verify(packet, DATA.length, ESN_HIGH));
    if (esn)
      assert.equal(mac.verify(packet, DATA.length, ESN_HIGH + 1), false, 'another high half fails');
    for (let i = 0; i < packet.length; i++) {
      const bad = Uint8Array.from(packet);
      bad[i]! ^= 0x20;
      assert.equal(mac.verify(bad, DATA.length, ESN_HIGH), false, `${label} byte ${i}`);
    }
    mac.dispose();
  }
}

test('HMAC ICVs cover the packet (+ ESN high half) and are truncated to the leftmost bytes', () => {
  for (const [hash, keyLength, icvs] of [
    ['md5', 16, [12, 16]],
    ['sha1', 20, [12, 20]],
    ['sha256', 32, [12, 16, 32]],
    ['sha384', 48, [24, 48]],
    ['sha512', 64, [32, 64]],
  ] as const) {
    const key = new Uint8Array(keyLength).fill(0x33);
    for (const icv of icvs) {
      check(
        `hmac ${hash}/${icv}`,
        (esn) => new HmacIntegrity(hash, key, icv, esn),
        (d) => createHmac(hash, key).update(d).digest(),
      );
    }
  }
});

test('AES-XCBC-MAC-96 and AES-CMAC-96 ICVs cover the packet (+ ESN high half)', () => {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  check(
    'xcbc',
    (esn) => new BlockMacIntegrity(createAesXcbcMac(key), 12, esn),
    (d) => {
      const m = createAesXcbcMac(key);
      return m.compute([d]);
    },
  );
  check(
    'cmac',
    (esn) => new BlockMacIntegrity(createAesCmac(key), 12, esn),
    (d) => {
      const m = createAesCmac(key);
      return m.compute([d]);
    },
  );
});
