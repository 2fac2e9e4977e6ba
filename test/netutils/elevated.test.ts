/**
 * An elevated wrapper ignores its environment: run by uid 1000 through a setuid-root copy of
 * node (real and effective uid differ, AT_SECURE), through a copy with the file capability
 * cap_net_admin, and with cap_net_admin as an ambient capability, the wrapper runs locally
 * but `NETUTILS_BIN_DIR`, `NETUTILS_CONFIG` (asking for Android verdicts and a tool directory
 * of the caller's) and `NETUTILS_LOG_SOCKET` change nothing: the hardened default
 * configuration decides and the system's tools run. Needs `npm run build`.
 *
 * @requires root (setuid and capability copies of node)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readableBuild } from '../helpers/readable_build.ts';
import { Netns, tempDir } from '../netd/helpers/netns.ts';

// Run by other users: a copy they can read, wherever the checkout is (it may be under a 0700 directory).
const WRAPPER_JS = join(readableBuild(), 'dist/cli/netutils_wrapper.js');
const dir = tempDir();
const ns = new Netns('tsnetd-elev');
const evil = join(dir.path, 'evil');
const marker = join(evil, 'ran');
const links = join(dir.path, 'links');
const mine = join(dir.path, 'mine');
const setuidNode = join(dir.path, 'node-setuid');
const capNode = join(dir.path, 'node-cap');

before(() => {
  assert.ok(existsSync(WRAPPER_JS), 'run "npm run build" first');
  chmodSync(dir.path, 0o755);
  mkdirSync(evil, { mode: 0o777 });
  chmodSync(evil, 0o777);
  for (const tool of ['ip', 'tc'])
    writeFileSync(join(evil, tool), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  writeFileSync(join(evil, 'cmds'), 'qdisc add dev wlan0 root pfifo limit 7\n');
  writeFileSync(join(evil, 'netutils.json'), JSON.stringify({ verdicts: 'android', binDir: evil }));
  chmodSync(join(evil, 'netutils.json'), 0o644);
  mkdirSync(mine, { mode: 0o755 });
  writeFileSync(join(mine, 'ip'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  mkdirSync(links);
  for (const name of ['ip-wrapper-1.0', 'tc-wrapper-1.0'])
    symlinkSync(WRAPPER_JS, join(links, name));
  copyFileSync(process.execPath, setuidNode);
  chmodSync(setuidNode, 0o4755);
  copyFileSync(process.execPath, capNode);
  chmodSync(capNode, 0o755);
  const cap = spawnSync('setcap', ['cap_net_admin+ep', capNode], { encoding: 'utf8' });
  assert.equal(cap.status, 0, cap.stderr);
  ns.addLink('oem0');
  ns.addLink('wlan0');
});

after(() => {
  ns.remove();
  dir.remove();
});

const ENV = {
  PATH: `${evil}:/usr/bin:/bin`,
  NETUTILS_BIN_DIR: evil,
  NETUTILS_CONFIG: join(evil, 'netutils.json'),
  NETUTILS_LOG_SOCKET: join(evil, 'log'),
  TSNETD_SOCKET: join(evil, 'sock'),
};

const WAYS: ReadonlyArray<[string, string[], string]> = [
  ['setuid root', ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups'], setuidNode],
  ['file capability', ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups'], capNode],
  [
    'ambient capability',
    [
      'setpriv',
      '--reuid=1000',
      '--regid=1000',
      '--clear-groups',
      '--inh-caps=+net_admin',
      '--ambient-caps=+net_admin',
    ],
    process.execPath,
  ],
];

function run(prefix: readonly string[], node: string, name: string, args: readonly string[]) {
  return spawnSync(
    '/usr/sbin/ip',
    ['netns', 'exec', ns.name, ...prefix, node, join(links, name), ...args],
    {
      env: ENV,
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
}

for (const [way, prefix, node] of WAYS) {
  test(`elevated by ${way}: the environment cannot widen the check or pick the tool`, () => {
    const refused = run(prefix, node, 'tc-wrapper-1.0', [
      '-batch',
      join(evil, 'cmds'),
      'dev',
      'oem0',
    ]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /^NetUtilsWrapper: Unexpected command: \/usr\/sbin\/tc -batch /);
    assert.doesNotMatch(ns.exec('tc', ['qdisc', 'show', 'dev', 'wlan0']), /limit 7/);
    const ran = run(prefix, node, 'ip-wrapper-1.0', ['xfrm', 'state']);
    // The system's ip ran (with a file capability it inherits no capability: EPERM from it).
    assert.doesNotMatch(ran.stderr, /NetUtilsWrapper/);
    assert.ok(ran.status === 0 || /RTNETLINK answers: Operation not permitted/.test(ran.stderr));
    assert.equal(existsSync(marker), false, "the caller's tool directory was not used");
  });
}

test('control: the same environment does apply to a plain (not elevated) root wrapper', () => {
  const r = spawnSync(
    '/usr/sbin/ip', // absolute: PATH starts with the evil directory
    ['netns', 'exec', ns.name, process.execPath, join(links, 'ip-wrapper-1.0'), 'xfrm', 'state'],
    {
      env: { ...ENV, NETUTILS_BIN_DIR: mine },
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    existsSync(marker),
    true,
    'a root caller may choose its own tools: it is root anyway',
  );
});
