/**
 * probeKernelIpsecSupport() on this host's kernel (XFRM yes, ESP no: expect 'no-esp'), in a
 * scratch namespace as root, and as root with every capability dropped (expect 'no-permission').
 * The unprivileged run stays uid 0 so that it can read a checkout under a directory only root
 * can enter (mode 0700, e.g. root's home); what it lacks is CAP_NET_ADMIN, which is what the
 * kernel checks for NETLINK_XFRM requests.
 *
 * @requires root (network namespaces, NETLINK_XFRM)
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
    ['--inh-caps=-all', '--bounding-set=-all', process.execPath, '--import', 'tsx', script],
    { cwd: join(import.meta.dirname, '../..'), timeout: 30_000 },
  );
  const { support, capEff } = JSON.parse(stdout) as {
    support: { ok: boolean; reason?: string; message?: string };
    capEff: string;
  };
  assert.equal(BigInt(`0x${capEff}`), 0n, 'the probe ran with no capability at all');
  assert.equal(support.ok, false);
  assert.equal(support.reason, 'no-permission');
  assert.match(support.message ?? '', /EPERM/);
});
