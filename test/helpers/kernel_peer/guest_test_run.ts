/**
 * Runs a node:test file inside a `hostRoot` kernel-peer guest (the host's node, chrooted into
 * /host) with the TAP reporter, and asserts the result: exit 0, no failure, no skip or todo, and at
 * least `minTests` tests (a file that stops loading early must not pass). On failure it prints
 * the failing tests with their YAML blocks and the end of stderr.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import { KernelPeer } from '../kernel_peer.ts';

const REPO = join(import.meta.dirname, '../../..');

/** What {@link assertGuestTestsPass} runs. */
export interface GuestTestRun {
  /** Test file, relative to the project root. */
  readonly file: string;
  /** Where the guest writes the TAP report (its tmpfs /tmp; read back even after a timeout). */
  readonly tapPath: string;
  readonly timeoutMs: number;
  readonly minTests: number;
}

export async function assertGuestTestsPass(
  t: TestContext,
  peer: KernelPeer,
  run: GuestTestRun,
): Promise<void> {
  const started = Date.now();
  const r = await peer.hostExec(
    [
      ...[process.execPath, '--import', 'tsx', '--test-reporter=tap'],
      ...[`--test-reporter-destination=${run.tapPath}`, join(REPO, run.file)],
    ],
    { cwd: REPO, timeoutMs: run.timeoutMs },
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const tap = (await peer.exec(['/bin/busybox', 'cat', `/host${run.tapPath}`])).stdout;
  const count = (name: string): number =>
    Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? Number.NaN);
  const [tests, pass, fail] = [count('tests'), count('pass'), count('fail')];
  t.diagnostic(
    `guest kernel ${peer.kernelVersion}: ${pass}/${tests} passed in ${seconds} s (boot ${peer.bootMs} ms)`,
  );
  if (r.code !== 0 || fail !== 0 || !(tests > 0)) {
    const lines = tap.split('\n');
    const shown: string[] = [];
    lines.forEach((line, i) => {
      if (/^\s*not ok /.test(line)) shown.push(...lines.slice(i, i + 30), '');
    });
    assert.fail(
      `guest run exit ${r.code}: ${fail} of ${tests} failed in ${seconds} s\n${shown.join('\n')}\nstderr:\n${r.stderr.slice(-4000)}`,
    );
  }
  assert.ok(count('skipped') === 0 && count('todo') === 0, 'a guest test was skipped');
  assert.ok(tests >= run.minTests, `only ${tests} guest tests ran`);
}

/**
 * The whole host-side test file for one guest run: boots a `hostRoot` kernel peer before, stops it
 * after, and registers one test `title` (timeout: the guest's plus a minute) that asserts the run.
 */
export function guestTestFile(title: string, run: GuestTestRun): void {
  let peer: KernelPeer | undefined;
  before(async () => {
    peer = await KernelPeer.start({ hostRoot: true });
  });
  after(async () => {
    await peer?.stop();
  });
  test(title, { timeout: run.timeoutMs + 60_000 }, (t) => {
    assert.ok(peer !== undefined, 'the kernel peer did not start');
    return assertGuestTestsPass(t, peer, run);
  });
}
