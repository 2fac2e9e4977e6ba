/**
 * The netd Unix stream socket server (netd's FrameworkListener framing): one `ProtocolSession` per
 * connection, replies NUL-terminated, pipelined requests answered in order, many clients.
 *
 * Socket file, safe against other local users and against a second daemon:
 * - its directory must be a real directory (not a symlink) owned by the daemon's user and not
 *   writable by group or others, and every directory above it must not be writable by others
 *   unless sticky — otherwise start-up stops with `UnsafeSocketDirectoryError`;
 * - `<socket>.lock` is locked (`flock`) for the daemon's lifetime: a second daemon on the same
 *   path gets `DaemonRunningError`, and a socket file found while holding the lock is stale by
 *   construction, so replacing it cannot race with a live daemon;
 * - the socket is created by `bind` (which never follows a symlink) under umask 0o117, i.e.
 *   mode 0660, then given to the netutils group with `lchown` (never through a link).
 *
 * Fair service: at most `maxConnections` clients, and at most `maxConnectionsPerUid` from any
 * one non-root user; a connection with no request in flight that completes no request for
 * `idleTimeoutMs` is closed (a trickle of bytes without a NUL does not count as activity). Memory per connection is bounded: at most `MAX_INBOX_BYTES` of
 * unprocessed input (reading pauses beyond it), one request at a time, and a reply that does
 * not fit the socket's send buffer holds back the next request until it drains, so a client
 * that never reads costs a few KiB that are freed when it leaves. A client that half-closes
 * (`shutdown(SHUT_WR)`) still gets every reply, then the daemon closes its side.
 *
 * With a `NetutilsService`, every request is authorised from the kernel's peer credentials:
 * root may do everything, a member of the netutils group is held to the wrapper's rules (also
 * for plain netd commands), anybody else gets `502 Permission denied`.
 */
import { lchownSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { FileLock, FileLockError, peerCredentials, peerGroups } from '../sys/mod.ts';
import { DaemonRunningError, SocketPathInUseError, UnsafeSocketDirectoryError } from './errors.ts';
import {
  NetutilsConnection,
  type NetutilsService,
  type PeerIdentity,
  type RunChannel,
} from './netutils_service.ts';
import type { Frame } from './protocol/request_framer.ts';
import { RequestFramer } from './protocol/request_framer.ts';
import { formatReply, type Reply } from './protocol/response.ts';
import { type CommandExecutor, ProtocolSession } from './protocol/session.ts';
import { CMD_BUF_SIZE, tokenize } from './protocol/tokenize.ts';

/** Socket path of the daemon unless configured (`/dev/socket/netd` on Android). */
export const DEFAULT_SOCKET_PATH = '/run/tsnetd/netd';
/** File mode of the socket. */
export const SOCKET_MODE = 0o660;
/** Unprocessed input kept per connection before reading from it pauses. */
export const MAX_INBOX_BYTES = 8 * 1024;
/** Connections at most (root is not refused). */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Connections at most per non-root user. */
export const DEFAULT_MAX_CONNECTIONS_PER_UID = 16;
/** Silence after which a connection with no request in flight is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 1000;
const TOO_MANY_CONNECTIONS = 521;

/** Options of {@link NetdServer.listen}. */
export interface NetdServerOptions {
  readonly socketPath: string;
  /** Runs a tokenized command (usually `Netd.execute`). */
  readonly execute: CommandExecutor;
  /** Receives one line per event (connections, requests) when set. */
  readonly log?: (line: string) => void;
  /** Maximum simultaneous clients (root is always admitted). Default 256. */
  readonly maxConnections?: number;
  /** Maximum simultaneous clients per non-root uid. Default 16. */
  readonly maxConnectionsPerUid?: number;
  /** Idle timeout in milliseconds. Default 120 000. */
  readonly idleTimeoutMs?: number;
  /** Authorisation and the `netutils` verb; without it, access is what the socket mode allows. */
  readonly netutils?: NetutilsService;
}

/** Whether something accepts connections on `path` (a live daemon). */
export function probeSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(true);
    }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * Refuses a socket directory someone else could write: the directory itself must be ours and
 * not writable by group or others; the ones above it must not be writable by others unless
 * sticky.
 *
 * @throws {UnsafeSocketDirectoryError}
 */
