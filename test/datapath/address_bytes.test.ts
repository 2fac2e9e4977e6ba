/** Tests of `src/datapath/address_bytes.ts` against node:net's own parser. */
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { test } from 'node:test';
import { addressBytes, normalizeAddress } from '../../src/datapath/address_bytes.ts';

function hex(address: string): string {
  return Buffer.from(addressBytes(address)).toString('hex');
}

test('addressBytes() encodes IPv4 and IPv6 literals in network order', () => {
  assert.equal(hex('127.0.0.1'), '7f000001');
  assert.equal(hex('::1'), '00000000000000000000000000000001');
  assert.equal(hex('2001:db8::1:2'), '20010db8000000000000000000010002');
  assert.equal(hex('::ffff:192.0.2.1'), '00000000000000000000ffffc0000201');
  assert.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  assert.throws(() => addressBytes('localhost'), TypeError);
});

test('addressBytes() agrees with node:net BlockList on every form of one address', () => {
  for (const form of ['2001:db8:0:0:0:0:0:1', '2001:DB8::1', '2001:db8::0:1']) {
    const list = new BlockList();
    list.addAddress(form, 'ipv6');
    assert.ok(list.check('2001:db8::1', 'ipv6'));
    assert.equal(hex(form), '20010db8000000000000000000000001');
    assert.equal(normalizeAddress(form), '2001:db8::1');
  }
});
