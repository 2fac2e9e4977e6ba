/**
 * The kernel backend on THIS host, whose kernel has XFRM but no ESP (docs/xfrm.md):
 * `IpSecManager.create({ backend: 'kernel' })` must fail at creation with a clear error naming the
 * userspace backend — `no-esp` as root (checked against iproute2 on the same kernel), and
 * `no-permission` without CAP_NET_ADMIN (uid 0 with every capability
 * dropped, so that a checkout under a 0700 directory stays readable). The behavioural suite against a kernel
 * WITH ESP runs in the qemu guest: test/interop/kernel_backend_suite.test.ts.
 *
 * @requires root (NETLINK_XFRM in a network namespace, capabilities)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { IpSecManager, KernelBackend, KernelBackendUnavailableError } from '../../src/ipsec/mod.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '../..');

/** Whether iproute2 can add an ESP SA here (the oracle for "this kernel has ESP"). */
async function iproute2HasEsp(): Promise<boolean> {
  const ns = `tsnetd-kb-${process.pid}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    await run('ip', [
      ...['-n', ns, 'xfrm', 'state', 'add', 'src', '192.0.2.2', 'dst', '192.0.2.1'],
      ...['proto', 'esp', 'spi', '0x1000', 'mode', 'transport'],
      ...['enc', 'cbc(aes)', `0x${'00'.repeat(16)}`],
    ]);
    return true;
  } catch (err: unknown) {
    assert.match(String((err as { stderr?: unknown }).stderr), /Requested type not found/);
    return false;
  } finally {
    await run('ip', ['netns', 'delete', ns]);
  }
}

test("IpSecManager.create({ backend: 'kernel' }) fails at creation on a kernel without ESP, naming the userspace backend", async (t) => {
  if (await iproute2HasEsp()) {
    // A kernel with ESP: creation must succeed instead (the suite in the guest covers the rest).
    await using ipsec = await IpSecManager.create({ backend: 'kernel' });
    assert.equal(ipsec.backendName, 'kernel');
    t.diagnostic('this kernel has ESP: creation succeeded');
    return;
  }
  await assert.rejects(IpSecManager.create({ backend: 'kernel' }), (err: unknown) => {
    assert.ok(err instanceof KernelBackendUnavailableError);
    assert.equal(err.name, 'KernelBackendUnavailableError');
    assert.equal(err.code, 'ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE');
    assert.equal(err.reason, 'no-esp');
    assert.match(err.message, /^Cannot use the kernel IPsec backend: this kernel has no ESP/);
    assert.match(err.message, /EPROTONOSUPPORT/);
    assert.match(err.message, /use the userspace backend instead/);
    return true;
  });
  await assert.rejects(KernelBackend.create(), { reason: 'no-esp' });
});

test("IpSecManager.create({ backend: 'kernel' }) without CAP_NET_ADMIN fails with no-permission", async () => {
  const code = `
    const { readFileSync } = await import('node:fs');
    const capEff = /^CapEff:\\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const { IpSecManager } = await import(${JSON.stringify(join(REPO, 'src/ipsec/mod.ts'))});
    try { await IpSecManager.create({ backend: 'kernel' }); console.log(JSON.stringify({ ok: true, capEff })); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, reason: e.reason, message: e.message, capEff })); }`;
  const { stdout } = await run(
    'setpriv',
    [
      ...['--inh-caps=-all', '--bounding-set=-all'],
      ...[process.execPath, '--import', 'tsx', '--input-type=module', '-e', code],
    ],
    { cwd: REPO, timeout: 30_000 },
  );
  const r = JSON.parse(stdout) as {
    name?: string;
    code?: string;
    reason?: string;
    message?: string;
    capEff?: string;
  };
  assert.equal(BigInt(`0x${r.capEff}`), 0n, 'the child ran with no capability at all');
  assert.equal(r.name, 'KernelBackendUnavailableError');
  assert.equal(r.code, 'ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE');
  assert.equal(r.reason, 'no-permission');
  assert.match(r.message ?? '', /lacks CAP_NET_ADMIN.*EPERM.*use the userspace backend instead/);
});