export function assertSafeSocketDirectory(socketPath: string): void {
  const euid = process.geteuid?.() ?? 0;
  const dir = dirname(socketPath);
  const st = lstatSync(dir);
  if (st.isSymbolicLink())
    throw new UnsafeSocketDirectoryError(socketPath, dir, 'is a symbolic link');
  if (!st.isDirectory())
    throw new UnsafeSocketDirectoryError(socketPath, dir, 'is not a directory');
  if (st.uid !== euid)
    throw new UnsafeSocketDirectoryError(socketPath, dir, `is owned by uid ${st.uid}, not ${euid}`);
  if ((st.mode & 0o022) !== 0)
    throw new UnsafeSocketDirectoryError(socketPath, dir, 'is writable by group or others');
  for (let up = dirname(dir); ; up = dirname(up)) {
    const s = statSync(up);
    const sticky = (s.mode & 0o1000) !== 0;
    if (s.uid !== 0 && s.uid !== euid)
      throw new UnsafeSocketDirectoryError(socketPath, up, `is owned by uid ${s.uid}`);
    if ((s.mode & 0o002) !== 0 && !sticky)
      throw new UnsafeSocketDirectoryError(socketPath, up, 'is writable by others');
    if (up === '/') break;
  }
}

async function prepareSocketPath(path: string): Promise<FileLock> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  assertSafeSocketDirectory(path);
  let lock: FileLock;
  try {
    lock = FileLock.acquire(`${path}.lock`);
  } catch (error: unknown) {
    if (error instanceof FileLockError && error.reason === 'held')
      throw new DaemonRunningError(path);
    throw error;
  }
  try {
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return lock;
      throw error;
    }
    if (!isSocket) throw new SocketPathInUseError(path);
    // A daemon of an older build holds no lock: still never take a live socket away.
    if (await probeSocket(path)) throw new DaemonRunningError(path);
    unlinkSync(path);
    return lock;
  } catch (error: unknown) {
    lock.release();
    throw error;
  }
}

function describe(argvText: string): string {
  return JSON.stringify(argvText.length > 200 ? `${argvText.slice(0, 200)}…` : argvText);
}

function identify(socket: Socket): PeerIdentity | undefined {
  try {
    const { pid, uid, gid } = peerCredentials(socket);
    return { pid, uid, gid, groups: peerGroups(socket) };
  } catch {
    return undefined;
  }
}

/** Counters for tests and diagnostics. */
export interface NetdServerStats {
  /** Open connections. */
  readonly connections: number;
  /** Unprocessed input bytes held across all connections. */
  readonly inboxBytes: number;
  /** Connections refused by the total or per-uid cap. */
  readonly refusedConnections: number;
  /** Connections closed by the idle timeout. */
  readonly idleClosed: number;
}

/**
 * A listening netd socket.
 *
 * @example
 * ```ts
 * const netd = await Netd.start(new KernelLinuxNet());
 * const server = await NetdServer.listen({ socketPath: '/run/tsnetd/netd', execute: (argv) => netd.execute(argv) });
 * // …
 * await server.close();
 * await netd.shutdown();
 * ```
 */
export class NetdServer {
  readonly #server: Server;
  readonly #socketPath: string;
  readonly #lock: FileLock;
  readonly #sockets = new Set<Socket>();
  readonly #inboxes = new Map<Socket, () => number>();
  readonly #perUid = new Map<number, number>();
  readonly #options: NetdServerOptions;
  readonly #log: ((line: string) => void) | undefined;
  #requestCount = 0;
  #connectionCount = 0;
  #refused = 0;
  #idleClosed = 0;
  #closed: Promise<void> | undefined;

  private constructor(server: Server, lock: FileLock, options: NetdServerOptions) {
    this.#server = server;
    this.#socketPath = options.socketPath;
    this.#lock = lock;
    this.#options = options;
    this.#log = options.log;
  }

