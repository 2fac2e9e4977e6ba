/**
 * Tests of src/datapath/pcap_writer.ts: the header bytes against the libpcap format, and the
 * whole file read back by tshark 4.0.17 (an independent reader), which also validates the
 * IPv4 header and UDP checksums written by src/esp/ip_packet.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodePcap, LINKTYPE_RAW, PCAP_SNAPLEN } from '../../src/datapath/pcap_writer.ts';
import {
  buildIpv4Packet,
  buildIpv6Packet,
  buildUdpDatagram,
  IP_PROTOCOL,
} from '../../src/esp/ip_packet.ts';
import { runTsharkFields } from '../helpers/oracles/tshark.ts';

/** tshark's `*.checksum.status` values (epan/proto.h PROTO_CHECKSUM_E_*): 0 bad, 1 good. */
const BAD = '0';
const GOOD = '1';

const A4 = Uint8Array.of(192, 0, 2, 10);
const B4 = Uint8Array.of(198, 51, 100, 20);
const A6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1]);
const B6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 2]);

function udp4(payload: Uint8Array, srcPort: number, dstPort: number): Uint8Array {
  const seg = buildUdpDatagram({ srcAddr: A4, dstAddr: B4, srcPort, dstPort, payload });
  return buildIpv4Packet({ src: A4, dst: B4, protocol: IP_PROTOCOL.UDP, payload: seg });
}

function udp6(payload: Uint8Array, srcPort: number, dstPort: number): Uint8Array {
  const seg = buildUdpDatagram({ srcAddr: A6, dstAddr: B6, srcPort, dstPort, payload });
  return buildIpv6Packet({ src: A6, dst: B6, nextHeader: IP_PROTOCOL.UDP, payload: seg });
}

describe('encodePcap()', () => {
  test('writes the classic little-endian header with LINKTYPE_RAW and record headers', () => {
    const packet = Uint8Array.of(0x45, 1, 2);
    const file = encodePcap([{ timestampMs: 1_700_000_000_123.456, packet }]);
    const view = new DataView(file.buffer);
    assert.equal(view.getUint32(0, true), 0xa1b2c3d4);
    assert.equal(view.getUint16(4, true), 2);
    assert.equal(view.getUint16(6, true), 4);
    assert.equal(view.getUint32(16, true), PCAP_SNAPLEN);
    assert.equal(view.getUint32(20, true), LINKTYPE_RAW);
    assert.equal(view.getUint32(24, true), 1_700_000_000);
    assert.equal(view.getUint32(28, true), 123_456);
    assert.equal(view.getUint32(32, true), 3);
    assert.equal(view.getUint32(36, true), 3);
    assert.deepEqual(file.subarray(40), packet);
    assert.equal(file.length, 24 + 16 + 3);
  });

  test('an empty capture is only the file header', () => {
    assert.equal(encodePcap([]).length, 24);
  });

  test('refuses negative, non-finite and post-2106 timestamps and oversize packets', () => {
    const packet = new Uint8Array(1);
    for (const timestampMs of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32 * 1000]) {
      assert.throws(() => encodePcap([{ timestampMs, packet }]), RangeError, String(timestampMs));
    }
    assert.throws(
      () => encodePcap([{ timestampMs: 0, packet: new Uint8Array(PCAP_SNAPLEN + 1) }]),
      RangeError,
    );
  });

  test('tshark reports a corrupted UDP checksum and IPv4 header checksum as bad', async () => {
    const udpBad = udp4(Uint8Array.of(1, 2, 3), 40000, 40001);
    udpBad[20 + 6] = udpBad[20 + 6]! ^ 0x10;
    const ipBad = udp4(Uint8Array.of(1, 2, 3), 40000, 40001);
    ipBad[10] = ipBad[10]! ^ 0x01;
    const rows = await runTsharkFields({
      pcap: encodePcap([
        { timestampMs: 0, packet: udpBad },
        { timestampMs: 1, packet: ipBad },
      ]),
      preferences: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'],
      fields: ['ip.checksum.status', 'udp.checksum.status'],
    });
    assert.deepEqual(rows, [
      [GOOD, BAD],
      [BAD, GOOD],
    ]);
  });

  test('tshark reads every IPv4 and IPv6 packet back with good IP and UDP checksums', async () => {
    const payloads = [0, 1, 15, 16, 17, 1400].map((n) =>
      Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff),
    );
    const records = payloads.flatMap((p, i) => [
      { timestampMs: 1_000_000 + i * 1.5, packet: udp4(p, 40000 + i, 40100 + i) },
      { timestampMs: 1_000_000 + i * 1.5 + 0.25, packet: udp6(p, 40000 + i, 40100 + i) },
    ]);
    const rows = await runTsharkFields({
      pcap: encodePcap(records),
      preferences: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'],
      fields: [
        'frame.time_epoch',
        'ip.src',
        'ip.dst',
        'ipv6.src',
        'ipv6.dst',
        'ip.checksum.status',
        'udp.srcport',
        'udp.dstport',
        'udp.checksum.status',
        'data.data',
      ],
    });
    assert.equal(rows.length, records.length);
    rows.forEach((row, n) => {
      const [time, ipSrc, ipDst, ip6Src, ip6Dst, ipSum, sport, dport, udpSum, data] = row;
      const i = Math.floor(n / 2);
      const isV4 = n % 2 === 0;
      assert.equal(Number(time), records[n]!.timestampMs / 1000, `frame ${n + 1} time`);
      if (isV4) {
        assert.equal(ipSrc, '192.0.2.10');
        assert.equal(ipDst, '198.51.100.20');
        assert.equal(ipSum, GOOD, 'IPv4 header checksum good');
      } else {
        assert.equal(ip6Src, '2001:db8::1');
        assert.equal(ip6Dst, '2001:db8::2');
      }
      assert.equal(sport, String(40000 + i));
      assert.equal(dport, String(40100 + i));
      assert.equal(udpSum, GOOD, `frame ${n + 1}: UDP checksum good`);
      assert.equal(data, Buffer.from(payloads[i]!).toString('hex'), `frame ${n + 1} payload`);
    });
  });
});
