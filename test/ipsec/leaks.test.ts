/**
 * Leak checks: after each group of operations that opens sockets and
 * timers and then closes everything, no handle or timer of ours remains
 * (`process.getActiveResourcesInfo()` compared before/after, with a short settle), including the
 * abrupt paths.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  ResourceUnavailableError,
  UserspaceBackend,
} from '../../src/ipsec/mod.ts';

const LO = '127.0.0.1';

function counts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/** Runs `body` and asserts that no handle, timer or request outlives it (1 s to settle). */
async function assertNoLeak(body: () => Promise<void>): Promise<void> {
  const settle = () => new Promise((r) => setTimeout(r, 50));
  await settle();
  const before = counts();
  await body();
  let now = counts();
  for (let i = 0; i < 20; i++) {
    await settle();
    now = counts();
    if ([...now].every(([k, n]) => n <= (before.get(k) ?? 0))) return;
  }
  assert.deepEqual(Object.fromEntries(now), Object.fromEntries(before), 'leaked resources');
}

async function transformOn(ipsec: IpSecManager) {
  const encap = await ipsec.openUdpEncapsulationSocket();
  const spi = await ipsec.allocateSecurityParameterIndex(LO);
  const t = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(36), 128),
    )
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform(LO, spi);
  return { encap, spi, t };
}

test('manager.close() with transforms applied, sockets bound and keepalives running leaks nothing', async () => {
  await assertNoLeak(async () => {
    const ipsec = await IpSecManager.create({ keepaliveIntervalMs: 10 });
    const { t } = await transformOn(ipsec);
    for (const type of ['udp4', 'udp4', 'udp4'] as const) {
      const s = ipsec.createDatagramSocket(type);
      const { port } = await s.bind(0, LO);
      await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
      await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_IN, t);
      await s.send('x', port, LO);
    }
    ipsec.createDatagramSocket('udp6'); // never bound
    await ipsec.close();
  });
});

test('a shared backend: manager.close() alone releases every socket and timer of the manager', async () => {
  const backend = new UserspaceBackend();
  try {
    await assertNoLeak(async () => {
      const ipsec = await IpSecManager.create({ backend, keepaliveIntervalMs: 10 });
      const { t } = await transformOn(ipsec);
      const s = ipsec.createDatagramSocket('udp4');
      await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
      await s.send('x', 9, LO);
      const racing = ipsec.openUdpEncapsulationSocket().catch(() => undefined);
      await ipsec.close();
      await racing;
    });
  } finally {
    await backend.close();
  }
});

test('closing a transform during a burst of sends leaks nothing and sends no clear text', async () => {
  await assertNoLeak(async () => {
    const ipsec = await IpSecManager.create();
    const { t } = await transformOn(ipsec);
    const s = ipsec.createDatagramSocket('udp4');
    const { port } = await s.bind(0, LO);
    await ipsec.applyTransportModeTransform(s, IpSecManager.DIRECTION_OUT, t);
    const sends = Array.from({ length: 200 }, () => s.send('y', port, LO).catch((e) => e));
    await t.close();
    await Promise.all(sends);
    assert.equal(ipsec.getStatistics()['rx.clear'] ?? 0, 0);
    await ipsec.close();
  });
});

test('openUdpEncapsulationSocket on a busy port fails and leaks nothing', async () => {
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, '0.0.0.0', r));
  try {
    await assertNoLeak(async () => {
      const ipsec = await IpSecManager.create();
      await assert.rejects(
        ipsec.openUdpEncapsulationSocket(blocker.address().port),
        ResourceUnavailableError,
      );
      assert.equal(ipsec.getQuotaUsage().encapSockets, 0);
      await ipsec.close();
    });
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});

test('hostile socket arguments leave no DNS request or half-bound socket behind', async () => {
  await assertNoLeak(async () => {
    const ipsec = await IpSecManager.create();
    const s = ipsec.createDatagramSocket('udp4');
    await s.bind(-1).catch(() => undefined);
    await s.send('x', 9, 'localhost').catch(() => undefined);
    await ipsec.close();
  });
});
