/**
 * Regression tests for defects found in review of the IpSecManager API and the userspace data
 * path; each failed before its fix. Real UDP sockets on loopback only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  type Backend,
  type BackendSaConfig,
  IllegalArgumentError,
  IllegalStateError,
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  TransformClosedError,
  UserspaceBackend,
} from '../../src/ipsec/mod.ts';
import { LO, loopbackTransform as sharedLoopbackTransform } from './_fixtures.ts';
import { nextMessage } from './_suite.ts';

const gcm = (key: Uint8Array = randomBytes(36)) =>
  new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, key, 128);

const loopbackTransform = (ipsec: IpSecManager): Promise<IpSecTransform> =>
  sharedLoopbackTransform(ipsec, 'IPv4', (b) => b.setAuthenticatedEncryption(gcm()));

test('IpSecAlgorithm does not alias a Buffer key: zeroing the caller buffer or getKey() changes nothing', () => {
  const key = randomBytes(36); // a Buffer: Buffer#slice() is a view, not a copy
  const algorithm = gcm(key);
  const original = Uint8Array.from(key);
  key.fill(0);
  assert.deepEqual(algorithm.getKey(), original);
  algorithm.getKey().fill(0xaa);
  assert.deepEqual(algorithm.getKey(), original);
  assert.equal(Buffer.isBuffer(algorithm.getKey()), false);
});

test('IpSecService zeroes its copies of the keys once the backend has the SA', async () => {
  const inner = new UserspaceBackend();
  const seen: Uint8Array[] = [];
  const recording: Backend = {
    name: 'recording',
    reserveSpi: (d, s) => inner.reserveSpi(d, s),
    releaseSpi: (d, s) => inner.releaseSpi(d, s),
    createSa: (config: BackendSaConfig) => {
      for (const a of [config.aead, config.encryption, config.authentication]) {
        if (a !== undefined) seen.push(a.key);
      }
      return inner.createSa(config);
    },
    deleteSa: (sa) => inner.deleteSa(sa),
    openEncapSocket: (o) => inner.openEncapSocket(o),
    createDatagramSocket: (t) => inner.createDatagramSocket(t),
    applyToSocket: (s, d, sa) => inner.applyToSocket(s, d, sa),
    removeFromSocket: (s) => inner.removeFromSocket(s),
    getTransformState: (sa) => inner.getTransformState(sa),
    statistics: () => inner.statistics(),
    close: () => inner.close(),
  };
  try {
    await using ipsec = await IpSecManager.create({ backend: recording });
    await using t = await loopbackTransform(ipsec);
    assert.equal(seen.length, 1);
    assert.ok(
      seen.every((k) => k.every((b) => b === 0)),
      'key copy left in memory',
    );
    // …and the SA still works: the backend copied what it keeps.
    await using s = ipsec.createDatagramSocket('udp4');
    const { port } = await s.bind(0, LO);
    await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
    await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_IN, t);
    const got = nextMessage(s);
    await s.send('after zeroing', port, LO);
    assert.equal(String((await got)?.message), 'after zeroing');
  } finally {
    await inner.close();
  }
});

test('IpSecDatagramSocket.send() before bind() keeps the socket usable for protected traffic', async () => {
  await using ipsec = await IpSecManager.create();
  await using t = await loopbackTransform(ipsec);
  await using s = ipsec.createDatagramSocket('udp4');
  await s.send('clear text before any transform', 9, LO); // implicit bind
  const { port } = s.address(); // threw "the socket is not bound" before the fix
  await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
  await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_IN, t);
  const got = nextMessage(s);
  await s.send('protected', port, LO);
  assert.equal(String((await got)?.message), 'protected'); // was dropped as no-socket
});

test('closing the transform while send() waits for the implicit bind fails with TransformClosedError', async () => {
  await using ipsec = await IpSecManager.create();
  const t = await loopbackTransform(ipsec);
  await using s = ipsec.createDatagramSocket('udp4');
  await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
  const sending = s.send('x', 9, LO);
  const closing = t.close();
  await assert.rejects(sending, TransformClosedError);
  await closing;
  assert.equal(ipsec.getStatistics()['tx.clear'] ?? 0, 0);
});

test('IpSecDatagramSocket.bind() refuses ports dgram would wrap (-1 → 65535, 1.5 → 1) and stays bindable', async () => {
  await using ipsec = await IpSecManager.create();
  await using s = ipsec.createDatagramSocket('udp4');
  await assert.rejects(s.bind(-1, LO), IllegalArgumentError);
  await assert.rejects(s.bind(1.5, LO), TypeError);
  await assert.rejects(s.bind(0x10000, LO), IllegalArgumentError);
  assert.ok((await s.bind(0, LO)).port > 0);
});

test('sending to a host name is refused without a DNS query', async () => {
  await using ipsec = await IpSecManager.create();
  await using s = ipsec.createDatagramSocket('udp4');
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await assert.rejects(s.send('x', 9, 'not-an-ip'), /numeric IP address/);
  await assert.rejects(encap.send(new Uint8Array(8), 9, 'not-an-ip'), /numeric IP address/);
  assert.ok(!process.getActiveResourcesInfo().includes('GetAddrInfoReqWrap'));
});

test('manager.close() racing allocate/open/build releases what those calls created (shared backend)', async () => {
  const backend = new UserspaceBackend();
  try {
    const ipsec = await IpSecManager.create({ backend, ownerId: 'race' });
    const encap = await ipsec.openUdpEncapsulationSocket();
    const spi = await ipsec.allocateSecurityParameterIndex(LO);
    const allocating = ipsec.allocateSecurityParameterIndex(LO, 0x4242);
    const opening = ipsec.openUdpEncapsulationSocket();
    const building = new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(gcm())
      .setIpv4Encapsulation(encap, 4500)
      .buildTransportModeTransform(LO, spi);
    await ipsec.close();
    await assert.rejects(allocating, IllegalStateError);
    await assert.rejects(opening, IllegalStateError);
    await assert.rejects(building, IllegalStateError);
    await using again = await IpSecManager.create({ backend, ownerId: 'race' });
    assert.deepEqual(again.getQuotaUsage(), { spis: 0, transforms: 0, encapSockets: 0 });
    // the SPI was released too
    await using spi2 = await again.allocateSecurityParameterIndex(LO, 0x4242);
    assert.equal(spi2.getSpi(), 0x4242);
  } finally {
    await backend.close();
  }
});

test('close() of an SPI, transform or encap socket after manager.close() is a no-op (Android swallows)', async () => {
  const ipsec = await IpSecManager.create();
  const encap = await ipsec.openUdpEncapsulationSocket();
  const spi = await ipsec.allocateSecurityParameterIndex(LO);
  const spi2 = await ipsec.allocateSecurityParameterIndex(LO);
  const t = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(gcm())
    .setIpv4Encapsulation(encap, 4500)
    .buildTransportModeTransform(LO, spi2);
  await ipsec.close();
  await spi.close();
  await t.close();
  await encap.close();
  assert.equal(t.getResourceId(), -1);
});

test('manager.close() ends a pending for-await over a UdpEncapsulationSocket', async () => {
  const ipsec = await IpSecManager.create();
  const encap = await ipsec.openUdpEncapsulationSocket();
  const loop = (async () => {
    for await (const _ of encap) return 'message';
    return 'ended';
  })();
  await ipsec.close();
  assert.equal(await loop, 'ended');
});
