/**
 * The cost of running a wrapped command through tsnetd instead of locally: tsnetd (dist/) in a
 * fresh network namespace with a netutils group; `ip xfrm state` measured
 *
 * - as a request on an open connection (`netutils arg` + `netutils run`, until the exit
 *   status) against spawning `ip -n NS xfrm state` directly from the same process: the extra
 *   cost of the daemon path (socket round trip, check, spawn by descriptor, streaming);
 * - as whole programs: the wrapper run by an unprivileged member (through the daemon), the
 *   wrapper run as root (local), and a bare `node -e 0` for scale.
 *
 * Run: `npm run build && node --import tsx bench/netutils_daemon.bench.ts` (root).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const WRAPPER_JS = join(ROOT, 'dist/cli/netutils_wrapper.js');
const TSNETD_JS = join(ROOT, 'dist/cli/tsnetd.js');
const REPS = Number(process.env.NETUTILS_BENCH_REPS ?? 40);
const GID = 4245;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** One `ip xfrm state` through the daemon on an open connection; resolves with its status. */
function remoteRun(socket: Socket): Promise<number> {
  return new Promise((resolveRun) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const m = /(?:^|\0)220 \d+ (\d+)\0/.exec(buffered);
      if (m !== null) {
        socket.off('data', onData);
        resolveRun(Number(m[1]));
      }
    };
    socket.on('data', onData);
    socket.write('0 netutils arg xfrm state\0' + '0 netutils run ip\0');
  });
}

async function main(): Promise<void> {
  assert.ok(existsSync(WRAPPER_JS) && existsSync(TSNETD_JS), 'run "npm run build" first');
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  const ns = `tsnetd-bench-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-nud-bench-'));
  chmodSync(dir, 0o755);
  execFileSync('ip', ['netns', 'add', ns]);
  const socketPath = join(dir, 'run', 'netd');
  mkdirSync(join(dir, 'run'), { mode: 0o755 });
  const config = join(dir, 'netutils.json');
  writeFileSync(config, '{}');
  const link = join(dir, 'ip-wrapper-1.0');
  symlinkSync(WRAPPER_JS, link);
  const daemon = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      TSNETD_JS,
      '--socket',
      socketPath,
      '--netutils-group',
      String(GID),
      '--netutils-config',
      config,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  try {
    let log = '';
    daemon.stderr.on('data', (d: Buffer) => {
      log += d.toString();
    });
    for (let i = 0; i < 400 && !log.includes('listening on'); i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.ok(log.includes('listening on'), log);

    const socket = connect(socketPath);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const samples = { daemon: [] as number[], direct: [] as number[] };
    for (let i = 0; i < 5; i++) await remoteRun(socket);
    for (let i = 0; i < REPS * 5; i++) {
      let t0 = process.hrtime.bigint();
      assert.equal(await remoteRun(socket), 0);
      samples.daemon.push(ms(t0));
      t0 = process.hrtime.bigint();
      assert.equal(spawnSync('/usr/sbin/ip', ['-n', ns, 'xfrm', 'state']).status, 0);
      samples.direct.push(ms(t0));
    }
    socket.destroy();
    const daemonMs = median(samples.daemon);
    const directMs = median(samples.direct);
    console.log(
      `\n\`ip xfrm state\` from a running process, median of ${REPS * 5} interleaved runs (ms)`,
    );
    console.log(`  through tsnetd (open connection)          ${daemonMs.toFixed(2)}`);
    console.log(`  spawn ip -n NS directly                    ${directMs.toFixed(2)}`);
    console.log(`  extra cost of the daemon path              ${(daemonMs - directMs).toFixed(2)}`);

    const procs: Record<string, () => number> = {
      'node -e 0': () => {
        const t0 = process.hrtime.bigint();
        spawnSync(process.execPath, ['-e', '0']);
        return ms(t0);
      },
      'member wrapper (through tsnetd)': () => {
        const t0 = process.hrtime.bigint();
        const r = spawnSync(
          'setpriv',
          [
            '--reuid=1000',
            '--regid=1000',
            `--groups=${GID}`,
            process.execPath,
            link,
            'xfrm',
            'state',
          ],
          {
            env: { PATH: '/usr/bin:/bin', TSNETD_SOCKET: socketPath },
          },
        );
        assert.equal(r.status, 0, r.stderr.toString());
        return ms(t0);
      },
      'root wrapper (local, ip netns exec)': () => {
        const t0 = process.hrtime.bigint();
        const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, link, 'xfrm', 'state'], {
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NETUTILS_CONFIG: config },
        });
        assert.equal(r.status, 0, r.stderr.toString());
        return ms(t0);
      },
    };
    const series: Record<string, number[]> = {};
    for (const k of Object.keys(procs)) series[k] = [];
    for (let i = 0; i < REPS; i++)
      for (const [k, run] of Object.entries(procs)) series[k]!.push(run());
    console.log(`\nwhole programs, median of ${REPS} interleaved runs (ms)`);
    for (const [k, v] of Object.entries(series))
      console.log(`  ${k.padEnd(42)} ${median(v).toFixed(2)}`);
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
