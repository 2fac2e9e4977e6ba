/**
 * netd command latency on the real kernel (rules and routes over NETLINK_ROUTE, marks through
 * the long-lived iptables-restore): `network interface add`, `network route add`,
 * `network interface remove`, each the median of many runs, measured in-process on `Netd`
 * (no socket) inside a scratch network namespace; then the scale run: 100 networks × 10
 * interfaces × 10 routes set up and torn down, with time and memory, and a check that the
 * namespace is exactly as before. Needs root. Prints machine and load.
 *
 * Usage: `npm run bench -- netd` (re-executes itself inside `ip netns exec`).
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { KernelLinuxNet } from '../src/netd/kernel_linux_net.ts';
import { Netd } from '../src/netd/netd.ts';

const INSIDE = '--inside-netns';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

function ipBatch(lines: string[]): void {
  execFileSync('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
}

function snapshot(): string {
  const out = (file: string, args: string[]) => execFileSync(file, args, { encoding: 'utf8' });
  return [
    out('ip', ['-4', 'rule']),
    out('ip', ['-6', 'rule']),
    out('ip', ['-4', 'route', 'show', 'table', 'all']),
    out('ip', ['-6', 'route', 'show', 'table', 'all']),
    out('iptables-save', []).replace(/^#.*\n/gm, ''),
    out('ip6tables-save', []).replace(/^#.*\n/gm, ''),
  ].join('\n');
}

async function ok(netd: Netd, argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const [reply] = await netd.execute(argv);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (reply === undefined || reply.code !== 200)
    throw new Error(`${argv.join(' ')} → ${JSON.stringify(reply)}`);
  return ms;
}

async function latency(): Promise<void> {
  const links = 200;
  ipBatch(
    Array.from({ length: links }, (_, i) => [
      `link add b${i} type veth peer name b${i}p`,
      `link set b${i} up`,
      `link set b${i}p up`,
    ]).flat(),
  );
  const net = new KernelLinuxNet();
  const netd = await Netd.start(net);
  await ok(netd, ['network', 'create', 'oem1']);
  const add: number[] = [];
  const route: number[] = [];
  const remove: number[] = [];
  for (let round = 0; round < 3; round += 1) {
    for (let i = 0; i < links; i += 1)
      add.push(await ok(netd, ['network', 'interface', 'add', 'oem1', `b${i}`]));
    for (let i = 0; i < links; i += 1) {
      for (let r = 0; r < 5; r += 1)
        route.push(
          await ok(netd, ['network', 'route', 'add', 'oem1', `b${i}`, `10.${r}.${i % 256}.0/24`]),
        );
    }
    for (let i = 0; i < links; i += 1)
      remove.push(await ok(netd, ['network', 'interface', 'remove', 'oem1', `b${i}`]));
  }
  const show = (name: string, values: number[], target: number) =>
    console.log(
      `${name.padEnd(28)} median ${median(values).toFixed(3)} ms  p90 ${percentile(values, 0.9).toFixed(3)} ms  (n=${values.length}, target ≤ ${target} ms)`,
    );
  show('network interface add', add, 3);
  show('network route add', route, 1);
  show('network interface remove', remove, 3);
  console.log(`iptables-restore processes started: ${net.toolSpawnCount} (2 = one per family)`);
  await netd.shutdown();
  net.close();
  ipBatch(Array.from({ length: links }, (_, i) => `link del b${i}`));
}

async function scale(): Promise<void> {
  const NETWORKS = 100;
  const IFACES = 10;
  const ROUTES = 10;
  const count = NETWORKS * IFACES;
  const t0 = Date.now();
  for (let start = 0; start < count; start += 250) {
    ipBatch(
      Array.from({ length: Math.min(250, count - start) }, (_, k) => {
        const i = start + k;
        return [`link add s${i} type veth peer name s${i}p`, `link set s${i} up`];
      }).flat(),
    );
  }
  console.log(`scale: ${count} veth pairs created in ${Date.now() - t0} ms`);
  const before = snapshot();
  const rss0 = process.memoryUsage().rss;
  const net = new KernelLinuxNet();
  const netd = await Netd.start(net);
  // OEM ids 1..50 and framework ids 100..149: 100 networks.
  const netIds = [
    ...Array.from({ length: 50 }, (_, i) => String(i + 1)),
    ...Array.from({ length: NETWORKS - 50 }, (_, i) => String(100 + i)),
  ];
  const t1 = Date.now();
  for (const [n, netId] of netIds.entries()) {
    await ok(netd, ['network', 'create', netId]);
    for (let j = 0; j < IFACES; j += 1) {
      const iface = `s${n * IFACES + j}`;
      await ok(netd, ['network', 'interface', 'add', netId, iface]);
      for (let r = 0; r < ROUTES; r += 1)
        await ok(netd, ['network', 'route', 'add', netId, iface, `10.${n}.${j * ROUTES + r}.0/24`]);
    }
  }
  const setupMs = Date.now() - t1;
  const rss1 = process.memoryUsage().rss;
  const t2 = Date.now();
  for (const netId of netIds) await ok(netd, ['network', 'destroy', netId]);
  const teardownMs = Date.now() - t2;
  const t3 = Date.now();
  await netd.shutdown();
  net.close();
  const shutdownMs = Date.now() - t3;
  const same = snapshot() === before;
  console.log(
    `scale: ${NETWORKS} networks × ${IFACES} interfaces × ${ROUTES} routes (${count} interfaces, ${count * ROUTES} routes): set up in ${setupMs} ms, destroyed in ${teardownMs} ms, shutdown ${shutdownMs} ms; RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(rss1 / 2 ** 20).toFixed(0)} MiB; namespace exactly as before: ${same}`,
  );
  if (!same) process.exitCode = 1;
}

if (process.argv.includes(INSIDE)) {
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, Node ${process.version}`,
  );
  await latency();
  await scale();
} else {
  const ns = `tsnetd-bench-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', import.meta.filename, INSIDE],
      { stdio: 'inherit' },
    );
    process.exitCode = r.status ?? 1;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}
