/**
 * koffi (the FFI of the kernel backend and of the native ESP crypto provider) is loaded only when
 * one of those paths is asked for: importing `tsnetd/ipsec` never loads it; the userspace backend
 * loads it for the native crypto provider only (not with `TSNETD_ESP_CRYPTO=node-crypto`), and
 * works when koffi is not installed at all (node:crypto fallback). The consumer is plain JavaScript run by plain `node` against the built
 * package (`dist/`, needs `npm run build`), installed two ways in a temporary folder:
 * - a copy of `package.json` + `dist/` with no koffi anywhere on its resolution path;
 * - a link to this checkout, where koffi is installed — there asking for the kernel backend must
 *   load koffi, which shows that the consumer's "was koffi loaded" check can see it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const CONSUMER = join(ROOT, 'test/fixtures/ipsec/userspace_without_koffi.mjs');
const TIMEOUT_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-no-koffi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  readonly koffiResolvable: boolean;
  readonly afterImport: boolean;
  readonly afterTraffic: boolean;
  readonly provider: string;
  readonly received: readonly string[];
  readonly kernel?: string;
  readonly afterKernel: boolean;
}

/** A consumer folder: `node_modules/tsnetd` from `install`, and the consumer script. */
function consumerFolder(name: string, install: (target: string) => void): string {
  const folder = join(dir, name);
  mkdirSync(join(folder, 'node_modules'), { recursive: true });
  install(join(folder, 'node_modules', 'tsnetd'));
  cpSync(CONSUMER, join(folder, 'consumer.mjs'));
  return folder;
}

function runConsumer(
  folder: string,
  args: string[],
  extra: NodeJS.ProcessEnv = {},
): Promise<Report> {
  // No global module folders: NODE_PATH unset, HOME without .node_modules.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: folder,
    ...extra,
  };
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [join(folder, 'consumer.mjs'), ...args],
      { cwd: folder, env, timeout: TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${err.message}\n${stdout}${stderr}`));
        else resolvePromise(JSON.parse(stdout) as Report);
      },
    );
  });
}

test('without koffi installed, the userspace backend exchanges ESP both ways on loopback', async () => {
  const folder = consumerFolder('copy', (target) => {
    mkdirSync(target);
    cpSync(join(ROOT, 'package.json'), join(target, 'package.json'));
    cpSync(join(ROOT, 'dist'), join(target, 'dist'), { recursive: true });
  });
  const r = await runConsumer(folder, ['kernel']);
  assert.equal(r.koffiResolvable, false, 'koffi must not be reachable from the copy');
  assert.equal(r.afterImport, false);
  assert.deepEqual(r.received, ['a to b', 'b to a']);
  assert.equal(r.afterTraffic, false);
  assert.equal(r.provider, 'node-crypto', 'without koffi the ESP crypto falls back to node:crypto');
  // Asking for the kernel backend is where koffi is needed: a typed error, not a crash.
  assert.match(r.kernel ?? '', /^(KernelBackendUnavailableError|FfiUnavailableError): .*koffi/s);
});

test('with koffi installed, importing tsnetd/ipsec does not load it; the userspace backend loads it only for native crypto', async () => {
  const folder = consumerFolder('link', (target) => symlinkSync(ROOT, target, 'dir'));
  const r = await runConsumer(folder, ['kernel']);
  assert.equal(r.koffiResolvable, true);
  assert.equal(r.afterImport, false, 'importing tsnetd/ipsec loaded koffi');
  assert.deepEqual(r.received, ['a to b', 'b to a']);
  assert.equal(r.provider, 'openssl-native');
  assert.equal(r.afterTraffic, true, 'the native crypto provider runs on koffi');
  assert.equal(r.afterKernel, true, 'asking for the kernel backend must load koffi');
  // Forced to node:crypto, the userspace backend never loads koffi.
  const plain = await runConsumer(folder, ['kernel'], { TSNETD_ESP_CRYPTO: 'node-crypto' });
  assert.equal(plain.provider, 'node-crypto');
  assert.equal(plain.afterTraffic, false, 'the userspace backend on node:crypto loaded koffi');
  assert.equal(plain.afterKernel, true, 'asking for the kernel backend must load koffi');
});
