/**
 * `IpSecManager.getStatistics()`: every counter key present (typed list), send-side counters
 * (packets and bytes per kind, failed sends by reason), each manager counting only its own
 * traffic on a shared backend (the backend keeps the totals), and `drop.not-applied` for ESP of
 * a known SA reaching a port whose socket does not hold that SA inbound (`drop.no-socket` only
 * when nothing listens on the port). Real UDP sockets on loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DATAPATH_COUNTERS } from '../../src/datapath/mod.ts';
import {
  DestinationMismatchError,
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  MessageTooLongError,
  TransformClosedError,
  UserspaceBackend,
} from '../../src/ipsec/mod.ts';
import { LO, plainSocket } from './_fixtures.ts';

/** ESP-in-UDP payload length of an AES-GCM-128 (8-byte IV, 16-byte ICV) packet. */
function gcmWireLength(payloadLength: number): number {
  const inner = 8 + payloadLength; // inner UDP header + payload
  return Math.ceil((inner + 2) / 4) * 4 + 8 + 8 + 16;
}

async function gcmTransform(ipsec: IpSecManager, remotePort?: number) {
  const encap = await ipsec.openUdpEncapsulationSocket();
  await using spi = await ipsec.allocateSecurityParameterIndex(LO);
  const t = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128),
    )
    .setIpv4Encapsulation(encap, remotePort ?? encap.getPort())
    .buildTransportModeTransform(LO, spi);
  return { encap, transform: t };
}

test('getStatistics() lists every counter key, 0 when nothing was counted', async () => {
  await using ipsec = await IpSecManager.create();
  const stats = ipsec.getStatistics();
  assert.deepEqual(Object.keys(stats).sort(), [...DATAPATH_COUNTERS, 'drop.queue-full'].sort());
  assert.ok(Object.values(stats).every((v) => v === 0));
  for (const key of ['tx.esp', 'tx.esp.bytes', 'tx.clear', 'tx.ike', 'tx.keepalive']) {
    assert.ok(key in stats, key);
  }
});

test('each manager counts its own traffic on a shared backend; sent packets and bytes per kind', async () => {
  const backend = new UserspaceBackend();
  try {
    await using a = await IpSecManager.create({ backend, ownerId: 'a' });
    await using b = await IpSecManager.create({ backend, ownerId: 'b' });
    const { encap, transform } = await gcmTransform(a);
    await using _t = transform;
    await using _e = encap;
    await using sender = a.createDatagramSocket('udp4');
    await using receiver = a.createDatagramSocket('udp4');
    const port = (await receiver.bind(0, LO)).port;
    await a.applyTransportModeTransform(sender, IpSecManager.DIRECTION_OUT, transform);
    await a.applyTransportModeTransform(receiver, IpSecManager.DIRECTION_IN, transform);
    let delivered = 0;
    receiver.on('message', () => delivered++);
    const sizes = [1, 20, 300];
    for (const n of sizes) await sender.send(new Uint8Array(n), port, LO);
    await using clear = b.createDatagramSocket('udp4');
    await using sink = await plainSocket();
    await clear.send('abc', sink.address().port, LO);
    await clear.send('defgh', sink.address().port, LO);
    const ike = Uint8Array.of(0, 0, 0, 0, 1, 2, 3, 4);
    await encap.send(ike, sink.address().port, LO);
    while (delivered < sizes.length) await delay(10);

    const sa = a.getStatistics();
    const sb = b.getStatistics();
    const espBytes = sizes.reduce((sum, n) => sum + gcmWireLength(n), 0);
    assert.equal(sa['tx.esp'], 3);
    assert.equal(sa['tx.esp.bytes'], espBytes);
    assert.equal(sa['rx.esp'], 3);
    assert.equal(sa['rx.esp.bytes'], espBytes);
    assert.equal(sa['rx.delivered'], 3);
    assert.equal(sa['rx.delivered.bytes'], 321);
    assert.equal(sa['tx.ike'], 1);
    assert.equal(sa['tx.ike.bytes'], ike.length);
    assert.equal(sa['tx.clear'], 0);
    assert.equal(sb['tx.clear'], 2);
    assert.equal(sb['tx.clear.bytes'], 8);
    for (const key of ['tx.esp', 'rx.esp', 'rx.delivered', 'tx.ike'] as const) {
      assert.equal(sb[key], 0, `b's ${key}`);
    }
    // The backend keeps the totals of every manager.
    const total = backend.statistics();
    assert.equal(total['tx.esp'], 3);
    assert.equal(total['tx.clear'], 2);
  } finally {
    await backend.close();
  }
});

test('failed sends are counted by reason (tx.drop.*) and nothing leaves', async () => {
  await using ipsec = await IpSecManager.create();
  const { encap, transform } = await gcmTransform(ipsec);
  await using _e = encap;
  await using socket = ipsec.createDatagramSocket('udp4');
  await socket.bind(0, LO);
  await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
  await assert.rejects(socket.send('x', 9, '127.0.0.2'), DestinationMismatchError);
  await assert.rejects(socket.send(new Uint8Array(65_500), 9, LO), MessageTooLongError);
  await transform.close();
  await assert.rejects(socket.send('x', 9, LO), TransformClosedError);
  const stats = ipsec.getStatistics();
  assert.equal(stats['tx.drop.destination-mismatch'], 1);
  assert.equal(stats['tx.drop.too-long'], 1);
  assert.equal(stats['tx.drop.transform-closed'], 1);
  assert.equal(stats['tx.esp'], 0);
  assert.equal(stats['tx.clear'], 0);
});

test('ESP for a socket without the SA inbound is drop.not-applied; for a port nobody listens on, drop.no-socket', async () => {
  await using ipsec = await IpSecManager.create();
  const { encap, transform } = await gcmTransform(ipsec);
  await using _t = transform;
  await using _e = encap;
  await using sender = ipsec.createDatagramSocket('udp4');
  await ipsec.applyTransportModeTransform(sender, IpSecManager.DIRECTION_OUT, transform);
  await using unprotected = ipsec.createDatagramSocket('udp4');
  const listening = (await unprotected.bind(0, LO)).port;
  // A port that was bound and released: nothing listens there now.
  const probe = await plainSocket();
  const free = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await sender.send('a', listening, LO);
  await sender.send('b', free, LO);
  const deadline = Date.now() + 2000;
  while (ipsec.getStatistics()['rx.esp'] !== 2 && Date.now() < deadline) await delay(10);
  const stats = ipsec.getStatistics();
  assert.equal(stats['drop.not-applied'], 1);
  assert.equal(stats['drop.no-socket'], 1);
  assert.equal(stats['rx.delivered'], 0);
});
