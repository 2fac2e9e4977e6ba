/**
 * Which SAs `flushOwnedSas` takes as tsnetd's (`isOwnedSa`): one reqid, a range of reqids (the
 * IPsec service daemon's owners), and a mark when given. The SAs are decoded from the encoder's
 * bytes (a kernel reply has the request's layout); the deleting itself runs against real kernels
 * in the guest suites.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeNetlinkMessages } from '../../src/sys/netlink/message.ts';
import { isOwnedSa } from '../../src/xfrm/flush_owned_sas.ts';
import { decodeSaMessage, encodeNewSaRequest, type XfrmMark } from '../../src/xfrm/messages.ts';

function sa(reqid: number, mark?: XfrmMark) {
  const request = encodeNewSaRequest({
    destination: '192.0.2.1',
    source: '192.0.2.2',
    spi: 0x1234,
    reqid,
    aead: { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20), icvLengthBits: 128 },
    ...(mark === undefined ? {} : { mark }),
  });
  const [message] = decodeNetlinkMessages(request);
  assert.ok(message !== undefined);
  return decodeSaMessage(message);
}

test('one reqid: that reqid only', () => {
  assert.equal(isOwnedSa(sa(1000), { reqid: 1000 }), true);
  assert.equal(isOwnedSa(sa(999), { reqid: 1000 }), false);
  assert.equal(isOwnedSa(sa(1001), { reqid: 1000 }), false);
});

test('a reqid range: both ends included, nothing outside', () => {
  const range = { reqid: 0x7473_0000, reqidLast: 0x7473_ffff };
  assert.equal(isOwnedSa(sa(0x7473_0000), range), true);
  assert.equal(isOwnedSa(sa(0x7473_0001), range), true);
  assert.equal(isOwnedSa(sa(0x7473_ffff), range), true);
  assert.equal(isOwnedSa(sa(0x7472_ffff), range), false);
  assert.equal(isOwnedSa(sa(0x7474_0000), range), false);
  assert.equal(isOwnedSa(sa(0), range), false);
});

test('with a mark: only SAs carrying exactly that mark', () => {
  const mark = { value: 0x42, mask: 0xff };
  assert.equal(isOwnedSa(sa(7, mark), { reqid: 7, mark }), true);
  assert.equal(isOwnedSa(sa(7), { reqid: 7, mark }), false);
  assert.equal(isOwnedSa(sa(7, { value: 0x42, mask: 0xf0 }), { reqid: 7, mark }), false);
  assert.equal(isOwnedSa(sa(7, mark), { reqid: 7 }), true);
});
