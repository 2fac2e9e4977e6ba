/**
 * Native crypto at the data path's edges: deleting an SA and closing the engine (what a manager
 * close does) free and cleanse the OpenSSL contexts — a scan of the process's memory finds the
 * key before and nowhere after — and closing the engine while sends are in flight and ESP is
 * arriving settles every send with a typed error or success, with no use of a freed context.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { UserspaceEngine, type UserspaceSa } from '../../src/datapath/mod.ts';
import { buildUdpDatagram, EspOutboundSa, espCryptoProvider } from '../../src/esp/mod.ts';
import { countInProcessMemory } from '../esp/helpers/memory_scan.ts';

const LO = '127.0.0.1';

async function engineWithSa(
  key: Uint8Array,
): Promise<{ engine: UserspaceEngine; sa: UserspaceSa; encapPort: number }> {
  const engine = new UserspaceEngine();
  const encap = await engine.openEncapSocket({ port: 0, family: 'IPv4', keepaliveIntervalMs: 0 });
  const sa = engine.createSa({
    spi: 0x4242,
    sourceAddress: LO,
    destinationAddress: LO,
    family: 'IPv4',
    aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 },
    encapSocket: encap,
    remotePort: encap.port,
    replayWindowSize: 4096,
    esn: false,
  });
  return { engine, sa, encapPort: encap.port };
}

/**
 * `engineWithSa(key)` plus two protected loopback sockets: `a` sends through the SA, `b` (bound
 * to `port`) receives through it.
 */
async function engineWithSocketPair(key: Uint8Array) {
  const { engine, sa, encapPort } = await engineWithSa(key);
  const a = engine.createProtectedSocket('udp4');
  const b = engine.createProtectedSocket('udp4');
  await a.bind(0, LO);
  const { port } = await b.bind(0, LO);
  engine.applyToSocket(a, 'out', sa);
  engine.applyToSocket(b, 'in', sa);
  return { engine, sa, encapPort, a, b, port };
}

for (const how of ['deleteSa', 'close'] as const) {
  test(`engine ${how}(): the OpenSSL contexts are cleansed and freed (native memory scan)`, async () => {
    if (espCryptoProvider() !== 'openssl-native') {
      // The node:crypto run (TSNETD_ESP_CRYPTO=node-crypto) has no native contexts to free:
      // prove that it is that run, and that its engine uses neither native ring.
      assert.equal(process.env.TSNETD_ESP_CRYPTO, 'node-crypto', 'native provider unavailable');
      const { engine, sa } = await engineWithSa(crypto.getRandomValues(new Uint8Array(20)));
      assert.equal(sa.encapSocket.txRing, undefined);
      assert.equal(sa.encapSocket.fd, -1);
      await engine.close();
      return;
    }
    const key = crypto.getRandomValues(new Uint8Array(20));
    const first = key.slice(0, 8);
    const second = key.slice(8, 16);
    const { engine, sa, a, b, port } = await engineWithSocketPair(key);
    key.fill(0);
    const got = new Promise((r) => b.once('message', r));
    await a.send(Buffer.from('x'), port, LO);
    await got;
    assert.ok(countInProcessMemory(first, second) >= 1, 'the scan finds the live key schedule');
    if (how === 'deleteSa') engine.deleteSa(sa);
    else await engine.close();
    assert.equal(countInProcessMemory(first, second), 0, 'key bytes left in process memory');
    await engine.close();
  });
}

test('closing the engine while sends are in flight and ESP arrives: typed errors, no crash', async () => {
  const key = randomBytes(20);
  const { engine, sa, encapPort, a, port } = await engineWithSocketPair(key);
  // A peer keeps sending ESP for the SA while it is deleted.
  const peer = new EspOutboundSa({
    spi: 0x4242,
    aead: { name: 'rfc4106(gcm(aes))', key, icvLengthBits: 128 },
    nextSequenceNumber: 1_000_000n,
  });
  const raw = createSocket('udp4');
  await new Promise<void>((r) => raw.bind(0, LO, r));
  const inner = buildUdpDatagram({
    srcAddr: Uint8Array.of(127, 0, 0, 1),
    dstAddr: Uint8Array.of(127, 0, 0, 1),
    srcPort: 9,
    dstPort: port,
    payload: randomBytes(32),
  });
  let flooding = true;
  const flood = (): void => {
    if (!flooding) return;
    for (let i = 0; i < 32; i++) raw.send(peer.seal(inner, 17), encapPort, LO);
    setImmediate(flood);
  };
  flood();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) {
    sends.push(a.send(randomBytes(64), port, LO));
    if (i === 1000) {
      engine.deleteSa(sa); // keys freed while sends of this turn are still queued
      sends.push(engine.close());
    }
  }
  const results = await Promise.allSettled(sends);
  await new Promise((r) => setTimeout(r, 50)); // ESP arriving after close
  flooding = false;
  raw.close();
  peer.dispose();
  const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
  const codes = new Set(
    results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : [])),
  );
  assert.ok(fulfilled >= 1001, 'sends before the delete went out');
  for (const code of codes) {
    assert.match(String(code), /^ERR_DATAPATH_/, `unexpected rejection ${String(code)}`);
  }
  assert.ok(codes.size >= 1, 'sends after the delete were refused');
});