  /** Prepares the path, listens with mode 0660 (group: the netutils group) and returns the server. */
  static async listen(options: NetdServerOptions): Promise<NetdServer> {
    const lock = await prepareSocketPath(options.socketPath);
    try {
      const server = createServer({ allowHalfOpen: true });
      const netdServer = new NetdServer(server, lock, options);
      server.on('connection', (socket) => netdServer.#accept(socket));
      const previous = process.umask(0o117);
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(options.socketPath, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } finally {
        process.umask(previous);
      }
      const gid = options.netutils?.groupId;
      if (gid !== undefined) lchownSync(options.socketPath, -1, gid);
      const st = lstatSync(options.socketPath);
      if (!st.isSocket() || (st.mode & 0o777) !== SOCKET_MODE)
        throw new SocketPathInUseError(options.socketPath);
      server.on('error', (error) => netdServer.#log?.(`server error: ${error.message}`));
      return netdServer;
    } catch (error: unknown) {
      lock.release();
      throw error;
    }
  }

  /** The socket path. */
  get socketPath(): string {
    return this.#socketPath;
  }

  /** Requests framed so far on all connections (including malformed ones). */
  get requestCount(): number {
    return this.#requestCount;
  }

  /** Connections accepted so far. */
  get connectionCount(): number {
    return this.#connectionCount;
  }

  /** Current counters. */
  stats(): NetdServerStats {
    let inboxBytes = 0;
    for (const size of this.#inboxes.values()) inboxBytes += size();
    return {
      connections: this.#sockets.size,
      inboxBytes,
      refusedConnections: this.#refused,
      idleClosed: this.#idleClosed,
    };
  }

  #accept(socket: Socket): void {
    const peer = identify(socket);
    const uid = peer?.uid ?? -1;
    const maxTotal = this.#options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const maxPerUid = this.#options.maxConnectionsPerUid ?? DEFAULT_MAX_CONNECTIONS_PER_UID;
    const mine = this.#perUid.get(uid) ?? 0;
    if (uid !== 0 && (this.#sockets.size >= maxTotal || mine >= maxPerUid)) {
      this.#refused += 1;
      this.#log?.(`connection refused: uid ${uid} has ${mine}, ${this.#sockets.size} open`);
      socket.on('error', () => undefined);
      socket.end(
        `${formatReply({ code: TOO_MANY_CONNECTIONS, message: `Too many connections (uid ${uid})` }, 0)}\0`,
        'latin1',
      );
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.#perUid.set(uid, mine + 1);
    this.#connectionCount += 1;
    const id = this.#connectionCount;
    this.#sockets.add(socket);
    this.#log?.(
      `connection ${id} opened${peer === undefined ? '' : ` (uid ${peer.uid}, pid ${peer.pid})`}`,
    );
    this.#serve(socket, id, peer);
  }

  #serve(socket: Socket, id: number, peer: PeerIdentity | undefined): void {
    const netutils = this.#options.netutils;
    const role = netutils?.roleOf(peer) ?? 'root';
    const netutilsState = new NetutilsConnection();
    const ended = new AbortController();
    const controlFramer = new RequestFramer();
    let control: ((argv: readonly string[]) => void) | undefined;
    let pending: Buffer = Buffer.alloc(0);
    let busy = false;
    let inputEnded = false;
    let closed = false;
    this.#inboxes.set(socket, () => pending.length);

    const waitForDrain = (): Promise<void> =>
      new Promise((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    const writeLines = async (lines: readonly string[]): Promise<void> => {
      if (closed || !socket.writable) return;
      let flushed = true;
      for (const line of lines) flushed = socket.write(`${line}\0`, 'latin1');
      // Backpressure: nothing more for this client until its replies are taken.
      if (!flushed) await waitForDrain();
    };

    const session: ProtocolSession = new ProtocolSession((argv) => execute(argv));
    const channel: RunChannel = {
      send: (reply: Reply) => writeLines([formatReply(reply, session.seq)]),
      ended: ended.signal,
      onControl: (handler) => {
        control = handler;
        if (handler !== undefined && pending.length > 0) {
          // Requests already received after `run` are control requests too.
          const bytes = pending;
          pending = Buffer.alloc(0);
          feedControl(bytes);
        }
      },
    };
    const feedControl = (bytes: Buffer): void => {
      for (const frame of controlFramer.push(bytes)) {
        if (frame.kind !== 'request') continue;
        const tokens = tokenize(frame.text, 0);
        if (tokens.ok) control?.(tokens.argv);
      }
    };
    const execute = async (argv: readonly string[]): Promise<Reply[]> => {
      if (argv[0] === 'netutils') {
        if (netutils === undefined) return [{ code: 500, message: 'Command not recognized' }];
        if (role === 'denied') return [netutils.permissionDenied(peer)];
        return netutils.handle(argv, netutilsState, channel);
      }
      if (netutils !== undefined && role === 'denied') return [netutils.permissionDenied(peer)];
      if (netutils !== undefined && role === 'member') {
        const refusal = netutils.checkNdc(argv);
        if (refusal !== undefined) return [refusal];
      }
      return this.#options.execute(argv);
    };

    /** The frames of the next NUL-terminated piece; `undefined` when more input is needed. */
    const nextFrames = (): Frame[] | undefined => {
      const nul = pending.indexOf(0);
      if (nul === -1) {
        if (pending.length < CMD_BUF_SIZE) return undefined;
        // Over-long request: the framer answers it and skips to the next NUL.
        const frames = session.push(pending);
        pending = Buffer.alloc(0);
        return frames;
      }
      const piece = pending.subarray(0, nul + 1);
      pending = nul + 1 === pending.length ? Buffer.alloc(0) : pending.subarray(nul + 1);
      return session.push(piece);
    };

    const handle = async (frame: Frame): Promise<void> => {
      this.#requestCount += 1;
      if (this.#log !== undefined) {
        this.#log(
          `request ${this.#requestCount} on connection ${id}: ${frame.kind === 'request' ? describe(frame.text) : '(too large)'}`,
        );
      }
      let lines: string[];
      try {
        lines = await session.handle(frame);
        // A request that could not be parsed may have been part of a `netutils` command.
        if (frame.kind === 'too-large' || (lines.length === 1 && lines[0]!.startsWith('500 ')))
          netutilsState.broken = true;
      } catch (error: unknown) {
        // A defect in a handler: answer like an unexpected failure, keep the daemon up.
        this.#log?.(
          `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        lines = [`400 ${session.seq} Internal error`];
      }
      await writeLines(lines);
    };

    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          if (closed) return;
          const frames = nextFrames();
          if (frames === undefined) break;
          for (const frame of frames) {
            if (closed) return;
            await handle(frame);
            armIdle();
          }
        }
      } finally {
        busy = false;
      }
      if (pending.length <= MAX_INBOX_BYTES && socket.isPaused() && !closed) socket.resume();
      // Half-closed client: every complete request has been answered; close our side too.
      if (inputEnded && !closed && socket.writable) socket.end();
    };

    const idleMs = this.#options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      if (closed) return;
      idleTimer = setTimeout(() => {
        idleTimer = undefined;
        if (closed) return;
        if (busy || control !== undefined) {
          armIdle(); // a command (or a tool) is running: not idle
          return;
        }
        this.#idleClosed += 1;
        this.#log?.(`connection ${id} idle for ${idleMs} ms, closing`);
        socket.destroy();
      }, idleMs);
      idleTimer.unref();
    };
    armIdle();

    socket.on('data', (chunk: Buffer) => {
      // Bytes alone do not keep a connection alive (a slow trickle would hold it forever):
      // only complete requests re-arm the idle timer.
      if (control !== undefined) {
        feedControl(chunk);
        return;
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length > MAX_INBOX_BYTES) socket.pause();
      void pump();
    });
    socket.on('end', () => {
      inputEnded = true;
      // The caller of a running tool is gone (or stopped talking): the tool goes too.
      ended.abort();
      void pump();
    });
    socket.on('error', () => {
      // Client went away (EPIPE/ECONNRESET): nothing to do but forget it.
    });
    socket.on('close', () => {
      closed = true;
      pending = Buffer.alloc(0);
      ended.abort();
      if (idleTimer !== undefined) clearTimeout(idleTimer);
      this.#sockets.delete(socket);
      this.#inboxes.delete(socket);
      const uid = peer?.uid ?? -1;
      const left = (this.#perUid.get(uid) ?? 1) - 1;
      if (left <= 0) this.#perUid.delete(uid);
      else this.#perUid.set(uid, left);
      this.#log?.(`connection ${id} closed`);
    });
  }

  /** Stops accepting, drops the clients, removes the socket file and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await stopped;
      try {
        unlinkSync(this.#socketPath);
      } catch (error: unknown) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      } finally {
        this.#lock.release();
      }
    })();
    return this.#closed;
  }
}
