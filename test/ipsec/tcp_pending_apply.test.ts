/**
 * Writes issued on a TCP socket while an outbound apply is pending are held until the apply
 * settles; if the apply fails, what was written meanwhile never leaves (the socket is destroyed).
 * The success path (kernel backend) runs in the qemu guest: test/interop/kernel_backend_tcp.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  UnsupportedOperationError,
} from '../../src/ipsec/mod.ts';

/**
 * A userspace manager, a loopback AES-GCM transform (its outbound apply on a TCP socket fails) and
 * a connected loopback TCP client/server pair; `received` collects what the server reads.
 */
async function withTransformAndTcp(
  body: (env: {
    ipsec: IpSecManager;
    transform: IpSecTransform;
    client: Socket;
    received: Buffer[];
  }) => Promise<void>,
): Promise<void> {
  await using ipsec = await IpSecManager.create();
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
  await using transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128),
    )
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform('127.0.0.1', spi);

  const received: Buffer[] = [];
  const server = createServer((s) => s.on('data', (d: Buffer) => received.push(d)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client: Socket = connect(port, '127.0.0.1');
  client.on('error', () => {});
  await once(client, 'connect');
  try {
    await body({ ipsec, transform, client, received });
  } finally {
    client.destroy();
    server.close();
  }
}

test('a write issued during a failing outbound apply on a TCP socket never leaves', async () => {
  await withTransformAndTcp(async ({ ipsec, transform, client, received }) => {
    // Not awaited, as an app ported from Android's synchronous API might do.
    const applying = ipsec.applyTransportModeTransform(
      client,
      IpSecManager.DIRECTION_OUT,
      transform,
    );
    client.write('secret written while the apply is pending');
    await assert.rejects(applying, UnsupportedOperationError);
    await sleep(200);
    assert.equal(client.destroyed, true, 'the socket holding unprotected writes was destroyed');
    assert.deepEqual(received, [], 'nothing reached the peer');
  });
});

test('a failing outbound apply with nothing written leaves the TCP socket usable', async () => {
  await withTransformAndTcp(async ({ ipsec, transform, client, received }) => {
    await assert.rejects(
      ipsec.applyTransportModeTransform(client, IpSecManager.DIRECTION_OUT, transform),
      UnsupportedOperationError,
    );
    assert.equal(client.destroyed, false);
    client.write('clear text, knowingly');
    for (let i = 0; i < 50 && received.length === 0; i++) await sleep(20);
    assert.equal(Buffer.concat(received).toString(), 'clear text, knowingly');
  });
});
