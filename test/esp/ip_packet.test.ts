/**
 * Tests of src/esp/ip_packet.ts. Expected packets were produced by scapy 2.5.0 (Debian
 * python3-scapy, `raw(IP(...)/UDP(...)/Raw(...))`), an implementation nobody here wrote, and
 * pasted as hex; RFC 1071 §3 gives the checksum arithmetic example.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildIpv4Packet,
  buildIpv6Packet,
  buildUdpDatagram,
  IP_PROTOCOL,
  IPV4_HEADER_LENGTH,
  IPV6_HEADER_LENGTH,
  internetChecksum,
  parseIpPacket,
  parseUdpDatagram,
  UDP_CHECKSUM_OFFSET,
  UDP_HEADER_LENGTH,
  udpChecksum,
} from '../../src/esp/ip_packet.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function v6(s: string): Uint8Array {
  // Only the forms used below: full groups around one '::'.
  const [head = '', tail = ''] = s.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

interface Case {
  readonly label: string;
  readonly version: 4 | 6;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  readonly identification?: number;
  readonly scapy: string;
}

const CASES: readonly Case[] = [
  {
    label: 'IPv4, even payload (12 bytes)',
    version: 4,
    src: Uint8Array.of(192, 0, 2, 1),
    dst: Uint8Array.of(198, 51, 100, 7),
    srcPort: 40000,
    dstPort: 40001,
    payload: text('hello world!'),
    identification: 0x1234,
    scapy: '450000281234000040117c55c0000201c63364079c409c410014491868656c6c6f20776f726c6421',
  },
  {
    label: 'IPv4, odd payload (3 bytes)',
    version: 4,
    src: Uint8Array.of(10, 0, 0, 1),
    dst: Uint8Array.of(10, 0, 0, 2),
    srcPort: 4500,
    dstPort: 4500,
    payload: Uint8Array.of(0xff, 0x01, 0x02),
    scapy: '4500001f00000000401166cc0a0000010a00000211941194000bc7abff0102',
  },
  {
    label: 'IPv4, empty payload',
    version: 4,
    src: Uint8Array.of(127, 0, 0, 1),
    dst: Uint8Array.of(127, 0, 0, 1),
    srcPort: 1,
    dstPort: 2,
    payload: new Uint8Array(0),
    scapy: '4500001c0000000040117ccf7f0000017f00000100010002000801d9',
  },
  {
    label: 'IPv4, checksum computing to 0 is sent as 0xffff',
    version: 4,
    src: Uint8Array.of(10, 1, 2, 3),
    dst: Uint8Array.of(10, 4, 5, 6),
    srcPort: 1000,
    dstPort: 2000,
    payload: Uint8Array.of(0xd9, 0x14),
    identification: 1,
    scapy: '4500001e0001000040115fc10a0102030a04050603e807d0000affffd914',
  },
  {
    label: 'IPv6, odd payload (5 bytes)',
    version: 6,
    src: v6('2001:db8::1'),
    dst: v6('2001:db8::2'),
    srcPort: 40000,
    dstPort: 40001,
    payload: text('abcde'),
    scapy:
      '60000000000d114020010db800000000000000000000000120010db80000000000000000000000029c409c41000d42166162636465',
  },
  {
    label: 'IPv6, even payload (32 bytes)',
    version: 6,
    src: v6('fe80::1'),
    dst: v6('ff02::1:2'),
    srcPort: 546,
    dstPort: 547,
    payload: hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
    scapy:
      '6000000000281140fe800000000000000000000000000001ff0200000000000000000000000100020222022300280cd1000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  },
  {
    label: 'IPv6, checksum computing to 0 is sent as 0xffff',
    version: 6,
    src: v6('::1'),
    dst: v6('::1'),
    srcPort: 1000,
    dstPort: 2000,
    payload: Uint8Array.of(0xf4, 0x20),
    scapy:
      '60000000000a1140000000000000000000000000000000010000000000000000000000000000000103e807d0000afffff420',
  },
];

function build(c: Case): Uint8Array {
  const udp = buildUdpDatagram({
    srcAddr: c.src,
    dstAddr: c.dst,
    srcPort: c.srcPort,
    dstPort: c.dstPort,
    payload: c.payload,
  });
  return c.version === 4
    ? buildIpv4Packet({
        src: c.src,
        dst: c.dst,
        protocol: IP_PROTOCOL.UDP,
        payload: udp,
        ...(c.identification === undefined ? {} : { identification: c.identification }),
      })
    : buildIpv6Packet({ src: c.src, dst: c.dst, nextHeader: IP_PROTOCOL.UDP, payload: udp });
}

describe('internetChecksum()', () => {
  test('matches the RFC 1071 §3 example (sum ddf2, checksum 220d)', () => {
    assert.equal(internetChecksum(hex('0001f203f4f5f6f7')), 0x220d);
  });
  test('pads an odd final byte with zero', () => {
    assert.equal(
      internetChecksum(hex('0001f203f4f5f6')),
      internetChecksum(hex('0001f203f4f5f600')),
    );
    assert.equal(internetChecksum(Uint8Array.of(0x01)), 0xfeff);
  });
  test('carries folded more than once over a long buffer', () => {
    const all = new Uint8Array(65535).fill(0xff);
    assert.equal(internetChecksum(all), 0x00ff);
  });
  test('the 32-bit word fast path equals a plain 16-bit big-endian sum (any length, any alignment)', () => {
    const reference = (b: Uint8Array): number => {
      let s = 0;
      for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
      if (b.length % 2 === 1) s += b[b.length - 1]! << 8;
      while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
      return ~s & 0xffff;
    };
    for (let t = 0; t < 3000; t++) {
      const length = (t * 7919) % 3000;
      const offset = t % 8;
      const buffer = new Uint8Array(length + offset);
      if (t % 5 === 0) buffer.fill(0xff);
      else crypto.getRandomValues(buffer);
      const view = buffer.subarray(offset);
      assert.equal(internetChecksum(view), reference(view), `length ${length}, offset ${offset}`);
    }
  });
});

describe('build and parse against scapy 2.5.0', () => {
  for (const c of CASES) {
    test(`buildUdpDatagram() + build IP packet reproduce scapy bytes: ${c.label}`, () => {
      assert.equal(toHex(build(c)), c.scapy);
    });
    test(`parseIpPacket() + parseUdpDatagram() read scapy bytes: ${c.label}`, () => {
      const bytes = hex(c.scapy);
      const ip = parseIpPacket(bytes);
      assert.ok(ip);
      assert.equal(ip.version, c.version);
      assert.deepEqual(ip.src, c.src);
      assert.deepEqual(ip.dst, c.dst);
      assert.equal(ip.protocol, IP_PROTOCOL.UDP);
      assert.equal(ip.headerLength, c.version === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH);
      assert.equal(ip.payload.buffer, bytes.buffer, 'payload is a view');
      const udp = parseUdpDatagram(ip.payload);
      assert.ok(udp);
      assert.equal(udp.srcPort, c.srcPort);
      assert.equal(udp.dstPort, c.dstPort);
      assert.equal(udp.length, UDP_HEADER_LENGTH + c.payload.length);
      assert.deepEqual(udp.payload, c.payload);
      // udpChecksum over the segment with the field zeroed gives the transmitted value.
      const segment = ip.payload.slice();
      segment[UDP_CHECKSUM_OFFSET] = 0;
      segment[UDP_CHECKSUM_OFFSET + 1] = 0;
      assert.equal(udpChecksum(c.src, c.dst, segment), udp.checksum);
      if (c.version === 4) assert.equal(internetChecksum(bytes.subarray(0, 20)), 0);
    });
  }
  test('a checksum that computes to 0 is sent as 0xffff (RFC 768)', () => {
    const sent = CASES.filter((c) => c.label.includes('0xffff')).map(build);
    assert.equal(sent.length, 2);
    for (const p of sent) {
      const udp = parseUdpDatagram(parseIpPacket(p)!.payload);
      assert.equal(udp?.checksum, 0xffff);
    }
  });
});

describe('udpChecksum()', () => {
  test('refuses mixed or wrong-length addresses', () => {
    const seg = new Uint8Array(8);
    assert.throws(() => udpChecksum(new Uint8Array(4), new Uint8Array(16), seg), RangeError);
    assert.throws(() => udpChecksum(new Uint8Array(5), new Uint8Array(5), seg), RangeError);
  });
  test('changes when one payload bit flips (the sum is over the data)', () => {
    const a = Uint8Array.of(1, 2, 3, 4);
    const seg = buildUdpDatagram({
      srcAddr: a,
      dstAddr: a,
      srcPort: 1,
      dstPort: 2,
      payload: text('x'),
    });
    const before = udpChecksum(a, a, seg.slice().fill(0, 6, 8));
    seg[8] = seg[8]! ^ 1;
    assert.notEqual(udpChecksum(a, a, seg.slice().fill(0, 6, 8)), before);
  });
});

describe('builders validate their options', () => {
  const a4 = Uint8Array.of(10, 0, 0, 1);
  test('buildUdpDatagram() refuses a port out of range and a datagram over 65535 bytes', () => {
    const base = { srcAddr: a4, dstAddr: a4, srcPort: 1, dstPort: 2, payload: new Uint8Array(0) };
    assert.throws(() => buildUdpDatagram({ ...base, srcPort: 65536 }), RangeError);
    assert.throws(() => buildUdpDatagram({ ...base, dstPort: -1 }), RangeError);
    assert.throws(
      () => buildUdpDatagram({ ...base, payload: new Uint8Array(65535 - 7) }),
      RangeError,
    );
    assert.equal(buildUdpDatagram({ ...base, payload: new Uint8Array(65535 - 8) }).length, 65535);
  });
  test('buildIpv4Packet() refuses IPv6 addresses, bad protocol and oversize payload', () => {
    const base = { src: a4, dst: a4, protocol: 17, payload: new Uint8Array(0) };
    assert.throws(() => buildIpv4Packet({ ...base, src: new Uint8Array(16) }), RangeError);
    assert.throws(() => buildIpv4Packet({ ...base, protocol: 256 }), RangeError);
    assert.throws(() => buildIpv4Packet({ ...base, ttl: 1.5 }), RangeError);
    assert.throws(
      () => buildIpv4Packet({ ...base, payload: new Uint8Array(65535 - 19) }),
      RangeError,
    );
  });
  test('buildIpv6Packet() refuses IPv4 addresses and oversize payload', () => {
    const a6 = new Uint8Array(16);
    const base = { src: a6, dst: a6, nextHeader: 50, payload: new Uint8Array(0) };
    assert.throws(() => buildIpv6Packet({ ...base, dst: a4 }), RangeError);
    assert.throws(() => buildIpv6Packet({ ...base, hopLimit: 300 }), RangeError);
    assert.throws(() => buildIpv6Packet({ ...base, payload: new Uint8Array(65536) }), RangeError);
  });
  test('buildIpv4Packet() writes TTL, identification and an ESP protocol number', () => {
    const p = buildIpv4Packet({
      src: a4,
      dst: a4,
      protocol: 50,
      payload: hex('01'),
      ttl: 7,
      identification: 0xbeef,
    });
    assert.equal(p[8], 7);
    assert.equal((p[4]! << 8) | p[5]!, 0xbeef);
    assert.equal(parseIpPacket(p)?.protocol, IP_PROTOCOL.ESP);
    assert.equal(internetChecksum(p.subarray(0, 20)), 0);
  });
});

describe('parsers are bounds-checked', () => {
  const good4 = hex(CASES[0]!.scapy);
  const good6 = hex(CASES[4]!.scapy);
  test('parseIpPacket() returns undefined for every truncation', () => {
    for (const good of [good4, good6]) {
      for (let n = 0; n < good.length; n++) {
        assert.equal(parseIpPacket(good.subarray(0, n)), undefined, `length ${n}`);
      }
      assert.ok(parseIpPacket(good));
    }
  });
  test('parseIpPacket() ignores trailing bytes and bounds the payload by the length field', () => {
    const padded = new Uint8Array(good4.length + 6);
    padded.set(good4);
    assert.equal(parseIpPacket(padded)?.payload.length, good4.length - 20);
  });
  test('parseIpPacket() refuses version 5, IHL < 5 and total length < IHL', () => {
    const p = good4.slice();
    p[0] = 0x55;
    assert.equal(parseIpPacket(p), undefined);
    p[0] = 0x44;
    assert.equal(parseIpPacket(p), undefined);
    const q = good4.slice();
    q[2] = 0;
    q[3] = 19;
    assert.equal(parseIpPacket(q), undefined);
  });
  test('parseIpPacket() skips IPv4 options (IHL 6)', () => {
    const p = new Uint8Array(good4.length + 4);
    p.set(good4.subarray(0, 20));
    p.set(good4.subarray(20), 24);
    p[0] = 0x46;
    p[3] = p[3]! + 4;
    const parsed = parseIpPacket(p);
    assert.equal(parsed?.headerLength, 24);
    assert.deepEqual(parsed?.payload, good4.subarray(20));
  });
  test('parseUdpDatagram() refuses short input and length fields < 8 or beyond the input', () => {
    const udp = good4.subarray(20);
    for (let n = 0; n < udp.length; n++) {
      assert.equal(parseUdpDatagram(udp.subarray(0, n)), undefined, `length ${n}`);
    }
    const small = udp.slice();
    small[4] = 0;
    small[5] = 7;
    assert.equal(parseUdpDatagram(small), undefined);
    const exact = udp.slice();
    exact[5] = 8;
    assert.equal(parseUdpDatagram(exact)?.payload.length, 0);
  });
});
