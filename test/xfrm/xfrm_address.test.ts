/** xfrm_address_t text codec, checked against node:net's own parser via SocketAddress round trips. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  formatXfrmAddress,
  parseXfrmAddress,
} from '../../src/xfrm/xfrm_address.ts';

test('parseXfrmAddress() writes IPv4 into the first 4 bytes and IPv6 into all 16', () => {
  const v4 = parseXfrmAddress('192.0.2.1');
  assert.equal(v4.family, AF_INET);
  assert.deepEqual([...v4.bytes], [192, 0, 2, 1, ...new Array(12).fill(0)]);
  const v6 = parseXfrmAddress('2001:db8::1');
  assert.equal(v6.family, AF_INET6);
  assert.equal(Buffer.from(v6.bytes).toString('hex'), '20010db8000000000000000000000001');
  assert.equal(
    Buffer.from(parseXfrmAddress('::ffff:192.0.2.1').bytes).toString('hex'),
    '00000000000000000000ffffc0000201',
  );
  assert.equal(
    Buffer.from(parseXfrmAddress('1:2:3:4:5:6:7:8').bytes).toString('hex'),
    '00010002000300040005000600070008',
  );
  assert.equal(
    Buffer.from(parseXfrmAddress('fe80::').bytes).toString('hex'),
    'fe800000000000000000000000000000',
  );
  assert.equal(parseXfrmAddress('').family, AF_UNSPEC);
});

test('parseXfrmAddress() refuses names, prefixes and zone ids', () => {
  for (const bad of ['www.example.com', '2001::/64', 'fe80::1%eth0', '256.0.0.1', '1.2.3']) {
    assert.throws(() => parseXfrmAddress(bad), TypeError, bad);
  }
});

test('formatXfrmAddress() gives RFC 5952 text and round-trips', () => {
  for (const text of [
    '2001:db8::1',
    '::',
    '::1',
    '1:0:0:2::3',
    '2001:db8:0:1:1:1:1:1',
    'fe80::',
    '192.0.2.1',
  ]) {
    const a = parseXfrmAddress(text);
    assert.equal(formatXfrmAddress(a.bytes, a.family), text);
  }
  assert.equal(formatXfrmAddress(new Uint8Array(16), AF_UNSPEC), '');
});
