/**
 * The tool-directory race as root: in a sticky directory others can write, only an entry root
 * owns is trusted (a user's symlink to a root-owned tool could be re-pointed after the check;
 * a missing tool could be created after it), and the tool is executed by a descriptor of the
 * checked file, so swapping the path after the check changes nothing.
 *
 * @requires root (root-owned tools, lchown)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UntrustedToolError } from '../../src/netutils/errors.ts';
import { exitStatusOf, runTool } from '../../src/netutils/run.ts';
import { assertTrustedTool, openTrustedTool } from '../../src/netutils/tool_dir.ts';

const base = mkdtempSync(join(tmpdir(), 'tsnetd-race-'));
chmodSync(base, 0o755);
const sticky = join(base, 'sticky');
mkdirSync(sticky);
chmodSync(sticky, 0o1777);
after(() => rmSync(base, { recursive: true, force: true }));

test("a user's symlink in a sticky directory is refused, though it points at a root tool", () => {
  const link = join(sticky, 'ip');
  symlinkSync('/usr/bin/echo', link);
  lchownSync(link, 1000, 1000);
  assert.throws(
    () => assertTrustedTool(link, 0),
    (e: unknown) =>
      e instanceof UntrustedToolError &&
      /is owned by uid 1000 in a directory others can write/.test(e.message),
  );
  assert.throws(() => openTrustedTool(link), UntrustedToolError);
});

test('a tool missing from a sticky directory is refused: anyone could create it', () => {
  assert.throws(
    () => assertTrustedTool(join(sticky, 'tc'), 0),
    /does not exist in a directory others can write/,
  );
});

test("root's own entry in a sticky directory is trusted", () => {
  const tool = join(sticky, 'iptables');
  copyFileSync('/usr/bin/echo', tool);
  chmodSync(tool, 0o755);
  assert.doesNotThrow(() => assertTrustedTool(tool, 0));
  const opened = openTrustedTool(tool);
  closeSync(opened.fd);
  assert.equal(opened.script, false);
});

test('the checked file is executed even if the path is swapped between check and exec', async () => {
  const dir = join(base, 'tools');
  mkdirSync(dir, { mode: 0o755 });
  const tool = join(dir, 'ip');
  copyFileSync('/usr/bin/echo', tool);
  chmodSync(tool, 0o755);
  const opened = openTrustedTool(tool);
  try {
    // The swap an attacker would race for (done here by root, deterministically).
    const other = join(dir, 'other');
    copyFileSync('/usr/bin/false', other);
    chmodSync(other, 0o755);
    renameSync(other, tool);
    const out = spawnSync(
      process.execPath,
      [
        '-e',
        `require('child_process').spawn('/proc/self/fd/3', ['checked'], { argv0: ${JSON.stringify(tool)}, stdio: ['ignore', 'inherit', 'inherit', 3] }).on('exit', (c) => process.exit(c));`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe', opened.fd], encoding: 'utf8' },
    );
    assert.equal(out.stdout, 'checked\n', 'echo (the checked file) ran, not false');
    assert.equal(out.status, 0);
    // And runTool with the descriptor does the same.
    const outcome = await runTool(tool, [], { execFd: opened.fd });
    assert.equal(exitStatusOf(outcome), 0, 'echo, not the swapped-in false');
  } finally {
    closeSync(opened.fd);
  }
});
