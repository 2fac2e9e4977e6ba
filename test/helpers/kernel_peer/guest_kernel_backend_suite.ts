/**
 * Runs INSIDE the kernel-peer guest (Debian kernel with ESP), started by
 * test/interop/kernel_backend_suite.test.ts through `KernelPeer.hostExec` (the host's Node.js,
 * chrooted into the host root over virtio-9p): the shared behavioural suite (`_suite.ts`)
 * against the {@link KernelBackend}. Not a `*.test.ts` file: on the host (no ESP) it cannot run.
 * (A TCP-over-transport-mode case hung in the guest and is not part of the run yet.)
 */

import assert from 'node:assert/strict';
import { IpSecManager, KernelBackend } from '../../../src/ipsec/mod.ts';
import { runBehaviourSuite } from '../../ipsec/_suite.ts';

/**
 * The kernel's SPI-uniqueness scope, measured: Linux 6.17 made SPIs unique across destinations
 * (ALLOCSPI → ENOENT), and the change was backported — Debian's 6.1.192 behaves so too — so the
 * version number cannot tell. One SPI is reserved for two TEST-NET destinations and released.
 */
async function kernelSpiScope(backend: KernelBackend): Promise<'per-destination' | 'global'> {
  const spi = 0x7e57_5c0e;
  assert.ok(await backend.reserveSpi('192.0.2.250', spi), 'the probe SPI is taken');
  try {
    const second = await backend.reserveSpi('192.0.2.251', spi);
    if (second) await backend.releaseSpi('192.0.2.251', spi);
    return second ? 'per-destination' : 'global';
  } finally {
    await backend.releaseSpi('192.0.2.250', spi);
  }
}

runBehaviourSuite('kernel', async () => {
  const backend = await KernelBackend.create();
  const spiScope = await kernelSpiScope(backend);
  process.stdout.write(`# kernel SPI scope: ${spiScope}\n`);
  return {
    createManager: (options = {}) => IpSecManager.create({ ...options, backend }),
    close: () => backend.close(),
    spiScope,
  };
});
