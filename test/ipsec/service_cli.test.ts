/**
 * `tsnetd --ipsec-socket PATH --ipsec-group GID` serves the IPsec service beside netd (in a
 * network namespace of its own, on this host whose kernel has no ESP): the socket is where asked,
 * with the group and mode 0660, an IpSecManager reaches it and gets the kernel's reason, and a
 * clean stop removes the socket. Without `--ipsec-socket` it lies beside the netd socket.
 * @requires root (network namespaces, iproute2, iptables)
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IpSecManager, KernelBackendUnavailableError } from '../../src/ipsec/mod.ts';
import { Daemon, Netns, run, tempDir } from '../netd/helpers/netns.ts';

let ns: Netns;
let dir: { path: string; remove: () => void };
before(() => {
  ns = new Netns('tsnetd-ipsvc');
  dir = tempDir();
});
after(() => {
  run('ip', ['netns', 'del', ns.name]);
  dir.remove();
});

test('tsnetd --ipsec-socket/--ipsec-group: the IPsec service beside netd', async () => {
  const ipsecPath = join(dir.path, 'svc', 'ipsec');
  const gid = 4242;
  const daemon = Daemon.spawn(ns, join(dir.path, 'netd'), [
    ...['--ipsec-socket', ipsecPath, '--ipsec-group', String(gid)],
  ]);
  try {
    await daemon.waitFor(/IPsec service listening on /, 30_000);
    const st = statSync(ipsecPath);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, gid);
    await using ipsec = await IpSecManager.create({ backend: 'service', servicePath: ipsecPath });
    await assert.rejects(ipsec.allocateSecurityParameterIndex('127.0.0.1'), (err) => {
      assert.ok(err instanceof KernelBackendUnavailableError);
      assert.equal(err.reason, 'no-esp');
      return true;
    });
  } finally {
    assert.equal(await daemon.stop(), 0, daemon.stderr);
  }
  assert.equal(existsSync(ipsecPath), false, 'the socket file is removed at stop');
});

test('without --ipsec-socket the service listens beside the netd socket, mode 0666', async () => {
  const daemon = Daemon.spawn(ns, join(dir.path, 'netd2'));
  try {
    await daemon.waitFor(/IPsec service listening on /, 30_000);
    assert.equal(statSync(join(dir.path, 'ipsec')).mode & 0o777, 0o666);
  } finally {
    assert.equal(await daemon.stop(), 0, daemon.stderr);
  }
});
