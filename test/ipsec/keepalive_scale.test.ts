/**
 * NAT-keepalives at scale: 100,000 SAs on one shared userspace backend, spread over managers as
 * Android's quotas require (64 transforms, 1 encapsulation socket each: 1563 managers), their
 * keepalive timers firing together. As many protected sockets as the open-file limit allows are
 * bound (20,000 descriptors here), each with an outbound and an inbound SA applied; the rest of
 * the SAs exist but are not applied. Every outbound SA sends to its own peer (127.x.y.z, one of
 * four sink ports, served by a child process), so one pass sends one keepalive per applied
 * outbound SA.
 *
 * Asserted across several passes (interval shortened to keep the test short):
 * - every pass sent one keepalive per applied outbound SA, and the peers received them (the sink
 *   counts them: the test can fail);
 * - event-loop delay p99 < 10 ms during every pass (`monitorEventLoopDelay`, 1 ms resolution,
 *   a fresh histogram from the start of each pass to its end, so idle time between passes does
 *   not dilute it; every pass's p99 below 10 ms bounds the p99 over all passes' samples). The
 *   delay between passes is printed too;
 * - CPU per pass, as a share of one core at the default 20 s interval, < 5 %: measured over the
 *   whole window (so it also counts the test's own 1 ms polling between passes); the CPU while
 *   the passes run, the keepalive work itself, is printed too.
 *
 * What is measured is the keepalive work, not the wait for a CPU held by other jobs. On a
 * 2-core machine shared with other jobs the event-loop thread, even at nice −10, spent 40–60 %
 * of each pass runnable but waiting for a CPU (`/proc/thread-self/schedstat`, printed per pass),
 * which alone pushed the loop delay past 10 ms. So the runner runs this file after every other
 * test file, alone (`@runs-alone`), and for the measured passes only the test puts its
 * event-loop thread under the real-time round-robin policy at priority 1 (`chrt`) and its other
 * threads and the sink at nice −10 (when permitted: root), then restores them. The policy is
 * printed; the run-queue wait per pass shows what the machine still added.
 *
 * Seen on that machine (2 vCPU, load 4–5 from other jobs): a pass of 18,137 keepalives in 142
 * slices of at most 2.1 ms, loop delay p99 1.5–2.8 ms per pass.
 *
 * TSNETD_SCALE_SAS sets the SA count (default 100000).
 *
 * TSNETD_SCALE_SAS sets the SA count (default 100000).
 *
 * @runs-alone (event-loop delay and CPU share)
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import { type KeepalivePassSummary, NatKeepaliveScheduler } from '../../src/datapath/mod.ts';
import {
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  IpSecAlgorithm,
  type IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
  type UdpEncapsulationSocket,
  UserspaceBackend,
} from '../../src/ipsec/mod.ts';

const SAS = Number(process.env.TSNETD_SCALE_SAS ?? 100_000);
const PER_MANAGER = 64;
const INTERVAL_MS = 1500;
const PASSES = 5;
/** Niceness of the event-loop thread while the passes are measured. */
const MEASURE_NICE = -10;
const LO = '127.0.0.1';

function fdLimit(): number {
  const text = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return text === 'unlimited' ? 1 << 20 : Number(text);
}

/**
 * Sets the niceness of every thread of process `pid` (on Linux a thread's own attribute: the
 * event loop's, V8's garbage-collector helpers', libuv's pool). False if not permitted.
 */
function renice(pid: number, nice: number): boolean {
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
    return true;
  } catch {
    return false;
  }
}

/**
 * Time the event-loop thread has spent runnable but waiting for a CPU, ms (`/proc`'s schedstat:
 * run time, run-queue wait, time slices). Printed per pass: what the machine, not the keepalive
 * work, added to the loop delay.
 */
function runQueueWaitMs(): number {
  const fields = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(' ');
  return Number(fields[1]) / 1e6;
}

/**
 * Puts the event-loop thread (its id is the process id) under the round-robin real-time policy
 * at a low real-time priority (`on`), or back under the normal policy. False if not permitted.
 * The kernel's real-time throttling still leaves other tasks 5 % of each second, and a pass
 * sleeps as soon as its last slice ends.
 */
