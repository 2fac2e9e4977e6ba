/**
 * The protected-payload limit both backends enforce (esp/payload_limits.ts, RFC 4303 §2 geometry)
 * and the one SPI text form. The limits are the sizes the kernel in the guest was shown to deliver
 * exactly (test/helpers/kernel_peer/guest_kernel_backend_review.ts); here they are pinned to the
 * arithmetic, and the userspace SA is checked to use the same function.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatapathStatistics, EncapSocket, UserspaceSa } from '../../src/datapath/mod.ts';
import {
  formatSpi,
  MAX_UDP_PAYLOAD_LENGTH,
  maxProtectedUdpPayloadLength,
  oversizedSendMessage,
} from '../../src/esp/mod.ts';

const GCM = { name: 'rfc4106(gcm(aes))', icvLengthBits: 128 } as const;
const CBC = { name: 'cbc(aes)' } as const;
const SHA256 = { truncationLengthBits: 128 } as const;

test('ESP-in-UDP and plain ESP limits, by family and algorithm shape', () => {
  // IPv4 ESP-in-UDP, AES-GCM-128: 65507 - 8 (SPI, seq) - 8 (IV) - 16 (ICV) = 65475, floor to 4
  // = 65472, - 2 (trailer) = 65470 inner, - 8 (inner UDP header) = 65462.
  assert.equal(
    maxProtectedUdpPayloadLength({ family: 'IPv4', encapsulated: true, aead: GCM }),
    65462,
  );
  assert.equal(
    maxProtectedUdpPayloadLength({ family: 'IPv4', encapsulated: true, cipher: CBC, auth: SHA256 }),
    65446,
  );
  // Plain ESP has the outer UDP header's 8 bytes more.
  assert.equal(
    maxProtectedUdpPayloadLength({ family: 'IPv4', encapsulated: false, aead: GCM }),
    65470,
  );
  assert.equal(
    maxProtectedUdpPayloadLength({ family: 'IPv6', encapsulated: false, aead: GCM }),
    65490,
  );
  assert.deepEqual(MAX_UDP_PAYLOAD_LENGTH, { IPv4: 65507, IPv6: 65527 });
});

test('the userspace SA takes its limit from the shared function', async () => {
  const statistics = new DatapathStatistics();
  const encapSocket = await EncapSocket.open({
    port: 0,
    family: 'IPv4',
    keepaliveIntervalMs: 0,
    onEsp: () => undefined,
    statistics,
  });
  try {
    const sa = new UserspaceSa({
      spi: 0x1234,
      sourceAddress: '127.0.0.1',
      destinationAddress: '127.0.0.1',
      family: 'IPv4',
      cipher: { name: 'cbc(aes)', key: new Uint8Array(16) },
      auth: { name: 'hmac(sha256)', key: new Uint8Array(32), truncationLengthBits: 128 },
      encapSocket,
      remotePort: 4500,
      replayWindowSize: 64,
      esn: false,
    });
    assert.equal(sa.maxPayloadLength, 65446);
    sa.markDeleted();
  } finally {
    await encapSocket.close();
  }
});

test('formatSpi writes 0x and eight hex digits of the unsigned value', () => {
  assert.equal(formatSpi(0xd1201d), '0x00d1201d');
  assert.equal(formatSpi(-1), '0xffffffff');
  assert.equal(formatSpi(0x100), '0x00000100');
});

test('both backends word an oversized send the same way', () => {
  assert.equal(
    oversizedSendMessage(65508, 65507, 'IPv4 UDP datagram'),
    'Cannot send: the message is 65508 bytes, at most 65507 fit one IPv4 UDP datagram',
  );
  assert.equal(
    oversizedSendMessage(65463, 65462, 'ESP-in-UDP datagram'),
    'Cannot send: the message is 65463 bytes, at most 65462 fit one ESP-in-UDP datagram with the outbound transform',
  );
  assert.equal(
    oversizedSendMessage(65471, 65470, 'ESP datagram'),
    'Cannot send: the message is 65471 bytes, at most 65470 fit one ESP datagram with the outbound transform',
  );
});
