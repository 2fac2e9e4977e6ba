/**
 * Runs INSIDE the kernel-peer guest as root, started by test/interop/ipsec_service_interop.test.ts
 * (through kernel_backend_interop.test.ts): starts the IPsec service daemon, then the interop app
 * guest_kernel_backend_interop.ts as UID 10001 without any capability, connected to the daemon;
 * exits with the app's status and stops the daemon.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO = join(import.meta.dirname, '../../..');
const dir = `/tmp/tsnetd-svc-interop-${randomBytes(4).toString('hex')}`;
const socket = join(dir, 'ipsec');
mkdirSync(dir, { recursive: true });
chmodSync(dir, 0o755);
const env = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', HOME: '/tmp' };
const node = [process.execPath, '--import', 'tsx'];
const daemon = spawn(
  node[0] ?? '',
  [...node.slice(1), 'test/helpers/kernel_peer/ipsec_service_daemon.ts', socket],
  { cwd: REPO, env, stdio: ['ignore', 'pipe', 'inherit'] },
);
await new Promise<void>((resolve, reject) => {
  createInterface({ input: daemon.stdout }).on('line', (l) => {
    if (l === 'READY') resolve();
  });
  daemon.once('exit', (code) => reject(new Error(`the daemon exited ${code}`)));
});
const app = spawn(
  '/usr/bin/setpriv',
  [
    ...['--reuid=10001', '--regid=10001', '--clear-groups', '--inh-caps=-all', '--'],
    ...node,
    'test/helpers/kernel_peer/guest_kernel_backend_interop.ts',
    process.argv[2] ?? '',
    socket,
  ],
  { cwd: REPO, env, stdio: 'inherit' },
);
const code = await new Promise<number | null>((resolve) => app.once('exit', resolve));
daemon.kill('SIGTERM');
await new Promise((resolve) => daemon.once('exit', resolve));
rmSync(dir, { recursive: true, force: true });
process.exit(code ?? 1);
