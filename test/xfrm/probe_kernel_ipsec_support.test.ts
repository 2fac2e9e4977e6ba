/**
 * probeKernelIpsecSupport() on this host's kernel (XFRM yes, ESP no: expect 'no-esp'), in a
 * scratch namespace as root, and as an unprivileged user (expect 'no-permission').
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runInNetns } from '../fixtures/xfrm/run_in_netns.ts';

const run = promisify(execFile);

test('probeKernelIpsecSupport() reports no-esp on a kernel without CONFIG_INET_ESP and leaves no SA', async () => {
  const r = (await runInNetns('probe.ts')) as {
    support: { ok: boolean; reason?: string; message?: string };
    left: string;
    iproute2: { status: number; stderr: string };
  };
  // The oracle: iproute2 adding the same kind of SA in the same kind of namespace.
  if (r.iproute2.status === 0) {
    assert.deepEqual(r.support, { ok: true });
  } else {
    assert.match(r.iproute2.stderr, /Requested type not found/);
    assert.equal(r.support.ok, false);
    assert.equal(r.support.reason, 'no-esp');
    assert.match(r.support.message ?? '', /EPROTONOSUPPORT.*Requested type not found/);
  }
  assert.equal(r.left, '');
});

test('probeKernelIpsecSupport() reports no-permission without CAP_NET_ADMIN', async () => {
  const script = join(import.meta.dirname, '../fixtures/xfrm/scenarios/probe_unprivileged.ts');
  const { stdout } = await run(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      process.execPath,
      '--import',
      'tsx',
      script,
    ],
    { cwd: join(import.meta.dirname, '../..'), timeout: 30_000 },
  );
  const support = JSON.parse(stdout) as { ok: boolean; reason?: string; message?: string };
  assert.equal(support.ok, false);
  assert.equal(support.reason, 'no-permission');
  assert.match(support.message ?? '', /EPERM/);
});
