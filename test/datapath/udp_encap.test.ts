/** Tests of RFC 3948 demultiplexing (`src/datapath/udp_encap.ts`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addNonEspMarker, classifyEncapDatagram } from '../../src/datapath/udp_encap.ts';

test('classifyEncapDatagram() recognises a NAT-keepalive only as exactly one 0xFF byte', () => {
  assert.equal(classifyEncapDatagram(Uint8Array.of(0xff)), 'keepalive');
  assert.equal(classifyEncapDatagram(Uint8Array.of(0xff, 0xff)), 'truncated');
  assert.equal(classifyEncapDatagram(Uint8Array.of(0xfe)), 'truncated');
});

test('classifyEncapDatagram() treats four leading zero bytes as the non-ESP marker (IKE)', () => {
  assert.equal(classifyEncapDatagram(new Uint8Array(4)), 'ike');
  assert.equal(classifyEncapDatagram(new Uint8Array(28)), 'ike');
  assert.equal(classifyEncapDatagram(Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1)), 'esp');
});

test('classifyEncapDatagram() calls anything else of at least 8 bytes ESP, shorter truncated', () => {
  assert.equal(classifyEncapDatagram(Uint8Array.of(0, 0, 1, 0, 0, 0, 0)), 'truncated');
  assert.equal(classifyEncapDatagram(Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 1)), 'esp');
  assert.equal(classifyEncapDatagram(new Uint8Array(0)), 'truncated');
});

test('addNonEspMarker() prepends four zero bytes and copies the message', () => {
  const msg = Uint8Array.of(1, 2, 3);
  assert.deepEqual(addNonEspMarker(msg), Uint8Array.of(0, 0, 0, 0, 1, 2, 3));
});
