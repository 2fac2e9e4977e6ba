/**
 * Test helpers for netd: fresh network namespaces with links, a tsnetd daemon process inside
 * one, and readers of the kernel state (`ip rule`, `ip route`, `iptables -S`, sysctls).
 * This kernel may lack the dummy link type; `addLink` falls back to a veth pair whose peer
 * (`<name>p`) stays in the namespace.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const TSNETD = join(ROOT, 'src/cli/tsnetd.ts');
export const NDC = join(ROOT, 'src/cli/ndc.ts');

export function run(file: string, args: readonly string[]): string {
  return execFileSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A network namespace that exists until `remove()`. */
export class Netns {
  readonly name: string;

  constructor(prefix = 'tsnetd') {
    this.name = `${prefix}-${randomBytes(4).toString('hex')}`;
    run('ip', ['netns', 'add', this.name]);
    run('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
  }

  /** Creates an up link `name` (dummy if the kernel has it, else veth with peer `<name>p`). */
  addLink(name: string): void {
    try {
      run('ip', ['-n', this.name, 'link', 'add', name, 'type', 'dummy']);
    } catch {
      run('ip', ['-n', this.name, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
      run('ip', ['-n', this.name, 'link', 'set', `${name}p`, 'up']);
    }
    run('ip', ['-n', this.name, 'link', 'set', name, 'up']);
  }

  /** Waits until IPv6 duplicate address detection is over (link-local routes are in place). */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (run('ip', ['-n', this.name, '-6', 'addr', 'show', 'tentative']).trim() !== '') {
      if (Date.now() > deadline) throw new Error(`DAD did not finish in ${this.name}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  ifindex(name: string): number {
    const m = /^(\d+):/.exec(run('ip', ['-n', this.name, '-o', 'link', 'show', 'dev', name]));
    if (m?.[1] === undefined) throw new Error(`no ifindex for ${name}`);
    return Number(m[1]);
  }

  /** `ip -4|-6 rule` lines, whitespace-normalised. */
  rules(family: 4 | 6): string[] {
    return lines(run('ip', ['-n', this.name, `-${family}`, 'rule', 'show']));
  }

  /** `ip -4|-6 route show table T` lines ([] for an empty or absent table). */
  routes(family: 4 | 6, table: number): string[] {
    try {
      return lines(
        run('ip', ['-n', this.name, `-${family}`, 'route', 'show', 'table', String(table)]),
      );
    } catch {
      return [];
    }
  }

  /** `iptables|ip6tables -t mangle -S` lines. */
  mangle(family: 4 | 6): string[] {
    return lines(this.exec(family === 4 ? 'iptables' : 'ip6tables', ['-w', '-t', 'mangle', '-S']));
  }

  /** Every `forwarding` / `accept_redirects` sysctl (all, default, each link; v4, v6) and ip_forward. */
  forwardingSysctls(): string[] {
    return lines(
      this.exec('sysctl', [
        '-a',
        '-r',
        '^net\\.ipv[46]\\.(ip_forward$|conf\\..*\\.(forwarding|accept_redirects)$)',
      ]),
    );
  }

  /**
   * The whole routing and filtering state compared by the coexistence tests: rules, every route
   * of every table, iptables-save (counters dropped) and the forwarding sysctls.
   */
  snapshot(): Record<string, string[]> {
    return {
      rules4: this.rules(4),
      rules6: this.rules(6),
      routes4: lines(run('ip', ['-n', this.name, '-4', 'route', 'show', 'table', 'all'])),
      routes6: lines(run('ip', ['-n', this.name, '-6', 'route', 'show', 'table', 'all'])),
      iptables: withoutEmptyTables(lines(this.exec('iptables-save', []))),
      ip6tables: withoutEmptyTables(lines(this.exec('ip6tables-save', []))),
      sysctls: this.forwardingSysctls(),
    };
  }

  sysctl(path: string): string {
    return this.exec('cat', [`/proc/sys/net/${path}`]).trim();
  }

  exec(file: string, args: readonly string[]): string {
    return run('ip', ['netns', 'exec', this.name, file, ...args]);
  }

  remove(): void {
    try {
      run('ip', ['netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }
}

/**
 * iptables-save output without comments, counters and tables that hold nothing (only built-in
 * chains with policy ACCEPT): with the nf_tables backend such a table, once created by any
 * iptables call, stays registered, and iptables has no command that removes it. It has no effect
 * on any packet.
 */
export function withoutEmptyTables(saved: readonly string[]): string[] {
  const out: string[] = [];
  let block: string[] = [];
  for (const raw of saved) {
    if (raw.startsWith('#')) continue;
    const line = raw.replace(/ \[\d+:\d+\]$/, '');
    block.push(line);
    if (line === 'COMMIT') {
      const empty = block.every(
        (l) => l.startsWith('*') || /^:[A-Z]+ ACCEPT$/.test(l) || l === 'COMMIT',
      );
      if (!empty) out.push(...block);
      block = [];
    }
  }
  return [...out, ...block];
}

export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter((l) => l !== '');
}

/** A temporary directory removed by `remove()`. */
export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'tsnetd-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A tsnetd process in a namespace. */
export class Daemon {
  readonly process: ChildProcess;
  readonly socketPath: string;
  #stderr = '';
  #exit: Promise<number | null>;

  private constructor(child: ChildProcess, socketPath: string) {
    this.process = child;
    this.socketPath = socketPath;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.#stderr += d;
    });
    child.stdout?.resume();
    this.#exit = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  }

  /** Spawns tsnetd in `ns` (or in the current namespace when `ns` is undefined). */
  static spawn(ns: Netns | undefined, socketPath: string, extra: readonly string[] = []): Daemon {
    const args = ['--import', 'tsx', TSNETD, '--socket', socketPath, '--verbose', ...extra];
    const child =
      ns === undefined
        ? spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...args], {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    return new Daemon(child, socketPath);
  }

  /** Spawns and waits until it listens. */
  static async start(ns: Netns | undefined, socketPath: string): Promise<Daemon> {
    const daemon = Daemon.spawn(ns, socketPath);
    await daemon.waitFor(/listening on /, 20_000);
    return daemon;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Number of requests the daemon logged. */
  get loggedRequests(): number {
    return (this.#stderr.match(/^tsnetd: request \d+ /gm) ?? []).length;
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.#stderr)) {
      if (this.process.exitCode !== null) throw new Error(`tsnetd exited: ${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${pattern}: ${this.#stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  exited(): Promise<number | null> {
    return this.#exit;
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (this.process.exitCode === null && this.process.pid !== undefined)
      this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 15_000);
    try {
      return await this.#exit;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Exit status and collected output of a finished child process. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx <args>` from the repository root and collects its output. */
export function runTsx(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      ...(env === undefined ? {} : { env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** Runs ndc (through tsx) and returns its status and output. */
export function ndc(socketPath: string, words: readonly string[]): Promise<RunResult> {
  return runTsx([NDC, '--socket', socketPath, ...words]);
}

/** The shared fixture of a file's tests: a namespace, a temp dir and one tsnetd listening in it. */
export interface DaemonSuite {
  readonly ns: Netns;
  readonly dir: { path: string; remove: () => void };
  readonly socketPath: string;
  /** The daemon; set once `before` has run. */
  readonly daemon: Daemon;
}

/**
 * Registers `before` (run `prepare`, then start tsnetd on `<dir>/netd` in a fresh namespace
 * named after `prefix`) and `after` (stop it, remove the namespace and the directory).
 */
export function daemonSuite(
  prefix: string,
  prepare: (suite: Omit<DaemonSuite, 'daemon'>) => void | Promise<void> = () => {},
): DaemonSuite {
  const ns = new Netns(prefix);
  const dir = tempDir();
  const socketPath = join(dir.path, 'netd');
  let daemon: Daemon | undefined;
  before(async () => {
    await prepare({ ns, dir, socketPath });
    daemon = await Daemon.start(ns, socketPath);
  });
  after(async () => {
    try {
      await daemon?.stop();
    } finally {
      ns.remove();
      dir.remove();
    }
  });
  return {
    ns,
    dir,
    socketPath,
    get daemon(): Daemon {
      if (daemon === undefined) throw new Error('Cannot use the daemon: before() has not run');
      return daemon;
    },
  };
}
