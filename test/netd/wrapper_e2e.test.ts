/**
 * End to end: `ndc-wrapper-1.0` (src/cli/netutils_wrapper.ts) → a tool directory whose `ndc`
 * launches src/cli/ndc.ts → tsnetd in a fresh network namespace. An allowed command reaches
 * the daemon; a refused one never does (the daemon's request log proves it).
 *
 * @requires root (network namespaces, iproute2, iptables)
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonSuite, NDC, ROOT, type RunResult, runTsx } from './helpers/netns.ts';

const WRAPPER = join(ROOT, 'src/cli/netutils_wrapper.ts');
const suite = daemonSuite('tsnetd-wrap', async ({ dir, socketPath }) => {
  const toolDir = join(dir.path, 'bin');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(toolDir);
  const launcher = join(toolDir, 'ndc');
  writeFileSync(
    launcher,
    `#!/bin/sh\ncd ${JSON.stringify(ROOT)} && exec ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(NDC)} --socket ${JSON.stringify(socketPath)} "$@"\n`,
  );
  chmodSync(launcher, 0o755);
  symlinkSync(WRAPPER, join(toolDir, 'ndc-wrapper-1.0'));
  // An empty config file: defaults, no vendor additions.
  writeFileSync(join(dir.path, 'netutils.conf'), '{}');
});
const toolDir = join(suite.dir.path, 'bin');

function runWrapper(args: readonly string[]): Promise<RunResult> {
  return runTsx([join(toolDir, 'ndc-wrapper-1.0'), ...args], {
    ...process.env,
    NETUTILS_BIN_DIR: toolDir,
    NETUTILS_CONFIG: join(suite.dir.path, 'netutils.conf'),
  });
}

test('the wrapper is present', () => {
  assert.ok(existsSync(WRAPPER), 'src/cli/netutils_wrapper.ts is missing');
});

test('ndc-wrapper-1.0 network create oem1 reaches the daemon and succeeds', async () => {
  const before = suite.daemon.loggedRequests;
  const r = await runWrapper(['network', 'create', 'oem1']);
  assert.deepEqual(r, { code: 0, stdout: '200 0 success\n', stderr: '' });
  await suite.daemon.waitFor(/request \d+ on connection \d+: "0 network create oem1"/, 5000);
  assert.equal(suite.daemon.loggedRequests, before + 1);
  const again = await runWrapper(['network', 'create', 'oem1']);
  assert.equal(
    again.stdout,
    '400 0 createPhysicalNetwork() failed (File exists)\n',
    'the network exists in the daemon',
  );
});

test('ndc-wrapper-1.0 network create 100 is refused without reaching the daemon', async () => {
  const requests = suite.daemon.loggedRequests;
  const connections = (suite.daemon.stderr.match(/connection \d+ opened/g) ?? []).length;
  const r = await runWrapper(['network', 'create', '100']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /NetUtilsWrapper: Unexpected command: .*ndc network create 100/);
  // Give a stray connection time to show up in the log, then prove none came.
  await new Promise((resolveWait) => setTimeout(resolveWait, 300));
  assert.equal(suite.daemon.loggedRequests, requests);
  assert.equal((suite.daemon.stderr.match(/connection \d+ opened/g) ?? []).length, connections);
});
