/**
 * Imported first by every program of the project (tsnetd, ndc, the wrapper, the demo), before
 * anything else runs:
 *
 * - **No inspector, ever.** Node opens its debugger on 127.0.0.1:9229 when it receives
 *   SIGUSR1, and whoever reaches that port runs code in the process — as root for tsnetd or a
 *   root wrapper. Installing a SIGUSR1 handler replaces Node's, so the signal is ignored (and
 *   does not stop the process); an inspector that is somehow already open (a SIGUSR1 that
 *   arrived during start-up, `--inspect` in NODE_OPTIONS) is closed.
 * - **No NODE_OPTIONS as root.** `/usr/bin/env node` takes PATH and NODE_OPTIONS from the
 *   caller; as root (or elevated) a NODE_OPTIONS value could load code before this module.
 *   Node itself ignores NODE_OPTIONS for setuid/AT_SECURE processes; for root the program
 *   refuses to go on (exit 1, one line on stderr) so such a start is noticed, not silently used.
 */
import inspector from 'node:inspector';
import { isElevated } from '../netutils/privilege.ts';

function ignoreDebugSignal(): void {
  // SIGUSR1 is deliberately ignored: it would open Node's inspector.
}

process.on('SIGUSR1', ignoreDebugSignal);
if (inspector.url() !== undefined) inspector.close();

const root = (process.geteuid?.() ?? -1) === 0 || isElevated();
if (root && (process.env.NODE_OPTIONS ?? '') !== '') {
  const name = (process.argv[1] ?? 'tsnetd').replace(/^.*\//, '').replace(/\.[jt]s$/, '');
  process.stderr.write(
    `${name}: refusing to run as root with NODE_OPTIONS set (it could load code into a privileged process); unset it\n`,
  );
  process.exit(1);
}
