/**
 * Runs INSIDE the kernel-peer guest (Debian kernel with ESP), started by
 * test/interop/kernel_backend_suite.test.ts through `KernelPeer.hostExec` (the host's Node.js,
 * chrooted into the host root over virtio-9p): the shared behavioural suite (`_suite.ts`)
 * against the {@link KernelBackend}, plus what only a kernel backend can do — TCP over a
 * transport-mode transform. Not a `*.test.ts` file: on the host (no ESP) it cannot run.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket as NetSocket } from 'node:net';
import { release } from 'node:os';
import { test } from 'node:test';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  KernelBackend,
} from '../../../src/ipsec/mod.ts';
import {
  AF_INET,
  applySocketPolicy,
  encodeSocketPolicy,
  XFRM_POLICY_LOCALOK,
  XFRM_SHARE_UNIQUE,
} from '../../../src/xfrm/mod.ts';
import { getKey, runBehaviourSuite } from '../../ipsec/_suite.ts';

/** Linux ≥ 6.17 refuses an SPI held for another destination (docs/readme/xfrm.md). */
function kernelSpiScope(): 'per-destination' | 'global' {
  const [major = 0, minor = 0] = release()
    .split('.')
    .map((n) => Number.parseInt(n, 10));
  return major > 6 || (major === 6 && minor >= 17) ? 'global' : 'per-destination';
}

runBehaviourSuite('kernel', async () => {
  const backend = await KernelBackend.create();
  return {
    createManager: (options = {}) => IpSecManager.create({ ...options, backend }),
    close: () => backend.close(),
    spiScope: kernelSpiScope(),
  };
});

test('TCP over a transport-mode transform (kernel only): an echo on 127.0.0.1 through ESP-in-UDP', async () => {
  await using ipsec = await IpSecManager.create({ backend: 'kernel' });
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
  await using transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, getKey(288), 128),
    )
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform('127.0.0.1', spi);
  const spiValue = transform.describe().spi;
  const policy = (direction: 'in' | 'out'): Uint8Array =>
    encodeSocketPolicy(
      {
        direction,
        selector: { family: AF_INET },
        flags: XFRM_POLICY_LOCALOK,
        share: XFRM_SHARE_UNIQUE,
      },
      { destination: '127.0.0.1', source: '127.0.0.1', spi: spiValue, share: XFRM_SHARE_UNIQUE },
    );
  // Policies go on the connected sockets (a net.Socket has no descriptor before connect, and an
  // inbound policy on the listener would drop the clear-text handshake); every data segment and
  // every ACK after that is ESP. The accepted side applies its policies before echoing anything.
  const server = createServer((s: NetSocket) => {
    applySocketPolicy(s, policy('in'));
    applySocketPolicy(s, policy('out'));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    applySocketPolicy(client, policy('in'));
    applySocketPolicy(client, policy('out'));
    const payload = Buffer.alloc(100_000, 0x5a);
    const chunks: Buffer[] = [];
    let received = 0;
    const done = new Promise<void>((resolve) => {
      client.on('data', (d: Buffer) => {
        chunks.push(d);
        received += d.length;
        if (received >= payload.length) resolve();
      });
    });
    client.write(payload);
    await done;
    client.destroy();
    assert.deepEqual(Buffer.concat(chunks), payload);
    const state = await transform.requestIpSecTransformState();
    // The data of both directions went through the SA (inner bytes: TCP header + payload).
    assert.ok(state.getPacketCount() >= 4n, `packets ${state.getPacketCount()}`);
    assert.ok(state.getByteCount() > 2n * BigInt(payload.length), `bytes ${state.getByteCount()}`);
  } finally {
    server.close();
  }
});
