/**
 * netutils wrapper speed: the rule check per command (allowed and blocked, warm) and the
 * whole-process cost of a wrapped call (`ip-wrapper-1.0 link show lo`, refused, and
 * `ip-wrapper-1.0 xfrm state`, allowed) against running the tool directly and against a bare
 * `node -e 0`, all in one run, medians over many repetitions.
 *
 * Run: `npm run build && node --import tsx bench/netutils.bench.ts` (uses dist/ for the processes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkCommand } from '../src/netutils/check.ts';
import { RuleSet } from '../src/netutils/rule_set.ts';
import { findToolDir } from '../src/netutils/tool_dir.ts';

const WRAPPER_JS = resolve(import.meta.dirname, '../dist/cli/netutils_wrapper.js');
const REPS = Number(process.env.NETUTILS_BENCH_REPS ?? 60);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function benchCheck(): void {
  const toolDir = findToolDir('ip') ?? '/usr/sbin';
  const rs = RuleSet.build({ toolDir });
  const cases: Record<string, string[]> = {
    'allowed (R8, first ip rule)': [`${toolDir}/ip`, 'xfrm', 'state'],
    'allowed (R7, 7th rule)': [
      `${toolDir}/ip6tables`,
      '-w',
      '-A',
      'INPUT',
      '-i',
      'rmnet_data9',
      '-j',
      'x',
    ],
    'blocked (all 14 rules tried)': [
      `${toolDir}/ip6tables`,
      '-w',
      '-A',
      'INPUT',
      '-j',
      'routectrl_MANGLE_INPUT',
    ],
    'blocked (unsafe argument)': [`${toolDir}/ip`, 'xfrm', 'state x'],
  };
  console.log(`rule check, Android 15 rules, tool dir ${toolDir}`);
  for (const [label, argv] of Object.entries(cases)) {
    const expect = label.startsWith('allowed');
    assert.equal(checkCommand(rs, argv).allowed, expect, label);
    for (let i = 0; i < 20000; i++) checkCommand(rs, argv);
    const samples: number[] = [];
    for (let round = 0; round < 15; round++) {
      const n = 20000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) checkCommand(rs, argv);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000 / n);
    }
    console.log(
      `  ${label.padEnd(32)} ${median(samples).toFixed(3)} µs/command (median of 15 x 20000)`,
    );
  }
}

function timeProcess(cmd: string, args: readonly string[], expectStatus: number): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore', env: process.env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(r.status, expectStatus, `${cmd} ${args.join(' ')}`);
  return ms;
}

function benchProcesses(): void {
  assert.ok(existsSync(WRAPPER_JS), 'run "npm run build" first');
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-nu-bench-'));
  try {
    const link = join(dir, 'ip-wrapper-1.0');
    symlinkSync(WRAPPER_JS, link);
    const config = join(dir, 'netutils.json');
    writeFileSync(config, '{}');
    process.env.NETUTILS_CONFIG = config;
    const ip = `${findToolDir('ip') ?? '/usr/sbin'}/ip`;
    const node = process.execPath;
    const runs: Record<string, () => number> = {
      'node -e 0': () => timeProcess(node, ['-e', '0'], 0),
      'ip link show lo (direct)': () => timeProcess(ip, ['link', 'show', 'lo'], 0),
      'ip-wrapper-1.0 link show lo (refused)': () =>
        timeProcess(node, [link, 'link', 'show', 'lo'], 1),
      'ip xfrm state (direct)': () => timeProcess(ip, ['xfrm', 'state'], 0),
      'ip-wrapper-1.0 xfrm state (runs ip)': () => timeProcess(node, [link, 'xfrm', 'state'], 0),
    };
    const samples: Record<string, number[]> = {};
    for (const key of Object.keys(runs)) samples[key] = [];
    for (let i = 0; i < 3; i++) for (const run of Object.values(runs)) run();
    // Interleave so drift affects every series alike.
    for (let i = 0; i < REPS; i++) {
      for (const [key, run] of Object.entries(runs)) samples[key]!.push(run());
    }
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    console.log(`\nprocess start-up, median of ${REPS} interleaved runs (ms)`);
    for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(40)} ${v!.toFixed(2)}`);
    const nodeStart = m['node -e 0']!;
    const refused = m['ip-wrapper-1.0 link show lo (refused)']!;
    const overheadAllowed =
      m['ip-wrapper-1.0 xfrm state (runs ip)']! - m['ip xfrm state (direct)']!;
    console.log(`  refused call / node -e 0                 ${(refused / nodeStart).toFixed(2)}x`);
    console.log(
      `  wrapper overhead on an allowed call      ${overheadAllowed.toFixed(2)} ms = ${(overheadAllowed / nodeStart).toFixed(2)}x node -e 0 (target < 2x)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
benchCheck();
benchProcesses();
