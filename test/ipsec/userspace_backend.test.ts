/**
 * Userspace-backend specifics (not part of the shared suite): plain ESP refused with a pointer to
 * the kernel backend, NAT-keepalives on the wire, per-reason drop counters, strict inbound policy.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { buildUdpDatagram } from '../../src/esp/ip_packet.ts';
import { EspOutboundSa } from '../../src/esp/mod.ts';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  UnsupportedOperationError,
} from '../../src/ipsec/mod.ts';

const LO = '127.0.0.1';
const KEY = Uint8Array.from({ length: 20 }, (_, i) => i);

async function plain(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, LO, r));
  return s;
}

function send(s: Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((r) => s.send(bytes, port, LO, () => r()));
}

const settle = () => new Promise((r) => setTimeout(r, 100));

test('UserspaceBackend refuses a transform without UDP encapsulation and names the kernel backend', async () => {
  await using ipsec = await IpSecManager.create();
  await using spi = await ipsec.allocateSecurityParameterIndex(LO);
  await assert.rejects(
    new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(new IpSecAlgorithm('rfc4106(gcm(aes))', KEY, 128))
      .buildTransportModeTransform(LO, spi),
    (err) => err instanceof UnsupportedOperationError && /kernel backend/.test(err.message),
  );
  assert.equal(ipsec.getQuotaUsage().transforms, 0);
});

test('UserspaceBackend sends NAT-keepalives (0xFF) to the peer of an outbound transform', async () => {
  await using ipsec = await IpSecManager.create({ keepaliveIntervalMs: 40 });
  await using encap = await ipsec.openUdpEncapsulationSocket();
  const observer = await plain();
  try {
    const got = new Promise<[Buffer, number]>((r) =>
      observer.once('message', (m, ri) => r([m, ri.port])),
    );
    await using spi = await ipsec.allocateSecurityParameterIndex(LO);
    await using t = await new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(new IpSecAlgorithm('rfc4106(gcm(aes))', KEY, 128))
      .setIpv4Encapsulation(encap, observer.address().port)
      .buildTransportModeTransform(LO, spi);
    await using s = ipsec.createDatagramSocket('udp4');
    await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
    const [msg, port] = await got;
    assert.deepEqual(msg, Buffer.of(0xff));
    assert.equal(port, encap.getPort());
    assert.ok((ipsec.getStatistics()['tx.keepalive'] ?? 0) >= 1);
  } finally {
    observer.close();
  }
});

test('UserspaceBackend counts per-packet failures by reason and never throws for them', async () => {
  await using ipsec = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using spi = await ipsec.allocateSecurityParameterIndex(LO);
  const spiValue = spi.getSpi();
  await using t = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(new IpSecAlgorithm('rfc4106(gcm(aes))', KEY, 128))
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(LO, spi);
  await using receiver = ipsec.createDatagramSocket('udp4');
  const port = (await receiver.bind(0, LO)).port;
  await ipsec.applyTransportModeTransform(receiver, IpSecManager.DIRECTION_IN, t);
  let delivered = 0;
  receiver.on('message', () => delivered++);
  const peer = await plain();
  const lo = Uint8Array.of(127, 0, 0, 1);
  const sealer = new EspOutboundSa({
    spi: spiValue,
    aead: { name: 'rfc4106(gcm(aes))', key: KEY, icvLengthBits: 128 },
  });
  try {
    const good = sealer.seal(
      buildUdpDatagram({
        srcAddr: lo,
        dstAddr: lo,
        srcPort: 1111,
        dstPort: port,
        payload: Uint8Array.of(1),
      }),
      17,
    );
    const tampered = Uint8Array.from(good);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    const badChecksum = buildUdpDatagram({
      srcAddr: lo,
      dstAddr: lo,
      srcPort: 1111,
      dstPort: port,
      payload: Uint8Array.of(2),
    });
    badChecksum[6] = (badChecksum[6] ?? 0) ^ 0x40;
    const wrongSpi = Uint8Array.from(good);
    wrongSpi[0] = (wrongSpi[0] ?? 0) ^ 0x80;
    await send(peer, tampered, encap.getPort());
    await send(peer, wrongSpi, encap.getPort());
    await send(peer, Uint8Array.of(0xff), encap.getPort());
    await send(peer, sealer.seal(badChecksum, 17), encap.getPort());
    await send(peer, Uint8Array.of(9, 9, 9), port);
    await send(peer, good, encap.getPort());
    await send(peer, good, encap.getPort());
    await settle();
    const stats = ipsec.getStatistics();
    assert.equal(stats['drop.auth'], 1);
    assert.equal(stats['drop.no-sa'], 1);
    assert.equal(stats['drop.keepalive'], 1);
    // An inner checksum over other (pre-NAT) addresses is accepted, as Linux does (RFC 3948 §3.1.2).
    assert.equal(stats['drop.bad-inner-udp'], 0);
    assert.equal(stats['drop.unprotected'], 1);
    assert.equal(stats['drop.replay'], 1);
    assert.equal(delivered, 2);
  } finally {
    sealer.dispose();
    peer.close();
  }
});

test('UserspaceBackend delivers ESP only to a socket that holds the SA inbound (strict policy)', async () => {
  await using ipsec = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using spi = await ipsec.allocateSecurityParameterIndex(LO);
  await using t = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(new IpSecAlgorithm('rfc4106(gcm(aes))', KEY, 128))
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(LO, spi);
  await using sender = ipsec.createDatagramSocket('udp4');
  await using receiver = ipsec.createDatagramSocket('udp4');
  const port = (await receiver.bind(0, LO)).port;
  await ipsec.applyTransportModeTransform(sender, IpSecManager.DIRECTION_OUT, t);
  let delivered = 0;
  receiver.on('message', () => delivered++);
  await sender.send('x', port, LO);
  await settle();
  assert.equal(delivered, 0);
  // A socket listens on that port but does not hold the SA inbound: not-applied, not no-socket.
  assert.equal(ipsec.getStatistics()['drop.not-applied'], 1);
  assert.equal(ipsec.getStatistics()['drop.no-socket'], 0);
  await ipsec.applyTransportModeTransform(receiver, IpSecManager.DIRECTION_IN, t);
  await sender.send('y', port, LO);
  await settle();
  assert.equal(delivered, 1);
});
