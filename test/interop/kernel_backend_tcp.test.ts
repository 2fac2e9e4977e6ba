/**
 * TCP over transport-mode ESP (GitHub issue 6, point 4; Android's
 * `applyTransportModeTransform(Socket, …)`): only the kernel backend can protect an
 * ordinary `net.Socket`. On the host (no ESP) the userspace backend refuses with
 * `UnsupportedOperationError`; in the kernel-peer guest (Debian kernel with ESP, the host's Node.js
 * chrooted, test/helpers/kernel_peer/guest_kernel_backend_tcp.ts) a TCP server and client on
 * 127.0.0.1 and ::1 exchange data both ways through kernel SAs, and the counters prove every TCP
 * segment went as ESP: the SAs' sequence numbers add up to the kernel's TCP OutSegs, inbound
 * equals outbound on each SA, and no packet failed a policy template (`XfrmInTmplMismatch` 0).
 *
 * @requires root (qemu and the kernel-peer image)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  UnsupportedOperationError,
} from '../../src/ipsec/mod.ts';
import { KernelPeer } from '../helpers/kernel_peer.ts';

const REPO = join(import.meta.dirname, '../..');
const GUEST_PROGRAM = join(REPO, 'test/helpers/kernel_peer/guest_kernel_backend_tcp.ts');
const GUEST_TIMEOUT_MS = 150_000;
const CLIENT_BYTES = 48 * 1024;
const SERVER_BYTES = 24 * 1024;

interface SaCounters {
  readonly tx: number;
  readonly rx: number;
  readonly packets: number;
  readonly bytes: number;
}
interface TcpCase {
  readonly address: string;
  readonly dataOk: boolean;
  readonly counters: Readonly<Record<string, number>>;
  readonly toServer: SaCounters;
  readonly toClient: SaCounters;
  readonly ms: number;
}

test('the userspace backend refuses a TCP socket, naming the kernel backend', async () => {
  await using ipsec = await IpSecManager.create();
  await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
  await using encap = await ipsec.openUdpEncapsulationSocket();
  await using transform = await new IpSecTransform.Builder(ipsec)
    .setAuthenticatedEncryption(
      new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128),
    )
    .setIpv4Encapsulation(encap, encap.getPort())
    .buildTransportModeTransform('127.0.0.1', spi);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new Socket();
  try {
    for (const socket of [server, client]) {
      await assert.rejects(
        ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform),
        (err: unknown) =>
          err instanceof UnsupportedOperationError &&
          err.code === 'ERR_IPSEC_UNSUPPORTED_OPERATION' &&
          /TCP socket/.test(err.message) &&
          /backend: 'kernel'/.test(err.message),
      );
      await assert.rejects(ipsec.removeTransportModeTransforms(socket), UnsupportedOperationError);
    }
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

let peer: KernelPeer;
before(async () => {
  peer = await KernelPeer.start({ hostRoot: true });
});
after(async () => {
  await peer?.stop();
});

test(
  'TCP on 127.0.0.1 and ::1 goes as ESP through kernel-backend transforms applied to net sockets',
  { timeout: GUEST_TIMEOUT_MS + 30_000 },
  async (t) => {
    const started = Date.now();
    const r = await peer.hostExec([process.execPath, '--import', 'tsx', GUEST_PROGRAM], {
      cwd: REPO,
      timeoutMs: GUEST_TIMEOUT_MS,
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (r.code !== 0 || line === undefined) {
      assert.fail(
        `guest TCP run exit ${r.code} after ${seconds} s\n${r.stdout.slice(-8000)}\nstderr:\n${r.stderr.slice(-4000)}`,
      );
    }
    const cases = JSON.parse(line.slice('RESULT '.length)) as TcpCase[];
    assert.deepEqual(
      cases.map((c) => c.address),
      ['127.0.0.1', '::1'],
    );
    for (const c of cases) {
      t.diagnostic(`${c.address} in ${c.ms} ms: ${JSON.stringify(c)}`);
      assert.ok(c.dataOk, `${c.address}: the data differs`);
      const k = c.counters;
      for (const bad of [
        'XfrmInTmplMismatch',
        'XfrmInNoPols',
        'XfrmInNoStates',
        'XfrmInStateProtoError',
        'XfrmInStateSeqError',
        'XfrmOutNoStates',
        'XfrmOutPolBlock',
        'XfrmAcquireError',
      ]) {
        assert.equal(k[bad] ?? 0, 0, `${c.address}: ${bad} rose`);
      }
      // Every segment TCP sent (handshake, data, ACKs, FINs) left through one of the two SAs,
      // and each SA accepted exactly what it sent (loopback: the same SA both ways).
      const segments = (k.TcpOutSegs ?? 0) + (k.TcpRetransSegs ?? 0);
      assert.ok(segments >= 8, `${c.address}: only ${segments} TCP segments`);
      assert.equal(c.toServer.tx + c.toClient.tx, segments, `${c.address}: segments ≠ ESP`);
      assert.equal(c.toServer.rx, c.toServer.tx, `${c.address}: client → server lost packets`);
      assert.equal(c.toClient.rx, c.toClient.tx, `${c.address}: server → client lost packets`);
      assert.ok(c.toServer.bytes > CLIENT_BYTES, `${c.address}: too few bytes to the server`);
      assert.ok(c.toClient.bytes > SERVER_BYTES, `${c.address}: too few bytes to the client`);
    }
    t.diagnostic(`guest run ${seconds} s (boot ${peer.bootMs} ms, kernel ${peer.kernelVersion})`);
  },
);
