/** Netlink framing: alignment, bounds checks, NLMSG_ERROR with extended ACK. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeAttributes,
  decodeNetlinkError,
  decodeNetlinkMessages,
  encodeAttributes,
  encodeNetlinkMessage,
  HOST_LITTLE_ENDIAN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_ERROR,
  withNetlinkHeader,
} from '../../src/sys/netlink/message.ts';

test('encodeAttributes() pads each value to 4 bytes with zeros', () => {
  const out = encodeAttributes([
    { type: 1, value: new Uint8Array([9]) },
    { type: 2, value: new Uint8Array([1, 2, 3, 4]) },
  ]);
  assert.equal(out.length, 16);
  if (HOST_LITTLE_ENDIAN)
    assert.equal(Buffer.from(out).toString('hex'), '05000100090000000800020001020304');
  assert.deepEqual(
    decodeAttributes(out).map((a) => [a.type, [...a.value]]),
    [
      [1, [9]],
      [2, [1, 2, 3, 4]],
    ],
  );
});

test('decodeAttributes() refuses an attribute that runs past its buffer', () => {
  const out = encodeAttributes([{ type: 1, value: new Uint8Array(8) }]);
  assert.throws(() => decodeAttributes(out.subarray(0, 10)), {
    name: 'MalformedNetlinkMessageError',
  });
  const bad = new Uint8Array([2, 0, 1, 0]); // nla_len 2 < header
  assert.throws(() => decodeAttributes(bad), { code: 'ERR_SYS_MALFORMED_MESSAGE' });
});

test('encodeNetlinkMessage() / decodeNetlinkMessages() round-trip several messages', () => {
  const a = encodeNetlinkMessage({
    type: 0x10,
    flags: 5,
    seq: 7,
    pid: 9,
    body: new Uint8Array([1, 2, 3]),
  });
  const b = encodeNetlinkMessage({ type: 3, flags: 2, seq: 7, body: new Uint8Array(4) });
  assert.equal(a.length, 20);
  const both = new Uint8Array([...a, ...b]);
  const [m1, m2] = decodeNetlinkMessages(both);
  assert.deepEqual([m1!.type, m1!.flags, m1!.seq, m1!.pid, m1!.payload.length], [0x10, 5, 7, 9, 4]);
  assert.deepEqual([m2!.type, m2!.seq], [3, 7]);
  assert.throws(() => decodeNetlinkMessages(both.subarray(0, 30)), {
    name: 'MalformedNetlinkMessageError',
  });
  assert.throws(() => decodeNetlinkMessages(new Uint8Array(3)), {
    name: 'MalformedNetlinkMessageError',
  });
  const stamped = decodeNetlinkMessages(withNetlinkHeader(a, { seq: 42, flags: 1 }))[0]!;
  assert.deepEqual([stamped.seq, stamped.flags], [42, 1]);
});

test('decodeNetlinkError() reads errno, the request header and the extended-ack text', () => {
  const request = encodeNetlinkMessage({
    type: 0x16,
    flags: 5,
    seq: 77,
    body: new Uint8Array(232),
  });
  const body = new Uint8Array(4 + 16);
  const dv = new DataView(body.buffer);
  dv.setInt32(0, -2, HOST_LITTLE_ENDIAN);
  body.set(request.subarray(0, 16), 4);
  const text = new TextEncoder().encode('No SPI available in the requested range\0');
  const message = encodeNetlinkMessage({
    type: NLMSG_ERROR,
    flags: NLM_F_CAPPED | NLM_F_ACK_TLVS,
    seq: 77,
    body,
    attributes: [{ type: 1, value: text }],
  });
  const reply = decodeNetlinkError(decodeNetlinkMessages(message)[0]!);
  assert.deepEqual(reply, {
    errno: 2,
    requestType: 0x16,
    requestSeq: 77,
    kernelMessage: 'No SPI available in the requested range',
  });
  const ack = encodeNetlinkMessage({
    type: NLMSG_ERROR,
    flags: NLM_F_CAPPED,
    body: new Uint8Array(20),
  });
  assert.equal(decodeNetlinkError(decodeNetlinkMessages(ack)[0]!).errno, 0);
  const short = encodeNetlinkMessage({ type: NLMSG_ERROR, flags: 0, body: new Uint8Array(8) });
  assert.throws(() => decodeNetlinkError(decodeNetlinkMessages(short)[0]!), {
    name: 'MalformedNetlinkMessageError',
  });
});
