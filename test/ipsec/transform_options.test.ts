/**
 * Per-transform anti-replay window and ESN (`IpSecTransform.Builder.setReplayWindowSize` /
 * `setEsn`, a tsnetd extension over the manager-wide options): the SA is created with the
 * builder's values and honours them on the wire. Two managers with their own backends (two
 * devices) talk through a plain UDP relay that can duplicate every ESP datagram. Loopback only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  type IpSecTransformBuilder,
} from '../../src/ipsec/mod.ts';
import { LO, plainSocket } from './_fixtures.ts';

type Configure = (b: IpSecTransformBuilder) => IpSecTransformBuilder;

/**
 * Sends `count` datagrams from a sender device to a receiver device; the relay forwards each ESP
 * datagram `copies` times. Returns what the receiver delivered and its statistics.
 */
async function exchange(options: {
  sender?: Configure;
  receiver?: Configure;
  copies: number;
  count: number;
}) {
  const key = randomBytes(20);
  const build = (ipsec: IpSecManager, configure: Configure | undefined) =>
    (configure ?? ((b) => b))(
      new IpSecTransform.Builder(ipsec).setAuthenticatedEncryption(
        new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, key, 128),
      ),
    );
  await using sender = await IpSecManager.create({ ownerId: 'sender' });
  await using receiver = await IpSecManager.create({ ownerId: 'receiver' });
  await using relay = await plainSocket();
  await using rxEncap = await receiver.openUdpEncapsulationSocket();
  await using txEncap = await sender.openUdpEncapsulationSocket();
  relay.on('message', (msg) => {
    for (let i = 0; i < options.copies; i++) relay.send(msg, rxEncap.getPort(), LO);
  });
  await using rxSpi = await receiver.allocateSecurityParameterIndex(LO);
  await using txSpi = await sender.allocateSecurityParameterIndex(LO, rxSpi.getSpi());
  await using inbound = await build(receiver, options.receiver)
    .setIpv4Encapsulation(rxEncap, relay.address().port)
    .buildTransportModeTransform(LO, rxSpi);
  await using outbound = await build(sender, options.sender)
    .setIpv4Encapsulation(txEncap, relay.address().port)
    .buildTransportModeTransform(LO, txSpi);
  await using rxSocket = receiver.createDatagramSocket('udp4');
  const { port } = await rxSocket.bind(0, LO);
  await receiver.applyTransportModeTransform(rxSocket, IpSecManager.DIRECTION_IN, inbound);
  await using txSocket = sender.createDatagramSocket('udp4');
  await sender.applyTransportModeTransform(txSocket, IpSecManager.DIRECTION_OUT, outbound);
  const delivered: string[] = [];
  rxSocket.on('message', (m) => delivered.push(String(m)));
  for (let i = 0; i < options.count; i++) await txSocket.send(`m${i}`, port, LO);
  const expected = options.count * options.copies;
  const deadline = Date.now() + 3000;
  while ((receiver.getStatistics()['rx.esp'] ?? 0) < expected && Date.now() < deadline) {
    await delay(10);
  }
  await delay(50);
  return {
    delivered,
    stats: receiver.getStatistics(),
    inbound: inbound.describe(),
    outbound: outbound.describe(),
  };
}

test("a transform takes its manager's window and ESN (default 4096, off) unless its builder sets them", async () => {
  await using ipsec = await IpSecManager.create({ replayWindowSize: 128, esn: true });
  await using encap = await ipsec.openUdpEncapsulationSocket();
  const gcm = () => new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128);
  await using s1 = await ipsec.allocateSecurityParameterIndex(LO);
  await using s2 = await ipsec.allocateSecurityParameterIndex(LO);
  const builder = new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(gcm())
    .setIpv4Encapsulation(encap, 4500);
  await using fromManager = await builder.buildTransportModeTransform(LO, s1);
  assert.equal(fromManager.describe().replayWindowSize, 128);
  assert.equal(fromManager.describe().esn, true);
  await using own = await builder
    .setReplayWindowSize(0)
    .setEsn(false)
    .buildTransportModeTransform(LO, s2);
  assert.equal(own.describe().replayWindowSize, 0);
  assert.equal(own.describe().esn, false);
  await using defaults = await IpSecManager.create();
  await using e2 = await defaults.openUdpEncapsulationSocket();
  await using s3 = await defaults.allocateSecurityParameterIndex(LO);
  await using t3 = await new IpSecTransform.Builder(defaults)
    .setAuthenticatedEncryption(gcm())
    .setIpv4Encapsulation(e2, 4500)
    .buildTransportModeTransform(LO, s3);
  assert.equal(t3.describe().replayWindowSize, 4096);
  assert.equal(t3.describe().esn, false);
});

test('replay window per transform: duplicates are dropped with the default window, delivered with setReplayWindowSize(0)', async () => {
  const strict = await exchange({ copies: 2, count: 3 });
  assert.deepEqual(strict.delivered, ['m0', 'm1', 'm2']);
  assert.equal(strict.stats['drop.replay'], 3);
  const open = await exchange({ copies: 2, count: 3, receiver: (b) => b.setReplayWindowSize(0) });
  assert.equal(open.inbound.replayWindowSize, 0);
  assert.deepEqual(open.delivered, ['m0', 'm0', 'm1', 'm1', 'm2', 'm2']);
  assert.equal(open.stats['drop.replay'], 0);
});

test('ESN per transform: both ends must agree (the ICV covers the high sequence bits)', async () => {
  const mismatch = await exchange({ copies: 1, count: 2, sender: (b) => b.setEsn(true) });
  assert.deepEqual(mismatch.delivered, []);
  assert.equal(mismatch.stats['drop.auth'], 2);
  const agreed = await exchange({
    copies: 1,
    count: 2,
    sender: (b) => b.setEsn(true),
    receiver: (b) => b.setEsn(true),
  });
  assert.equal(agreed.outbound.esn, true);
  assert.deepEqual(agreed.delivered, ['m0', 'm1']);
});
