/**
 * Live oracle: Debian tshark 4.0.17 (Wireshark's ESP dissector, packet-ipsec.c) decrypts and
 * authenticates what the ESP engine seals (GitHub issue 2).
 *
 * Every packet the engine seals goes into one pcap (src/datapath/pcap_writer.ts) in three
 * framings — IPv4 protocol 50, IPv4 UDP 4500→4500 (RFC 3948 ESP-in-UDP) and IPv6 next header 50
 * — and one tshark run gets every SA as a `-o uat:esp_sa:` record
 * (src/datapath/wireshark_esp_sa.ts), in a private config directory. For EVERY packet we assert:
 * SPI and sequence number, ICV reported good (`esp.icv_good` 1, `esp.icv_bad` 0), the decrypted
 * payload (`esp.contained_data`) equals what we sealed, and the whole decrypted text
 * (`esp.decrypted_data`) is payload ‖ 1, 2, … ‖ pad length ‖ next header with the RFC 4303 §2.4
 * alignment. Negatives: one flipped ICV bit per checked suite is reported bad.
 *
 * Payload lengths 0, 1, 15, 16, 17, 1400 (next header 253, RFC 3692) and one UDP datagram
 * (next header 17). Gaps of tshark 4.0.17 (docs/oracles.md): no ChaCha20-Poly1305, no
 * ESN, AES-XCBC/AES-CMAC only as "ANY 96 bit authentication [no checking]" (decryption checked,
 * ICV not).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { encodePcap, type PcapRecord } from '../../src/datapath/pcap_writer.ts';
import {
  formatEspSaWithKeysForWireshark,
  type WiresharkEspSaRecord,
} from '../../src/datapath/wireshark_esp_sa.ts';
import {
  buildIpv4Packet,
  buildIpv6Packet,
  buildUdpDatagram,
  IP_PROTOCOL,
} from '../../src/esp/ip_packet.ts';
import { EspOutboundSa, type EspSaOptions } from '../../src/esp/mod.ts';
import { runTsharkFields } from '../helpers/oracles/tshark.ts';

const NH_EXPERIMENTAL = 253;
const PAYLOAD_LENGTHS = [0, 1, 15, 16, 17, 1400] as const;
const NAT_T_PORT = 4500;
const SRC4 = Uint8Array.of(192, 0, 2, 1);
const DST4 = Uint8Array.of(192, 0, 2, 2);
const SRC6 = Uint8Array.from({ length: 16 }, (_, i) =>
  i === 0 ? 0x20 : i === 1 ? 0x01 : i === 15 ? 1 : 0,
);
const DST6 = Uint8Array.from({ length: 16 }, (_, i) =>
  i === 0 ? 0x20 : i === 1 ? 0x01 : i === 15 ? 2 : 0,
);

type Framing = 'ipv4' | 'ipv4-udp-4500' | 'ipv6';
const FRAMINGS: readonly Framing[] = ['ipv4', 'ipv4-udp-4500', 'ipv6'];

type SaAlgorithms = Omit<EspSaOptions, 'spi' | 'ivSource' | 'esn'>;

interface Suite {
  readonly label: string;
  readonly sa: SaAlgorithms;
  readonly alignment: number;
}

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 41 + i * 13 + 3) & 0xff);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const SUITES: readonly Suite[] = [
  ...(
    [
      ['hmac(sha1)', 20, 96],
      ['hmac(sha256)', 32, 128],
      ['hmac(sha384)', 48, 192],
      ['hmac(sha512)', 64, 256],
      ['hmac(md5)', 16, 96],
      ['hmac(sha256)', 32, 96],
    ] as const
  ).map(
    ([name, keyLength, icvBits], i): Suite => ({
      label: `AES-CBC-128 + ${name}-${icvBits}`,
      sa: {
        cipher: { name: 'cbc(aes)', key: bytes(16, i) },
        auth: { name, key: bytes(keyLength, 10 + i), truncationLengthBits: icvBits },
      },
      alignment: 16,
    }),
  ),
  {
    label: 'AES-CBC-256 + hmac(sha512)-256',
    sa: {
      cipher: { name: 'cbc(aes)', key: bytes(32, 20) },
      auth: { name: 'hmac(sha512)', key: bytes(64, 21), truncationLengthBits: 256 },
    },
    alignment: 16,
  },
  ...[64, 96, 128].flatMap((icvBits) =>
    [128, 256].map(
      (keyBits): Suite => ({
        label: `AES-GCM-${icvBits / 8} AES-${keyBits}`,
        sa: {
          aead: {
            name: 'rfc4106(gcm(aes))',
            key: bytes(keyBits / 8 + 4, icvBits + keyBits),
            icvLengthBits: icvBits,
          },
        },
        alignment: 4,
      }),
    ),
  ),
  {
    label: 'AES-CTR-128 + hmac(sha256)-128',
    sa: {
      cipher: { name: 'rfc3686(ctr(aes))', key: bytes(20, 30) },
      auth: { name: 'hmac(sha256)', key: bytes(32, 31), truncationLengthBits: 128 },
    },
    alignment: 4,
  },
  {
    label: 'NULL + hmac(sha256)-128',
    sa: {
      cipher: { name: 'ecb(cipher_null)', key: new Uint8Array(0) },
      auth: { name: 'hmac(sha256)', key: bytes(32, 32), truncationLengthBits: 128 },
    },
    alignment: 4,
  },
  ...(['xcbc(aes)', 'cmac(aes)'] as const).map(
    (name, i): Suite => ({
      label: `AES-CBC-128 + ${name}-96 (decryption only)`,
      sa: {
        cipher: { name: 'cbc(aes)', key: bytes(16, 40 + i) },
        auth: { name, key: bytes(16, 42 + i), truncationLengthBits: 96 },
      },
      alignment: 16,
    }),
  ),
];

interface Sent {
  readonly frame: number;
  readonly framing: Framing;
  readonly payload: Uint8Array;
  readonly nh: number;
  readonly seq: bigint;
  readonly flipped: boolean;
}

interface Plan {
  readonly suite: Suite;
  readonly spi: number;
  readonly record4: WiresharkEspSaRecord | undefined;
  readonly sent: Sent[];
  readonly error: unknown;
}

const FIELDS = [
  'frame.number',
  'esp.spi',
  'esp.sequence',
  'esp.icv_good',
  'esp.icv_bad',
  'esp.contained_data',
  'esp.decrypted_data',
] as const;

const plans: Plan[] = [];
const rowsByFrame = new Map<number, readonly string[]>();
let tsharkMs = 0;

function frame(framing: Framing, esp: Uint8Array): Uint8Array {
  switch (framing) {
    case 'ipv4':
      return buildIpv4Packet({ src: SRC4, dst: DST4, protocol: IP_PROTOCOL.ESP, payload: esp });
    case 'ipv4-udp-4500':
      return buildIpv4Packet({
        src: SRC4,
        dst: DST4,
        protocol: IP_PROTOCOL.UDP,
        payload: buildUdpDatagram({
          srcAddr: SRC4,
          dstAddr: DST4,
          srcPort: NAT_T_PORT,
          dstPort: NAT_T_PORT,
          payload: esp,
        }),
      });
    case 'ipv6':
      return buildIpv6Packet({ src: SRC6, dst: DST6, nextHeader: IP_PROTOCOL.ESP, payload: esp });
  }
}

before(async () => {
  const records: PcapRecord[] = [];
  const preferences = ['esp.enable_encryption_decode:TRUE', 'esp.enable_authentication_check:TRUE'];
  SUITES.forEach((suite, s) => {
    const spi = 0x7000_0100 + s;
    const sent: Sent[] = [];
    try {
      const record4 = formatEspSaWithKeysForWireshark({ protocol: 'IPv4', spi, ...suite.sa });
      const record6 = formatEspSaWithKeysForWireshark({ protocol: 'IPv6', spi, ...suite.sa });
      preferences.push(record4.uatOption, record6.uatOption);
      const out = new EspOutboundSa({
        ...suite.sa,
        spi,
        nextSequenceNumber: 0x1_0000n + BigInt(s) * 100n,
      });
      const items = [
        ...PAYLOAD_LENGTHS.map((n, i) => ({ payload: bytes(n, s * 16 + i), nh: NH_EXPERIMENTAL })),
        {
          payload: buildUdpDatagram({
            srcAddr: SRC4,
            dstAddr: DST4,
            srcPort: 40000,
            dstPort: 40001,
            payload: bytes(21, s),
          }),
          nh: IP_PROTOCOL.UDP,
        },
      ];
      for (const framing of FRAMINGS) {
        for (const { payload, nh } of items) {
          const esp = out.seal(payload, nh);
          records.push({ timestampMs: records.length, packet: frame(framing, esp) });
          sent.push({
            frame: records.length,
            framing,
            payload,
            nh,
            seq: out.lastSequenceNumber,
            flipped: false,
          });
        }
      }
      // Negative: the same kind of packet with one ICV bit flipped.
      const esp = out.seal(items[3]!.payload, items[3]!.nh);
      esp[esp.length - 1] = esp[esp.length - 1]! ^ 0x01;
      records.push({ timestampMs: records.length, packet: frame('ipv4', esp) });
      sent.push({
        frame: records.length,
        framing: 'ipv4',
        payload: items[3]!.payload,
        nh: items[3]!.nh,
        seq: out.lastSequenceNumber,
        flipped: true,
      });
      out.dispose();
      plans.push({ suite, spi, record4, sent, error: undefined });
    } catch (error: unknown) {
      plans.push({ suite, spi, record4: undefined, sent: [], error });
    }
  });
  const started = performance.now();
  const rows = await runTsharkFields({ pcap: encodePcap(records), preferences, fields: FIELDS });
  tsharkMs = performance.now() - started;
  assert.equal(rows.length, records.length, 'tshark printed one row per frame');
  for (const row of rows) rowsByFrame.set(Number(row[0]), row);
});

function planOf(s: number): Plan {
  const plan = plans[s]!;
  if (plan.error !== undefined) {
    throw new Error(`The engine cannot seal ${plan.suite.label}`, { cause: plan.error });
  }
  return plan;
}

/** payload ‖ 1, 2, …, n ‖ n ‖ next header, the RFC 4303 §2.4 default padding. */
function expectedDecrypted(payload: Uint8Array, nh: number, padLength: number): string {
  const out = new Uint8Array(payload.length + padLength + 2);
  out.set(payload);
  for (let i = 0; i < padLength; i++) out[payload.length + i] = i + 1;
  out[out.length - 2] = padLength;
  out[out.length - 1] = nh;
  return hex(out);
}

