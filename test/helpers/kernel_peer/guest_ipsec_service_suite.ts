/**
 * Runs INSIDE the kernel-peer guest as an UNPRIVILEGED user (setpriv, no capabilities), started by
 * guest_ipsec_service.ts: the shared behavioural suite (`_suite.ts`) against the IPsec service of
 * a root daemon on `TSNETD_IPSEC_SOCKET`. One {@link ServiceBackend} (one connection) is the
 * device; the suite's owners are managers on it, the daemon knows them all as this process's UID.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { IpSecManager, ServiceBackend } from '../../../src/ipsec/mod.ts';
import { runBehaviourSuite } from '../../ipsec/_suite.ts';

const path = process.env.TSNETD_IPSEC_SOCKET ?? '';
assert.notEqual(process.getuid?.(), 0, 'the service suite must run unprivileged');
// CAP_NET_ADMIN (bit 12) must be absent: only the daemon may program XFRM.
const effective = /^CapEff:\s+([0-9a-f]+)$/m.exec(
  readFileSync(`${process.env.TSNETD_GUEST_PROC ?? '/proc'}/self/status`, 'utf8'),
);
assert.ok(
  effective === null || (BigInt(`0x${effective[1]}`) & (1n << 12n)) === 0n,
  'the suite process must not hold CAP_NET_ADMIN',
);

runBehaviourSuite('service', async () => {
  const backend = await ServiceBackend.connect({ path });
  // The kernel's SPI scope, measured as the kernel suite does (through the daemon).
  const spi = 0x7e57_5c0f;
  assert.ok(await backend.reserveSpi('192.0.2.250', spi), 'the probe SPI is taken');
  const second = await backend.reserveSpi('192.0.2.251', spi);
  if (second) await backend.releaseSpi('192.0.2.251', spi);
  await backend.releaseSpi('192.0.2.250', spi);
  const spiScope = second ? 'per-destination' : 'global';
  process.stdout.write(`# kernel SPI scope: ${spiScope}, uid ${backend.uid}\n`);
  return {
    createManager: (options = {}) => IpSecManager.create({ ...options, backend }),
    close: () => backend.close(),
    spiScope,
    ownersShareKernelQuota: true,
    messageTimeoutMs: 3000,
  };
});
