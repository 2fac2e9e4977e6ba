/**
 * Tests of src/datapath/wireshark_esp_sa.ts: the exact record text, and that tshark 4.0.17
 * accepts every record we can produce (it refuses unknown names with "invalid value") and
 * decrypts with both forms (`-o uat:esp_sa:` and the profile file `esp_sa`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodePcap } from '../../src/datapath/pcap_writer.ts';
import {
  formatEspSaWithKeysForWireshark,
  WiresharkUnsupportedAlgorithmError,
} from '../../src/datapath/wireshark_esp_sa.ts';
import { buildIpv4Packet, buildUdpDatagram, IP_PROTOCOL } from '../../src/esp/ip_packet.ts';
import { handSealCbcHmac } from '../helpers/oracles/hand_esp.ts';
import { runTsharkFields } from '../helpers/oracles/tshark.ts';

const key = (n: number, start = 0): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => start + i);
const hexOf = (b: Uint8Array): string => `0x${Buffer.from(b).toString('hex')}`;

describe('formatEspSaWithKeysForWireshark()', () => {
  test('formats AES-CBC + HMAC-SHA-256-128 with addresses as eight quoted fields', () => {
    const r = formatEspSaWithKeysForWireshark({
      protocol: 'IPv4',
      srcAddress: '10.0.0.1',
      dstAddress: '10.0.0.2',
      spi: 0x2000,
      cipher: { name: 'cbc(aes)', key: key(16) },
      auth: { name: 'hmac(sha256)', key: key(32, 0x40), truncationLengthBits: 128 },
    });
    const expected = `"IPv4","10.0.0.1","10.0.0.2","0x00002000","AES-CBC [RFC3602]","${hexOf(key(16))}","HMAC-SHA-256-128 [RFC4868]","${hexOf(key(32, 0x40))}"`;
    assert.equal(r.fileLine, expected);
    assert.equal(r.uatOption, `uat:esp_sa:${expected}`);
    assert.equal(r.authenticationChecked, true);
  });

  test('formats AES-GCM with each ICV length, NULL authentication, wildcard addresses', () => {
    for (const [bits, octets] of [
      [64, 8],
      [96, 12],
      [128, 16],
    ] as const) {
      const r = formatEspSaWithKeysForWireshark({
        protocol: 'IPv6',
        spi: 0xfedcba98,
        aead: { name: 'rfc4106(gcm(aes))', key: key(20), icvLengthBits: bits },
      });
      assert.equal(
        r.fileLine,
        `"IPv6","*","*","0xfedcba98","AES-GCM with ${octets} octet ICV [RFC4106]","${hexOf(key(20))}","NULL",""`,
      );
    }
  });

  test('uses "ANY n bit authentication [no checking]" without the key for XCBC and CMAC', () => {
    for (const name of ['xcbc(aes)', 'cmac(aes)']) {
      const r = formatEspSaWithKeysForWireshark({
        protocol: 'IPv4',
        spi: 1,
        cipher: { name: 'cbc(aes)', key: key(16) },
        auth: { name, key: key(16, 0x80), truncationLengthBits: 96 },
      });
      assert.equal(r.authenticationChecked, false);
      assert.ok(r.fileLine.endsWith(',"ANY 96 bit authentication [no checking]",""'), r.fileLine);
    }
  });

  test('refuses what Wireshark 4.0 cannot describe, with a stable code', () => {
    const cases = [
      { aead: { name: 'rfc7539esp(chacha20,poly1305)', key: key(36), icvLengthBits: 128 } },
      { aead: { name: 'rfc4106(gcm(aes))', key: key(20), icvLengthBits: 32 } },
      { cipher: { name: 'cbc(des)', key: key(8) } },
      {
        cipher: { name: 'cbc(aes)', key: key(16) },
        auth: { name: 'hmac(sha256)', key: key(32), truncationLengthBits: 160 },
      },
    ];
    for (const c of cases) {
      assert.throws(
        () => formatEspSaWithKeysForWireshark({ protocol: 'IPv4', spi: 1, ...c }),
        (e: unknown) =>
          e instanceof WiresharkUnsupportedAlgorithmError &&
          e.code === 'ERR_DATAPATH_WIRESHARK_UNSUPPORTED_ALGORITHM' &&
          e.name === 'WiresharkUnsupportedAlgorithmError' &&
          e.message.startsWith('Cannot format SA for Wireshark: '),
      );
    }
  });

  test('refuses bad SPI, addresses that could break the quoting, empty keys, AEAD + auth', () => {
    const base = { protocol: 'IPv4', cipher: { name: 'cbc(aes)', key: key(16) } } as const;
    assert.throws(() => formatEspSaWithKeysForWireshark({ ...base, spi: 0 }), RangeError);
    assert.throws(() => formatEspSaWithKeysForWireshark({ ...base, spi: 2 ** 32 }), RangeError);
    assert.throws(
      () => formatEspSaWithKeysForWireshark({ ...base, spi: 1, srcAddress: '1.2.3.4","x' }),
      RangeError,
    );
    assert.throws(
      () =>
        formatEspSaWithKeysForWireshark({
          protocol: 'IPv4',
          spi: 1,
          cipher: { name: 'cbc(aes)', key: key(0) },
        }),
      TypeError,
    );
    assert.throws(
      () =>
        formatEspSaWithKeysForWireshark({
          protocol: 'IPv4',
          spi: 1,
          aead: { name: 'rfc4106(gcm(aes))', key: key(20), icvLengthBits: 128 },
          auth: { name: 'hmac(sha1)', key: key(20), truncationLengthBits: 96 },
        }),
      RangeError,
    );
  });
});

describe('tshark 4.0.17 accepts the records', () => {
  const SRC = Uint8Array.of(10, 0, 0, 1);
  const DST = Uint8Array.of(10, 0, 0, 2);
  const cipherKey = key(16, 0x10);
  const authKey = key(32, 0x30);

  function capture(spi: number, payload: Uint8Array): Uint8Array {
    const inner = buildUdpDatagram({
      srcAddr: SRC,
      dstAddr: DST,
      srcPort: 40000,
      dstPort: 40001,
      payload,
    });
    const esp = handSealCbcHmac({
      spi,
      seq: 1,
      iv: key(16, 0xa0),
      payload: inner,
      nextHeader: IP_PROTOCOL.UDP,
      cipherKey,
      authName: 'hmac(sha256)',
      authKey,
      icvLength: 16,
    });
    return buildIpv4Packet({ src: SRC, dst: DST, protocol: IP_PROTOCOL.ESP, payload: esp });
  }

  test('every name this module can emit is valid in one tshark run', async () => {
    const records = [
      { cipher: { name: 'cbc(aes)', key: key(16) } },
      { cipher: { name: 'rfc3686(ctr(aes))', key: key(20) } },
      { cipher: { name: 'ecb(cipher_null)', key: new Uint8Array(0) } },
      ...[64, 96, 128].map((icvLengthBits) => ({
        aead: { name: 'rfc4106(gcm(aes))', key: key(20), icvLengthBits },
      })),
      ...[
        ['hmac(md5)', 96],
        ['hmac(sha1)', 96],
        ['hmac(sha256)', 96],
        ['hmac(sha256)', 128],
        ['hmac(sha384)', 192],
        ['hmac(sha512)', 256],
        ['xcbc(aes)', 96],
        ['cmac(aes)', 96],
        ['hmac(sha512)', 64],
      ].map(([name, bits]) => ({
        cipher: { name: 'cbc(aes)', key: key(16) },
        auth: { name: String(name), key: key(16), truncationLengthBits: Number(bits) },
      })),
    ];
    const preferences = records.map(
      (r, i) =>
        formatEspSaWithKeysForWireshark({ protocol: 'IPv4', spi: 0x100 + i, ...r }).uatOption,
    );
    // A wrong name makes tshark exit non-zero ("invalid value"), which rejects here.
    const rows = await runTsharkFields({
      pcap: encodePcap([{ timestampMs: 0, packet: capture(0x9999, Uint8Array.of(1)) }]),
      preferences: ['esp.enable_encryption_decode:TRUE', ...preferences],
      fields: ['esp.spi'],
    });
    assert.deepEqual(rows, [['0x00009999']]);
  });

  test('a misspelt name is refused by tshark (the check above can fail)', async () => {
    const good = formatEspSaWithKeysForWireshark({
      protocol: 'IPv4',
      spi: 1,
      cipher: { name: 'cbc(aes)', key: key(16) },
    }).uatOption;
    await assert.rejects(
      runTsharkFields({
        pcap: encodePcap([]),
        preferences: [good.replace('AES-CBC [RFC3602]', 'AES-CBC')],
        fields: ['esp.spi'],
      }),
      /invalid value/,
    );
  });

  const sa = formatEspSaWithKeysForWireshark({
    protocol: 'IPv4',
    srcAddress: '10.0.0.1',
    dstAddress: '10.0.0.2',
    spi: 0x2000,
    cipher: { name: 'cbc(aes)', key: cipherKey },
    auth: { name: 'hmac(sha256)', key: authKey, truncationLengthBits: 128 },
  });
  const payload = new TextEncoder().encode('wireshark esp_sa');
  const fields = ['esp.spi', 'esp.icv_good', 'esp.icv_bad', 'udp.dstport', 'data.data'];
  const expected = [['0x00002000', '1', '0', '40001', Buffer.from(payload).toString('hex')]];

  test('the uat:esp_sa: option form decrypts and authenticates a packet', async () => {
    const rows = await runTsharkFields({
      pcap: encodePcap([{ timestampMs: 0, packet: capture(0x2000, payload) }]),
      preferences: [
        'esp.enable_encryption_decode:TRUE',
        'esp.enable_authentication_check:TRUE',
        sa.uatOption,
      ],
      fields,
    });
    assert.deepEqual(rows, expected);
  });

  test('the esp_sa file form decrypts and authenticates a packet', async () => {
    const rows = await runTsharkFields({
      pcap: encodePcap([{ timestampMs: 0, packet: capture(0x2000, payload) }]),
      preferences: ['esp.enable_encryption_decode:TRUE', 'esp.enable_authentication_check:TRUE'],
      espSaFileLines: [sa.fileLine],
      fields,
    });
    assert.deepEqual(rows, expected);
  });

  test('without the record tshark cannot decrypt (isolated config: nothing leaked)', async () => {
    const rows = await runTsharkFields({
      pcap: encodePcap([{ timestampMs: 0, packet: capture(0x2000, payload) }]),
      preferences: ['esp.enable_encryption_decode:TRUE', 'esp.enable_authentication_check:TRUE'],
      fields,
    });
    assert.deepEqual(rows, [['0x00002000', '', '', '', '']]);
  });
});
