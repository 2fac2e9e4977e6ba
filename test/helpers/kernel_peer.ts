/**
 * A real Linux kernel as an ESP peer for tests: boots the stock Debian kernel under qemu (TCG)
 * with a tiny initramfs (see kernel_peer/kernel_peer_image.ts) and drives it through a command
 * agent. Everything stays on loopback: qemu's user-mode network forwards a host UDP port to the
 * guest's ESP-in-UDP port 4500 (RFC 3948) and a host TCP port to the agent.
 *
 * Guest view (slirp): the guest is 10.0.2.15, the host is 10.0.2.2; datagrams the guest sends to
 * 10.0.2.2:P arrive on the host at 127.0.0.1:P. Facts and gotchas: shared/notes/kernel-peer.md.
 *
 * One VM per test file: `before(() => KernelPeer.start())`, `flushXfrm()` between cases,
 * `after(() => peer.stop())`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket as NetSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOST_ROOT_MODULES, prepareHostRootImage } from './kernel_peer/host_root_image.ts';
import {
  AGENT_EXITED_MARKER,
  GUEST_CONTROL_PORT,
  type KernelPeerImage,
  prepareKernelPeerImage,
  READY_MARKER,
} from './kernel_peer/kernel_peer_image.ts';

export { type KernelPeerImage, prepareKernelPeerImage } from './kernel_peer/kernel_peer_image.ts';

/** The guest's address as the guest sees it. */
export const GUEST_ADDRESS = '10.0.2.15';
/** The host's address as the guest sees it (slirp gateway). */
export const HOST_ADDRESS_IN_GUEST = '10.0.2.2';
/** The guest port whose UDP socket has UDP_ENCAP_ESPINUDP set. */
export const GUEST_ENCAP_PORT = 4500;
/** Full path of iproute2 in the guest (busybox's `ip` has no xfrm). */
export const GUEST_IP = '/sbin/ip';

const DEFAULT_BOOT_TIMEOUT_MS = 60_000;
const KEY_ARGUMENT_REGEXP = /^0x[0-9a-f]{16,}$/i;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 2;
const STOP_GRACE_MS = 3_000;

/** Options of {@link KernelPeer.start}. */
export interface KernelPeerStartOptions {
  /** Milliseconds to wait for the agent's ready marker. Default 60000. */
  readonly bootTimeoutMs?: number;
  /** Guest memory in MiB. Default 512 (1536 with `hostRoot`). */
  readonly memoryMb?: number;
  /**
   * Share the host's root file system read-only with the guest over virtio-9p, mounted at
   * `/host` (with proc, sys, dev and a tmpfs /tmp inside), and load `esp6`: {@link KernelPeer.hostExec}
   * then runs host programs (Node.js) chrooted there, against the guest kernel. Default false.
   */
  readonly hostRoot?: boolean;
  /** Guest UDP ports to forward from a free host port on 127.0.0.1 each ({@link KernelPeer.udpForwards}). */
  readonly forwardUdpPorts?: readonly number[];
}

/** Mount point of the host's root file system in a `hostRoot` guest. */
export const GUEST_HOST_ROOT = '/host';
/** Where the guest keeps a view of the host's /tmp before its own tmpfs covers it. */
const HOST_TMP_VIEW = '/host-tmp';
/** The project's root directory on the host (and, through /host, in the guest). */
const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

