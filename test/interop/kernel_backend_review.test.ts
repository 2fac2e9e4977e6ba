/**
 * The kernel backend's review checks (parity and fail-closed behaviour with the userspace backend,
 * docs/kernel-backend.md "Parity with the userspace backend") on a kernel WITH ESP: boots the
 * kernel peer with `hostRoot` and runs test/helpers/kernel_peer/guest_kernel_backend_review.ts in
 * ONE guest Node.js process with the TAP reporter; asserts every guest test passed and prints the
 * failures otherwise. About a minute under TCG; budget 4 min.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KernelPeer } from '../helpers/kernel_peer.ts';

const REPO = join(import.meta.dirname, '../..');
const GUEST_SUITE = join(REPO, 'test/helpers/kernel_peer/guest_kernel_backend_review.ts');
/** Guest tests expected (a file that stops loading early must not pass). */
const MIN_GUEST_TESTS = 18;
const GUEST_TIMEOUT_MS = 4 * 60_000;
/** TAP report in the guest's tmpfs /tmp (seen from the guest root as /host/tmp). */
const GUEST_TAP = '/tmp/kernel-backend-review.tap';

let peer: KernelPeer;
before(async () => {
  peer = await KernelPeer.start({ hostRoot: true });
});
after(async () => {
  await peer?.stop();
});

test(
  'the kernel backend review checks pass in the guest (Linux with ESP)',
  { timeout: GUEST_TIMEOUT_MS + 60_000 },
  async (t) => {
    const started = Date.now();
    const r = await peer.hostExec(
      [
        ...[process.execPath, '--import', 'tsx', '--test-reporter=tap'],
        ...[`--test-reporter-destination=${GUEST_TAP}`, GUEST_SUITE],
      ],
      { cwd: REPO, timeoutMs: GUEST_TIMEOUT_MS },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    // Read from the guest's tmpfs: complete even when the run timed out.
    const tap = (await peer.exec(['/bin/busybox', 'cat', `/host${GUEST_TAP}`])).stdout;
    const count = (name: string): number =>
      Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? Number.NaN);
    const [tests, pass, fail] = [count('tests'), count('pass'), count('fail')];
    t.diagnostic(
      `guest kernel ${peer.kernelVersion}: ${pass}/${tests} passed in ${seconds} s (boot ${peer.bootMs} ms)`,
    );
    if (r.code !== 0 || fail !== 0 || !(tests > 0)) {
      // The failing tests with their YAML blocks, then stderr.
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
    assert.ok(tests >= MIN_GUEST_TESTS, `only ${tests} guest tests ran`);
  },
);