describe('tshark 4.0.17 oracle', () => {
  SUITES.forEach((suite, s) => {
    describe(suite.label, () => {
      test('tshark decrypts every packet to what we sealed, in all three framings', () => {
        const plan = planOf(s);
        const good = plan.sent.filter((p) => !p.flipped);
        assert.equal(good.length, FRAMINGS.length * (PAYLOAD_LENGTHS.length + 1));
        for (const p of good) {
          const label = `frame ${p.frame} (${p.framing}, payload ${p.payload.length} bytes)`;
          const row = rowsByFrame.get(p.frame);
          assert.ok(row, label);
          const [, spi, seq, , , contained = '', decrypted = ''] = row;
          assert.equal(spi, `0x${plan.spi.toString(16).padStart(8, '0')}`, label);
          assert.equal(seq, String(p.seq), label);
          assert.equal(contained, hex(p.payload), `${label}: decrypted payload`);
          // The trailer as tshark decrypted it: default padding, pad length, next header.
          assert.ok(decrypted.length >= 4, `${label}: no decrypted data`);
          const padLength = Number.parseInt(decrypted.slice(-4, -2), 16);
          assert.equal(
            decrypted,
            expectedDecrypted(p.payload, p.nh, padLength),
            `${label}: trailer`,
          );
          assert.equal(
            (p.payload.length + padLength + 2) % suite.alignment,
            0,
            `${label}: alignment`,
          );
        }
      });

      if (suite.label.includes('decryption only')) {
        test('tshark cannot check this ICV: neither good nor bad, even when flipped', () => {
          const plan = planOf(s);
          assert.equal(plan.record4?.authenticationChecked, false);
          for (const p of plan.sent) {
            const row = rowsByFrame.get(p.frame)!;
            assert.deepEqual([row[3], row[4]], ['0', '0'], `frame ${p.frame}`);
          }
        });
        return;
      }

      test('tshark reports the ICV good for every packet', () => {
        const plan = planOf(s);
        assert.equal(plan.record4?.authenticationChecked, true);
        for (const p of plan.sent.filter((x) => !x.flipped)) {
          const row = rowsByFrame.get(p.frame)!;
          assert.deepEqual([row[3], row[4]], ['1', '0'], `frame ${p.frame} (${p.framing})`);
        }
      });

      test('tshark reports one flipped ICV bit as bad', () => {
        const plan = planOf(s);
        const flipped = plan.sent.filter((p) => p.flipped);
        assert.equal(flipped.length, 1);
        const row = rowsByFrame.get(flipped[0]!.frame)!;
        assert.deepEqual([row[3], row[4]], ['0', '1']);
      });
    });
  });

  test('one tshark run covers everything well inside the budget', () => {
    assert.ok(tsharkMs < 30_000, `tshark took ${tsharkMs.toFixed(0)} ms`);
  });
});