/** Exit status and output of a program run in the guest. */
export interface GuestExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link KernelPeer.addTransportSa}. */
export interface KernelSaOptions {
  /** `'in'`: host → guest (src 10.0.2.2, dst 10.0.2.15); `'out'`: guest → host. */
  readonly direction: 'in' | 'out';
  readonly spi: number;
  /** ALGO-LIST of `ip xfrm state add`, e.g. `['aead', 'rfc4106(gcm(aes))', '0x…', '128']`. */
  readonly algorithms: readonly string[];
  /** The host's ESP-in-UDP port (127.0.0.1:P is 10.0.2.2:P for the guest). */
  readonly hostEncapPort: number;
  /** Anti-replay window (`replay-window`). Default 64. */
  readonly replayWindow?: number;
  /** Extended sequence numbers (`flag esn`). Default false. */
  readonly esn?: boolean;
  /**
   * Initial 64-bit counter: for `'in'` the highest sequence number already seen, for `'out'` the
   * last one sent (`replay-seq[-hi]` / `replay-oseq[-hi]`). Default 0n.
   */
  readonly sequenceNumber?: bigint;
}

/** Options of {@link KernelPeer.udpOpen}. */
export interface UdpOpenOptions {
  /** Send every received datagram back to its sender. Default false. */
  readonly echo?: boolean;
  /** Send with IPv4 UDP checksum 0 (SO_NO_CHECK). Default false. */
  readonly noChecksum?: boolean;
}

/** A datagram received by a guest UDP socket (see {@link KernelPeer.udpOpen}). */
export interface GuestDatagram {
  readonly host: string;
  readonly port: number;
  readonly data: Uint8Array;
}

/** Thrown when a guest program exits non-zero under {@link KernelPeer.run}. */
export class GuestCommandError extends Error {
  override readonly name = 'GuestCommandError';
  readonly code = 'ERR_KERNEL_PEER_COMMAND';
  readonly result: GuestExecResult;
  constructor(argv: readonly string[], result: GuestExecResult) {
    // Key material (long hex arguments of `ip xfrm state`) is never put into messages.
    const shown = argv.map((a) => (KEY_ARGUMENT_REGEXP.test(a) ? '0x…' : a)).join(' ');
    super(`Cannot run "${shown}" in the kernel peer: exit ${result.code}: ${result.stderr.trim()}`);
    this.result = result;
  }
}

