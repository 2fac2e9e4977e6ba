/**
 * The native rings keep no clear text: after a protected datagram was delivered, neither the
 * receive ring (where ESP is opened in place) nor the transmit ring (where the inner datagram is
 * built, then sealed in place) holds the payload's bytes. Real protected sockets on loopback; the
 * rings are searched byte for byte. On the node:crypto provider the rings are off, which the test
 * asserts instead.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { EspRxRing } from '../../src/datapath/esp_rx_ring.ts';
import { EspTxRing } from '../../src/datapath/esp_tx_ring.ts';
import { UserspaceEngine } from '../../src/datapath/mod.ts';
import { espCryptoProvider } from '../../src/esp/mod.ts';

const LO = '127.0.0.1';

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(
    Buffer.from(needle),
  );
}

test('no payload bytes stay in the receive or transmit ring after delivery', async () => {
  const engine = new UserspaceEngine();
  const encap = await engine.openEncapSocket({ port: 0, family: 'IPv4', keepaliveIntervalMs: 0 });
  if (espCryptoProvider() !== 'openssl-native') {
    assert.equal(process.env.TSNETD_ESP_CRYPTO, 'node-crypto', 'native provider unavailable');
    assert.equal(EspRxRing.shared(), undefined);
    assert.equal(encap.txRing, undefined);
    await engine.close();
    return;
  }
  const sa = engine.createSa({
    spi: 0x5151,
    sourceAddress: LO,
    destinationAddress: LO,
    family: 'IPv4',
    aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 },
    encapSocket: encap,
    remotePort: encap.port,
    replayWindowSize: 4096,
    esn: false,
  });
  const a = engine.createProtectedSocket('udp4');
  const b = engine.createProtectedSocket('udp4');
  await a.bind(0, LO);
  const { port } = await b.bind(0, LO);
  engine.applyToSocket(a, 'out', sa);
  engine.applyToSocket(b, 'in', sa);
  assert.ok(encap.txRing !== undefined, 'the native transport is used');
  const payloads = Array.from({ length: 8 }, () => randomBytes(48));
  const got: Buffer[] = [];
  const all = new Promise<void>((resolve) =>
    b.on('message', (msg: Buffer) => {
      got.push(msg);
      if (got.length === payloads.length) resolve();
    }),
  );
  await Promise.all(payloads.map((p) => a.send(p, port, LO)));
  await all;
  assert.deepEqual(
    got.map((m) => m.toString('hex')).sort(),
    payloads.map((p) => p.toString('hex')).sort(),
  );
  const rx = EspRxRing.shared();
  assert.ok(rx !== undefined);
  for (const payload of payloads) {
    for (const slot of rx.slots)
      assert.ok(!contains(slot, payload), 'clear text in the receive ring');
  }
  // The transmit ring is searched through its slots' common memory.
  const tx = EspTxRing.shared() as EspTxRing;
  const probe = tx.claim();
  assert.ok(probe !== undefined);
  const txMemory = new Uint8Array(probe.buffer);
  tx.abandon();
  for (const payload of payloads)
    assert.ok(!contains(txMemory, payload), 'clear text in the transmit ring');
  await engine.close();
});
