/**
 * The one numeric-address parser (sys/inet_address.ts) and the two places that used to parse on
 * their own: the data path's `addressBytes` (UDP pseudo-header, pcaps) and the XFRM codec's
 * `parseXfrmAddress`. They disagreed on zone ids — the data path dropped `%eth0`, the codec
 * refused it; now both refuse it the same way, and the IpSecManager refuses it before either.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressBytes } from '../../src/datapath/mod.ts';
import { IllegalArgumentError, IpSecManager } from '../../src/ipsec/mod.ts';
import {
  formatInetAddress,
  normalizeAddress,
  parseInetAddress,
  sameAddress,
} from '../../src/sys/mod.ts';
import { AF_INET6, parseXfrmAddress } from '../../src/xfrm/mod.ts';

const CASES: ReadonlyArray<readonly [string, string]> = [
  ['192.0.2.1', 'c0000201'],
  ['::1', '00000000000000000000000000000001'],
  ['2001:db8::1', '20010db8000000000000000000000001'],
  ['2001:db8:0:0:1::', '20010db8000000000001000000000000'],
  ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
  ['64:ff9b::198.51.100.7', '0064ff9b0000000000000000c6336407'],
  ['fe80::1:2:3:4', 'fe800000000000000001000200030004'],
];

test('parseInetAddress gives the network-order bytes of every numeric form', () => {
  for (const [text, hex] of CASES) {
    assert.equal(Buffer.from(parseInetAddress(text).bytes).toString('hex'), hex, text);
  }
});

test('the data path and the XFRM codec produce the same bytes as the shared parser', () => {
  for (const [text, hex] of CASES) {
    assert.equal(Buffer.from(addressBytes(text)).toString('hex'), hex, `addressBytes ${text}`);
    const xfrm = Buffer.from(parseXfrmAddress(text).bytes).toString('hex');
    assert.equal(xfrm, hex.padEnd(32, '0'), `parseXfrmAddress ${text}`);
  }
});

test('a zone id is refused by both former parsers alike (they used to disagree)', () => {
  for (const text of ['fe80::1%lo', 'fe80::1%1', '::1%eth0']) {
    let fromDatapath: unknown;
    let fromXfrm: unknown;
    try {
      addressBytes(text);
    } catch (err: unknown) {
      fromDatapath = err;
    }
    try {
      parseXfrmAddress(text);
    } catch (err: unknown) {
      fromXfrm = err;
    }
    assert.ok(fromDatapath instanceof TypeError, `addressBytes accepted ${text}`);
    assert.ok(fromXfrm instanceof TypeError, `parseXfrmAddress accepted ${text}`);
    assert.equal(fromDatapath.message, fromXfrm.message);
    assert.match(fromDatapath.message, /zone id/);
  }
});

test('the IpSecManager refuses a scoped address before any backend sees it', async () => {
  await using ipsec = await IpSecManager.create();
  await assert.rejects(ipsec.allocateSecurityParameterIndex('fe80::1%lo'), (err: unknown) => {
    assert.ok(err instanceof IllegalArgumentError, String(err));
    assert.match(err.message, /^Scoped address not supported: fe80::1%lo/);
    return true;
  });
  // The same address without a zone is accepted.
  await using spi = await ipsec.allocateSecurityParameterIndex('fe80::1');
  assert.equal(spi.getDestinationAddress(), 'fe80::1');
});

test('formatInetAddress writes RFC 5952 text and round-trips', () => {
  assert.equal(
    formatInetAddress(parseInetAddress('2001:db8:0:0:0:0:0:1').bytes, 'IPv6'),
    '2001:db8::1',
  );
  assert.equal(
    formatInetAddress(parseInetAddress('2001:0:0:1:0:0:0:1').bytes, 'IPv6'),
    '2001:0:0:1::1',
  );
  assert.equal(
    formatInetAddress(parseInetAddress('2001:db8:1:1:1:1:0:1').bytes, 'IPv6'),
    '2001:db8:1:1:1:1:0:1',
  );
  assert.equal(formatInetAddress(parseInetAddress('10.0.0.1').bytes, 'IPv4'), '10.0.0.1');
  const bytes = parseXfrmAddress('2001:db8::7').bytes;
  assert.equal(formatInetAddress(bytes, 'IPv6'), '2001:db8::7');
  assert.equal(parseXfrmAddress('2001:db8::7').family, AF_INET6);
});

test('names, prefixes and garbage are refused; normalizeAddress compares canonically', () => {
  for (const bad of ['', 'localhost', '10.0.0.0/8', '1.2.3', '::g', '1.2.3.4.5']) {
    assert.throws(() => parseInetAddress(bad), TypeError, bad);
  }
  assert.equal(normalizeAddress('0:0::1'), '::1');
  assert.equal(normalizeAddress('not an address'), undefined);
  assert.ok(sameAddress('0:0::1', '::1'));
  assert.ok(sameAddress('fe80::1%lo', 'fe80::1'), 'a send destination may carry a zone');
  assert.ok(!sameAddress('::1', '::2'));
});