interface AgentReply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'udp') {
    const s = createSocket('udp4');
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.bind(0, '127.0.0.1', () => res());
    });
    const { port } = s.address();
    await new Promise<void>((res) => s.close(() => res()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const address = server.address();
  await new Promise<void>((res) => server.close(() => res()));
  if (address === null || typeof address === 'string') throw new Error('Cannot pick a free port');
  return address.port;
}

/** Line-delimited JSON client of the guest agent; requests are answered in order. */
class AgentClient {
  readonly #socket: NetSocket;
  readonly #pending = new Map<
    number,
    { resolve: (r: AgentReply) => void; reject: (e: Error) => void }
  >();
  #nextId = 1;
  #buffer = '';
  #closedError: Error | undefined;

  private constructor(socket: NetSocket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.#onData(chunk));
    const fail = (error: Error): void => {
      this.#closedError ??= error;
      for (const p of this.#pending.values()) p.reject(this.#closedError);
      this.#pending.clear();
    };
    socket.on('error', fail);
    socket.on('close', () =>
      fail(new Error('Cannot talk to the kernel-peer agent: connection closed')),
    );
  }

  static async connect(port: number, deadline: number): Promise<AgentClient> {
    for (;;) {
      try {
        const socket = await new Promise<NetSocket>((res, rej) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => res(s));
          s.once('error', rej);
        });
        const client = new AgentClient(socket);
        await client.request('ping', {}, 5_000);
        return client;
      } catch (error: unknown) {
        if (Date.now() > deadline) {
          throw new Error('Cannot connect to the kernel-peer agent', { cause: error });
        }
        await sleep(200);
      }
    }
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      const reply = JSON.parse(line) as AgentReply;
      const waiter = this.#pending.get(reply.id);
      if (waiter !== undefined) {
        this.#pending.delete(reply.id);
        waiter.resolve(reply);
      }
    }
  }

  async request(op: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.#closedError !== undefined) throw this.#closedError;
    const id = this.#nextId++;
    const reply = await new Promise<AgentReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`Cannot run agent op ${op}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#socket.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
    if (!reply.ok) throw new Error(`Cannot run agent op ${op}: ${reply.error ?? 'unknown error'}`);
    return reply.result;
  }

  close(): void {
    this.#socket.destroy();
  }
}

/**
 * A booted guest kernel with ESP, XFRM and a command agent.
 *
 * @example
 * const peer = await KernelPeer.start();
 * await peer.ip('xfrm', 'state', 'add', 'src', '10.0.2.2', 'dst', '10.0.2.15', 'proto', 'esp', …);
 * host.send(espPacket, peer.hostPort, '127.0.0.1'); // reaches the guest's UDP 4500
 * await peer.stop();
 */
export class KernelPeer {
  /** Host UDP port (on 127.0.0.1) forwarded to the guest's ESP-in-UDP port 4500. */
  readonly hostPort: number;
  /** Guest kernel release, e.g. `6.1.0-56-amd64`. */
  readonly kernelVersion: string;
  /** The boot files used (and whether they came from the cache). */
  readonly image: KernelPeerImage;
  /** Milliseconds from spawning qemu to the agent answering. */
  readonly bootMs: number;
  /** Guest UDP port → host port on 127.0.0.1 (from `forwardUdpPorts`). */
  readonly udpForwards: ReadonlyMap<number, number>;
  readonly #qemu: ChildProcess;
  readonly #client: AgentClient;
  readonly #workDir: string;
  readonly #logPath: string;
  readonly #exited: Promise<void>;
  #stopped = false;

  private constructor(fields: {
    hostPort: number;
    image: KernelPeerImage;
    bootMs: number;
    qemu: ChildProcess;
    client: AgentClient;
    workDir: string;
    logPath: string;
    exited: Promise<void>;
    udpForwards: ReadonlyMap<number, number>;
  }) {
    this.hostPort = fields.hostPort;
    this.udpForwards = fields.udpForwards;
    this.image = fields.image;
    this.kernelVersion = fields.image.kernelVersion;
    this.bootMs = fields.bootMs;
    this.#qemu = fields.qemu;
    this.#client = fields.client;
    this.#workDir = fields.workDir;
    this.#logPath = fields.logPath;
    this.#exited = fields.exited;
  }

  /**
   * Prepares the image (cached) and boots the guest; resolves when the agent answers.
   *
   * @throws Error when the guest does not become ready in time (the console log is in the message)
   */
  static async start(options: KernelPeerStartOptions = {}): Promise<KernelPeer> {
    const base = await prepareKernelPeerImage();
    const image = options.hostRoot === true ? await prepareHostRootImage(base) : base;
    let lastError: unknown;
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      try {
        const peer = await KernelPeer.#boot(image, options);
        if (options.hostRoot === true) {
          try {
            await peer.#mountHostRoot();
          } catch (error: unknown) {
            await peer.stop();
            throw error;
          }
        }
        return peer;
      } catch (error: unknown) {
        lastError = error;
      }
    }
    throw lastError;
  }

  static async #boot(image: KernelPeerImage, options: KernelPeerStartOptions): Promise<KernelPeer> {
    const hostPort = await freePort('udp');
    const controlPort = await freePort('tcp');
    const udpForwards = new Map<number, number>();
    for (const guestPort of options.forwardUdpPorts ?? []) {
      udpForwards.set(guestPort, await freePort('udp'));
    }
    const extraForwards = [...udpForwards]
      .map(([guest, host]) => `,hostfwd=udp:127.0.0.1:${host}-:${guest}`)
      .join('');
    const workDir = mkdtempSync(join(tmpdir(), 'tsnetd-kernel-peer-'));
    const logPath = join(workDir, 'console.log');
    const started = Date.now();
    const qemu = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-m',
        String(options.memoryMb ?? (options.hostRoot === true ? 1536 : 512)),
        ...(options.hostRoot === true
          ? [
              '-virtfs',
              // multidevs=remap: /proc, /sys and / are different host devices with colliding
              // inode numbers; without it the guest's 9p client confuses them.
              'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
            ]
          : []),
        '-nographic',
        '-no-reboot',
        '-monitor',
        'none',
        '-serial',
        `file:${logPath}`,
        '-kernel',
        image.kernelPath,
        '-initrd',
        image.initrdPath,
        '-append',
        'console=ttyS0 rdinit=/init panic=-1 quiet',
        '-netdev',
        `user,id=n0,hostfwd=udp:127.0.0.1:${hostPort}-:${GUEST_ENCAP_PORT},hostfwd=tcp:127.0.0.1:${controlPort}-:${GUEST_CONTROL_PORT}${extraForwards}`,
        '-device',
        'virtio-net-pci,netdev=n0,romfile=',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    qemu.stderr?.setEncoding('utf8');
    qemu.stderr?.on('data', (s: string) => {
      stderr += s;
    });
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) => {
      qemu.once('exit', (code) => {
        exitCode = code;
        resolve();
      });
      qemu.once('error', (error) => {
        stderr += String(error);
        exitCode = -1;
        resolve();
      });
    });
    const readLog = (): string => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    };
    const fail = async (why: string): Promise<never> => {
      if (exitCode === undefined && qemu.pid !== undefined) qemu.kill('SIGKILL');
      await exited;
      const log = readLog();
      rmSync(workDir, { recursive: true, force: true });
      throw new Error(
        `Cannot boot the kernel peer: ${why}\nqemu stderr: ${stderr}\nconsole:\n${log}`,
      );
    };
    const deadline = started + (options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS);
    for (;;) {
      const log = readLog();
      if (log.includes(READY_MARKER)) break;
      if (log.includes(AGENT_EXITED_MARKER)) return fail('the agent exited');
      if (exitCode !== undefined) return fail(`qemu exited with ${exitCode}`);
      if (Date.now() > deadline) return fail('no ready marker in time');
      await sleep(100);
    }
    let client: AgentClient;
    try {
      client = await AgentClient.connect(controlPort, Math.max(deadline, Date.now() + 5_000));
    } catch (error: unknown) {
      return fail(String(error));
    }
    // If the test process dies without after(), do not leave the VM behind.
    const killOnExit = (): void => {
      qemu.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    void exited.then(() => process.removeListener('exit', killOnExit));
    return new KernelPeer({
      hostPort,
      image,
      bootMs: Date.now() - started,
      qemu,
      client,
      workDir,
      logPath,
      exited,
      udpForwards,
    });
  }

  /** Loads the 9p modules and esp6, mounts the host root at /host and the pseudo file systems in it. */
  async #mountHostRoot(): Promise<void> {
    for (const m of HOST_ROOT_MODULES) await this.run(['/sbin/modprobe', m]);
    const r = GUEST_HOST_ROOT;
    await this.run(['/bin/busybox', 'mkdir', '-p', r]);
    await this.run([
      ...['/bin/busybox', 'mount', '-t', '9p', '-o'],
      'trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose',
      ...['hostroot', r],
    ]);
    await this.run(['/bin/busybox', 'mount', '-t', 'proc', 'proc', `${r}/proc`]);
    await this.run(['/bin/busybox', 'mount', '-t', 'sysfs', 'sysfs', `${r}/sys`]);
    await this.run(['/bin/busybox', 'mount', '-t', 'devtmpfs', 'devtmpfs', `${r}/dev`]);
    // The guest gets a writable /tmp of its own; a project checked out under the host's /tmp (CI
    // clones anywhere) is bound back into it so `hostExec` can still run it.
    await this.run(['/bin/busybox', 'mkdir', '-p', HOST_TMP_VIEW]);
    await this.run(['/bin/busybox', 'mount', '--bind', `${r}/tmp`, HOST_TMP_VIEW]);
    await this.run(['/bin/busybox', 'mount', '-t', 'tmpfs', 'tmpfs', `${r}/tmp`]);
    if (PROJECT_ROOT.startsWith('/tmp/')) {
      const inTmp = PROJECT_ROOT.slice('/tmp/'.length);
      await this.run(['/bin/busybox', 'mkdir', '-p', `${r}/tmp/${inTmp}`]);
      await this.run([
        ...['/bin/busybox', 'mount', '--bind'],
        `${HOST_TMP_VIEW}/${inTmp}`,
        `${r}/tmp/${inTmp}`,
      ]);
    }
  }

  /**
   * Runs a host program chrooted into the host root (`hostRoot` guests only), in `cwd` (a host
   * path), e.g. the host's Node.js against the guest kernel.
   *
   * @example
   * const r = await peer.hostExec([process.execPath, '--version'], { cwd: '/' });
   */
  hostExec(
    argv: readonly string[],
    options: { readonly cwd: string; readonly timeoutMs?: number },
  ): Promise<GuestExecResult> {
    return this.exec(
      [
        '/bin/busybox',
        'chroot',
        GUEST_HOST_ROOT,
        '/usr/bin/env',
        `--chdir=${options.cwd}`,
        ...argv,
      ],
      options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
    );
  }

  /** Runs a program in the guest (argv, no shell) and returns its status and output. */
  async exec(
    argv: readonly string[],
    options: { readonly timeoutMs?: number } = {},
  ): Promise<GuestExecResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    return (await this.#client.request(
      'exec',
      { argv, timeout: timeoutMs / 1000 },
      timeoutMs + 5_000,
    )) as GuestExecResult;
  }

  /**
   * Runs a program in the guest and returns its stdout.
   *
   * @throws GuestCommandError when it exits non-zero
   */
  async run(argv: readonly string[]): Promise<string> {
    const result = await this.exec(argv);
    if (result.code !== 0) throw new GuestCommandError(argv, result);
    return result.stdout;
  }

  /** Runs iproute2's `ip` in the guest (by full path) and returns its stdout. */
  ip(...args: readonly string[]): Promise<string> {
    return this.run([GUEST_IP, ...args]);
  }

  /**
   * Adds a transport-mode ESP SA with UDP encapsulation (RFC 3948) between the guest's port 4500
   * and the host's `hostEncapPort`, addressed as the guest sees it (shared/notes/kernel-peer.md).
   *
   * @example
   * await peer.addTransportSa({ direction: 'in', spi: 0x1000, algorithms: ['aead', 'rfc4106(gcm(aes))', key, '128'], hostEncapPort });
   */
  async addTransportSa(options: KernelSaOptions): Promise<void> {
    const inbound = options.direction === 'in';
    const seq = options.sequenceNumber ?? 0n;
    const host = String(options.hostEncapPort);
    const guest = String(GUEST_ENCAP_PORT);
    await this.ip(
      ...['xfrm', 'state', 'add', 'src', inbound ? HOST_ADDRESS_IN_GUEST : GUEST_ADDRESS],
      ...['dst', inbound ? GUEST_ADDRESS : HOST_ADDRESS_IN_GUEST, 'proto', 'esp'],
      ...['spi', String(options.spi >>> 0), 'mode', 'transport'],
      ...['replay-window', String(options.replayWindow ?? 64)],
      ...(options.esn === true ? ['flag', 'esn'] : []),
      ...(seq === 0n
        ? []
        : [
            inbound ? 'replay-seq' : 'replay-oseq',
            String(seq & 0xffffffffn),
            inbound ? 'replay-seq-hi' : 'replay-oseq-hi',
            String(seq >> 32n),
          ]),
      ...options.algorithms,
      ...['encap', 'espinudp', inbound ? host : guest, inbound ? guest : host, '0.0.0.0'],
    );
  }

  /**
   * Makes the guest's UDP from `appPort` to the host go out through the outbound SA (a `dir out`
   * policy with an ESP transport template). No inbound policy is installed: behind qemu's NAT a
   * template makes decrypted packets fail with XfrmInTmplMismatch.
   */
  async addOutboundPolicy(appPort: number): Promise<void> {
    await this.ip(
      ...['xfrm', 'policy', 'add', 'src', `${GUEST_ADDRESS}/32`],
      ...['dst', `${HOST_ADDRESS_IN_GUEST}/32`, 'proto', '17', 'sport', String(appPort)],
      ...['dir', 'out', 'tmpl', 'src', GUEST_ADDRESS, 'dst', HOST_ADDRESS_IN_GUEST],
      ...['proto', 'esp', 'mode', 'transport'],
    );
  }

  /** Removes every XFRM state and policy of the guest. */
  async flushXfrm(): Promise<void> {
    await this.ip('xfrm', 'policy', 'flush');
    await this.ip('xfrm', 'state', 'flush');
  }

  /** `/proc/net/xfrm_stat` as raw text. */
  xfrmStatText(): Promise<string> {
    return this.run(['/bin/cat', '/proc/net/xfrm_stat']);
  }

  /** `/proc/net/xfrm_stat` as a map, e.g. `XfrmInStateSeqError → 1`. */
  async xfrmStat(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const line of (await this.xfrmStatText()).split('\n')) {
      const m = /^(\w+)\s+(\d+)/.exec(line);
      if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], Number(m[2]));
    }
    return out;
  }

  /**
   * Opens a UDP socket in the guest on 0.0.0.0:`port` that records every datagram; with
   * `echo: true` it also sends each one back to its sender (through XFRM like any app). With
   * `noChecksum: true` (SO_NO_CHECK) it sends IPv4 UDP checksum 0 — useful behind qemu's NAT, where
   * a checksum over the guest's addresses is wrong for the host (RFC 3948 §3.1.2).
   */
  async udpOpen(port: number, options: UdpOpenOptions = {}): Promise<void> {
    await this.#client.request(
      'udp_open',
      { port, echo: options.echo ?? false, noChecksum: options.noChecksum ?? false },
      10_000,
    );
  }

  /** Sends a datagram from the guest socket bound to `port`. */
  async udpSend(port: number, host: string, dport: number, data: Uint8Array): Promise<void> {
    await this.#client.request(
      'udp_send',
      { port, host, dport, data: Buffer.from(data).toString('hex') },
      10_000,
    );
  }

  /**
   * Returns and forgets what the guest socket on `port` received since the last read (port 4500
   * is the ESP-in-UDP socket: it sees only non-ESP traffic). `sendErrors` are echo failures.
   */
  async udpRead(port: number): Promise<{ datagrams: GuestDatagram[]; sendErrors: string[] }> {
    const r = (await this.#client.request('udp_read', { port }, 10_000)) as {
      datagrams: { host: string; port: number; data: string }[];
      sendErrors: string[];
    };
    return {
      datagrams: r.datagrams.map((d) => ({
        host: d.host,
        port: d.port,
        data: new Uint8Array(Buffer.from(d.data, 'hex')),
      })),
      sendErrors: r.sendErrors,
    };
  }

  /** Closes the guest socket on `port` (no-op when it is not open). */
  async udpClose(port: number): Promise<void> {
    await this.#client.request('udp_close', { port }, 10_000);
  }

  /** The serial console log so far (kernel messages, init output). */
  consoleLog(): string {
    try {
      return readFileSync(this.#logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Powers the guest off: closes the agent connection and kills qemu (the pid we started). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#client.close();
    if (this.#qemu.exitCode === null && this.#qemu.signalCode === null) {
      this.#qemu.kill('SIGTERM');
      const timer = setTimeout(() => this.#qemu.kill('SIGKILL'), STOP_GRACE_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.#workDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
