/**
 * Cost of the IPsec service boundary (`node --import tsx bench/ipsec_service.bench.ts`): per-
 * operation latency of allocate SPI + build transform + apply (OUT and IN) to a bound UDP socket,
 * and of closing them again, through the service (an unprivileged-style client, the daemon in its
 * own process, one Unix-socket round trip per kernel call) vs the in-process kernel backend.
 *
 * Needs a kernel with ESP. On a machine without (like the development hosts), it boots the
 * kernel-peer guest (Debian kernel under qemu, test/helpers/kernel_peer.ts) and runs itself there:
 * absolute times are then those of an emulated CPU (TCG), the ratio is what carries over.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  IpSecAlgorithm,
  IpSecManager,
  IpSecTransform,
  KernelBackend,
  KernelBackendUnavailableError,
} from '../src/ipsec/mod.ts';

const ITERATIONS = Number(process.env.TSNETD_BENCH_ITERATIONS ?? 200);
const REPO = join(import.meta.dirname, '..');

async function measure(ipsec: IpSecManager): Promise<{ setup: number[]; teardown: number[] }> {
  const setup: number[] = [];
  const teardown: number[] = [];
  await using socket = ipsec.createDatagramSocket('udp4');
  await socket.bind(0, '127.0.0.1');
  for (let i = 0; i < ITERATIONS + 10; i++) {
    const t0 = performance.now();
    const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
    const transform = await new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(
        new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128),
      )
      .buildTransportModeTransform('127.0.0.1', spi);
    await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
    await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, transform);
    const t1 = performance.now();
    await ipsec.removeTransportModeTransforms(socket);
    await transform.close();
    await spi.close();
    const t2 = performance.now();
    if (i >= 10) {
      setup.push(t1 - t0);
      teardown.push(t2 - t1);
    }
  }
  return { setup, teardown };
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
const p99 = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length * 0.99)] ?? 0;

async function local(): Promise<void> {
  const backend = await KernelBackend.create();
  const inProcess = await (async () => {
    try {
      await using ipsec = await IpSecManager.create({ backend });
      return await measure(ipsec);
    } finally {
      await backend.close();
    }
  })();
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-bench-svc-'));
  const path = join(dir, 'ipsec');
  const daemon = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'test/helpers/kernel_peer/ipsec_service_daemon.ts'), path],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: daemon.stdout }).on('line', (l) => l === 'READY' && resolve());
      daemon.once('exit', (c) => reject(new Error(`daemon exited ${c}`)));
    });
    await using ipsec = await IpSecManager.create({ backend: 'service', servicePath: path });
    const service = await measure(ipsec);
    const row = (name: string, r: { setup: number[]; teardown: number[] }): string =>
      `| ${name} | ${median(r.setup).toFixed(2)} | ${p99(r.setup).toFixed(2)} | ${median(r.teardown).toFixed(2)} |`;
    console.log(`allocate + build + apply(OUT, IN) / remove + close, ${ITERATIONS} iterations, ms`);
    console.log('| backend | setup median | setup p99 | teardown median |');
    console.log('|---|---|---|---|');
    console.log(row('kernel, in-process (root)', inProcess));
    console.log(row('service (Unix socket to the daemon)', service));
    console.log(
      `service / in-process (setup median): ${(median(service.setup) / median(inProcess.setup)).toFixed(2)}`,
    );
  } finally {
    daemon.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function inGuest(): Promise<void> {
  const { KernelPeer } = await import('../test/helpers/kernel_peer.ts');
  console.log('no kernel ESP here: running in the kernel-peer guest (qemu TCG, emulated CPU)');
  const peer = await KernelPeer.start({ hostRoot: true });
  try {
    const r = await peer.hostExec(
      [process.execPath, '--import', 'tsx', join(REPO, 'bench/ipsec_service.bench.ts')],
      { cwd: REPO, timeoutMs: 15 * 60_000 },
    );
    process.stdout.write(r.stdout);
    if (r.code !== 0) throw new Error(`guest bench exited ${r.code}: ${r.stderr.slice(-2000)}`);
  } finally {
    await peer.stop();
  }
}

try {
  await (await KernelBackend.create()).close();
  await local();
} catch (err: unknown) {
  if (!(err instanceof KernelBackendUnavailableError)) throw err;
  await inGuest();
}
process.exit(0);