function realtime(on: boolean): boolean {
  const args = on ? ['-r', '-p', '1', String(process.pid)] : ['-o', '-p', '0', String(process.pid)];
  try {
    execFileSync('/usr/bin/chrt', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** First port of the kernel's ephemeral range (`ip_local_port_range`). */
function ephemeralLow(): number {
  return Number(
    readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
  );
}

/** Peer i: 127.(1 + i / 65536).(i / 256 % 256).(i % 256), never 127.0.0.1. */
function peer(i: number): string {
  return `127.${1 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}`;
}

/** Sockets of the sink: their receive buffers together hold a whole pass (see startSink). */
const SINK_SOCKETS = 4;

/**
 * A child process that counts datagrams on SINK_SOCKETS sockets, each on 0.0.0.0:<random> (so no
 * other socket gets them). Peers are spread over the sockets: their buffers (8 MB each, as far as
 * `net.core.rmem_max` allows) together hold one pass, so the count does not depend on the sink
 * keeping pace with the sender.
 */
async function startSink(): Promise<{
  ports: number[];
  pid: number;
  count: () => Promise<number>;
  stop: () => void;
}> {
  const code = `
    const dgram = require('node:dgram');
    let n = 0;
    const bound = Array.from({ length: ${SINK_SOCKETS} }, () => new Promise((resolve) => {
      const s = dgram.createSocket('udp4');
      s.on('message', () => n++);
      s.bind({ port: 0, address: '0.0.0.0' }, () => {
        try { s.setRecvBufferSize(8 << 20); } catch {}
        resolve(s.address().port);
      });
    }));
    Promise.all(bound).then((ports) => process.stdout.write(ports.join(',') + '\\n'));
    process.stdin.on('data', () => process.stdout.write(n + '\\n'));
    process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdout.setEncoding('utf8');
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let i = buffered.indexOf('\n');
    while (i !== -1) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(line);
      else lines.push(line);
      i = buffered.indexOf('\n');
    }
  });
  const next = (): Promise<string> =>
    lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r));
  const ports = (await next()).split(',').map(Number);
  return {
    ports,
    pid: child.pid ?? 0,
    count: async () => {
      child.stdin.write('?');
      return Number(await next());
    },
    stop: () => {
      child.stdin.end();
      child.kill();
    },
  };
}

test(
  `keepalives for ${SAS} SAs on one shared backend: bounded loop delay and CPU`,
  { timeout: 900_000 },
  async () => {
    const sink = await startSink();
    const sinkPort = (i: number): number => sink.ports[i % sink.ports.length]!;
    const backend = new UserspaceBackend();
    const managers: IpSecManager[] = [];
    const managerCount = Math.ceil(SAS / PER_MANAGER);
    // Descriptors: one per encapsulation socket and per bound protected socket, plus a margin.
    const socketBudget = fdLimit() - managerCount - 300;
    const pairs = Math.max(1, Math.min(Math.floor(SAS / 2), socketBudget));
    // Explicit ports just below the kernel's ephemeral range: about 20,000 sockets bound to
    // port 0 would take most of that range from every other program on the machine (and fail
    // with EADDRINUSE when another one holds the rest). A busy explicit port falls back to 0.
    const portBase = Math.max(1024, ephemeralLow() - managerCount - pairs - 64);
    const encapPort = (m: number): number => portBase + m;
    const socketPort = (i: number): number => portBase + managerCount + i;
    const sockets: IpSecDatagramSocket[] = [];
    const gcm = () => new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128);
    try {
      let sa = 0;
      let pairIndex = 0;
      const setupStart = performance.now();
      for (let m = 0; m < managerCount; m++) {
        const ipsec = await IpSecManager.create({
          backend,
          ownerId: `scale-${m}`,
          keepaliveIntervalMs: INTERVAL_MS,
        });
        managers.push(ipsec);
        const encap: UdpEncapsulationSocket = await ipsec
          .openUdpEncapsulationSocket(encapPort(m))
          .catch(() => ipsec.openUdpEncapsulationSocket());
        const work: Promise<void>[] = [];
        for (let k = 0; k < PER_MANAGER && sa < SAS; ) {
          if (pairIndex < pairs && k + 2 <= PER_MANAGER && sa + 2 <= SAS) {
            const i = pairIndex++;
            sa += 2;
            k += 2;
            work.push(
              (async () => {
                const outSpi = await ipsec.allocateSecurityParameterIndex(peer(i));
                const out = await new IpSecTransform.Builder(ipsec)
                  .setAuthenticatedEncryption(gcm())
                  .setIpv4Encapsulation(encap, sinkPort(i))
                  .buildTransportModeTransform(LO, outSpi);
                const inSpi = await ipsec.allocateSecurityParameterIndex(LO);
                const inb = await new IpSecTransform.Builder(ipsec)
                  .setAuthenticatedEncryption(gcm())
                  .setIpv4Encapsulation(encap, sinkPort(i))
                  .buildTransportModeTransform(peer(i), inSpi);
                const socket = ipsec.createDatagramSocket('udp4');
                await socket.bind(socketPort(i), LO).catch(() => socket.bind(0, LO));
                sockets.push(socket);
                await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, out);
                await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, inb);
              })(),
            );
          } else {
            const i = sa++;
            k++;
            work.push(
              (async () => {
                const spi = await ipsec.allocateSecurityParameterIndex(peer(pairs + i));
                await new IpSecTransform.Builder(ipsec)
                  .setAuthenticatedEncryption(gcm())
                  .setIpv4Encapsulation(encap, sinkPort(i))
                  .buildTransportModeTransform(LO, spi);
              })(),
            );
          }
        }
        await Promise.all(work);
      }
      const setupMs = performance.now() - setupStart;
      assert.equal(sa, SAS);
      const scheduler = NatKeepaliveScheduler.shared(INTERVAL_MS);

      // Let a first pass finish, then measure over PASSES passes.
      const firstPasses = scheduler.passes;
      while (scheduler.passes === firstPasses) await new Promise((r) => setTimeout(r, 50));
      // This process and the sink, which must drain its socket as fast as the passes fill it, at a
      // raised priority for the measured passes only.
      const niceBefore = getPriority();
      const raised = renice(process.pid, MEASURE_NICE) && renice(sink.pid, MEASURE_NICE);
      const rt = raised && realtime(true);
      // A fresh histogram per pass and per gap between passes: a re-enabled histogram would
      // record the whole disabled stretch as one delay. Every pass's p99 below 10 ms bounds the
      // p99 over all passes' samples too.
      const passes: {
        summary: KeepalivePassSummary;
        p99: number;
        max: number;
        count: number;
        waitedMs: number;
      }[] = [];
      const gapP99: number[] = [];
      const sinkBefore = await sink.count();
      const startPasses = scheduler.passes;
      const cpuBefore = process.cpuUsage();
      const wallBefore = performance.now();
      let running = false;
      let histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      let waitedBefore = runQueueWaitMs();
      let waitedAtEnd = waitedBefore;
      // CPU while a pass runs (the keepalive work), apart from the whole window's (which also
      // holds this loop's 1 ms polling between passes).
      let passCpuStart = process.cpuUsage();
      let inPassCpuUs = 0;
      const cpuSince = (start: NodeJS.CpuUsage): number => {
        const used = process.cpuUsage(start);
        return used.user + used.system;
      };
      try {
        while (scheduler.passes < startPasses + PASSES) {
          if (scheduler.running !== running) {
            running = !running;
            histogram.disable();
            if (running) {
              passCpuStart = process.cpuUsage();
              gapP99.push(histogram.percentile(99) / 1e6);
            } else if (scheduler.lastPass !== undefined) {
              inPassCpuUs += cpuSince(passCpuStart);
              passes.push({
                summary: scheduler.lastPass,
                p99: histogram.percentile(99) / 1e6,
                max: histogram.max / 1e6,
                count: histogram.count,
                waitedMs: runQueueWaitMs() - waitedBefore,
              });
            }
            waitedBefore = runQueueWaitMs();
            histogram = monitorEventLoopDelay({ resolution: 1 });
            histogram.enable();
          }
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        histogram.disable();
        waitedAtEnd = runQueueWaitMs();
        if (running) inPassCpuUs += cpuSince(passCpuStart);
        if (rt) realtime(false);
        renice(process.pid, niceBefore);
        renice(sink.pid, niceBefore);
      }
      const cpu = process.cpuUsage(cpuBefore);
      const wallMs = performance.now() - wallBefore;
      if (running && scheduler.lastPass !== undefined) {
        passes.push({
          summary: scheduler.lastPass,
          p99: histogram.percentile(99) / 1e6,
          max: histogram.max / 1e6,
          count: histogram.count,
          waitedMs: waitedAtEnd - waitedBefore,
        });
      }
      // The sink drains its buffers: wait until its count stops growing, counting nothing of a
      // pass after the measured ones (the count is taken before such a pass starts).
      const endPasses = scheduler.passes;
      let received = (await sink.count()) - sinkBefore;
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        if (scheduler.running || scheduler.passes !== endPasses) break;
        const now = (await sink.count()) - sinkBefore;
        if (now === received) break;
        received = now;
      }

      const passCount = scheduler.passes - startPasses;
      const cpuMsPerPass = (cpu.user + cpu.system) / 1000 / passCount;
      const p99 = Math.max(...passes.map((pass) => pass.p99));
      const sharePerDefaultInterval = cpuMsPerPass / DEFAULT_KEEPALIVE_INTERVAL_MS;
      const inPassCpuMs = inPassCpuUs / 1000 / passCount;
      console.log(
        `# ${SAS} SAs, ${managerCount} managers, ${pairs} sockets with an outbound and an inbound SA; setup ${(setupMs / 1000).toFixed(1)} s (${((setupMs * 1000) / SAS).toFixed(0)} µs per SA)`,
      );
      for (const [i, pass] of passes.entries()) {
        const { sent, slices, durationMs, longestSliceMs } = pass.summary;
        console.log(
          `# pass ${i + 1}: ${sent} keepalives in ${slices} slices over ${durationMs.toFixed(0)} ms, longest slice ${longestSliceMs.toFixed(2)} ms, waited ${pass.waitedMs.toFixed(1)} ms for a CPU; loop delay p99 ${pass.p99.toFixed(2)} ms, max ${pass.max.toFixed(2)} ms (${pass.count} samples; before the pass, idle: p99 ${gapP99[i]?.toFixed(2)} ms)`,
        );
      }
      console.log(
        `# ${passCount} passes in ${wallMs.toFixed(0)} ms at ${rt ? 'real-time priority 1 (event loop), nice -10 (other threads, sink)' : raised ? `nice ${MEASURE_NICE}` : `nice ${niceBefore} (raising the priority was not permitted)`}: CPU ${inPassCpuMs.toFixed(1)} ms per pass while it runs = ${((inPassCpuMs / DEFAULT_KEEPALIVE_INTERVAL_MS) * 100).toFixed(2)} % of a core at ${DEFAULT_KEEPALIVE_INTERVAL_MS} ms; whole window ${cpuMsPerPass.toFixed(1)} ms per pass = ${(sharePerDefaultInterval * 100).toFixed(2)} % of a core at ${DEFAULT_KEEPALIVE_INTERVAL_MS} ms (${((cpuMsPerPass / INTERVAL_MS) * 100).toFixed(1)} % at the test's ${INTERVAL_MS} ms); loop delay p99 of the worst pass ${p99.toFixed(2)} ms; sink received ${received}`,
      );
      assert.equal(passes.length, passCount, 'every pass was seen running');
      for (const pass of passes) {
        assert.equal(pass.summary.sent, pairs, 'one keepalive per applied outbound SA per pass');
        assert.ok(pass.count >= 10, `${pass.count} loop-delay samples during a pass`);
      }
      assert.ok(
        received >= pairs * passCount * 0.95,
        `sink received ${received} of ${pairs * passCount}`,
      );
      assert.ok(p99 < 10, `event-loop delay p99 during a pass ${p99.toFixed(2)} ms`);
      assert.ok(sharePerDefaultInterval < 0.05, `keepalive CPU ${sharePerDefaultInterval * 100} %`);
    } finally {
      for (const m of managers) await m.close();
      await backend.close();
      sink.stop();
    }
    assert.equal(sockets.length, pairs);
  },
);
