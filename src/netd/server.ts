/**
 * The netd Unix stream socket server (netd's FrameworkListener framing): one `ProtocolSession` per
 * connection, replies NUL-terminated, pipelined requests answered in order, many clients.
 *
 * Socket file: created under umask 0o117 and then chmod 0660 (netd.rc `socket netd stream
 * 0660`). An existing path is probed first: if a daemon answers, listening is refused with
 * `DaemonRunningError`; a stale socket (connection refused) is removed; a path that is not a
 * socket is never removed (`SocketPathInUseError`).
 *
 * Bounds: at most `maxConnections` clients; a client with `MAX_PENDING_FRAMES` unanswered
 * requests is paused until its replies are written, and a reply that does not fit the socket's
 * send buffer holds back the client's next request until it drains, so a client that never
 * reads cannot make the daemon buffer replies without limit. Malformed input only ever produces `500` replies.
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { SerialQueue } from '../sys/serial_queue.ts';
import { DaemonRunningError, SocketPathInUseError } from './errors.ts';
import type { Frame } from './protocol/request_framer.ts';
import { type CommandExecutor, ProtocolSession } from './protocol/session.ts';

/** Socket path of the daemon unless configured (`/dev/socket/netd` on Android). */
export const DEFAULT_SOCKET_PATH = '/run/tsnetd/netd';
/** File mode of the socket. */
export const SOCKET_MODE = 0o660;
/** Unanswered frames per connection before reading from it pauses. */
export const MAX_PENDING_FRAMES = 64;
const DEFAULT_MAX_CONNECTIONS = 256;
const PROBE_TIMEOUT_MS = 1000;

/** Options of {@link NetdServer.listen}. */
export interface NetdServerOptions {
  readonly socketPath: string;
  /** Runs a tokenized command (usually `Netd.execute`). */
  readonly execute: CommandExecutor;
  /** Receives one line per event (connections, requests) when set. */
  readonly log?: (line: string) => void;
  /** Maximum simultaneous clients. Default 256. */
  readonly maxConnections?: number;
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

async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isSocket) throw new SocketPathInUseError(path);
  if (await probeSocket(path)) throw new DaemonRunningError(path);
  await unlink(path);
}

function waitForDrain(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function describe(argvText: string): string {
  return JSON.stringify(argvText.length > 200 ? `${argvText.slice(0, 200)}…` : argvText);
}

/**
 * A listening netd socket.
 *
 * @example
 * ```ts
 * const netd = await Netd.start(new IpRouteLinuxNet());
 * const server = await NetdServer.listen({ socketPath: '/run/tsnetd/netd', execute: (argv) => netd.execute(argv) });
 * // …
 * await server.close();
 * await netd.shutdown();
 * ```
 */
export class NetdServer {
  readonly #server: Server;
  readonly #socketPath: string;
  readonly #sockets = new Set<Socket>();
  readonly #log: ((line: string) => void) | undefined;
  #requestCount = 0;
  #connectionCount = 0;
  #closed: Promise<void> | undefined;

  private constructor(
    server: Server,
    socketPath: string,
    log: ((line: string) => void) | undefined,
  ) {
    this.#server = server;
    this.#socketPath = socketPath;
    this.#log = log;
  }

  /** Prepares the path, listens with mode 0660 and returns the server. */
  static async listen(options: NetdServerOptions): Promise<NetdServer> {
    await prepareSocketPath(options.socketPath);
    const server = createServer({ allowHalfOpen: false });
    server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const netdServer = new NetdServer(server, options.socketPath, options.log);
    server.on('connection', (socket) => netdServer.#accept(socket, options.execute));
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
    await chmod(options.socketPath, SOCKET_MODE);
    server.on('error', (error) => netdServer.#log?.(`server error: ${error.message}`));
    return netdServer;
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

  #accept(socket: Socket, execute: CommandExecutor): void {
    this.#connectionCount += 1;
    const id = this.#connectionCount;
    this.#sockets.add(socket);
    this.#log?.(`connection ${id} opened`);
    const session = new ProtocolSession(execute);
    let pending = 0;
    const queue = new SerialQueue();

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
      } catch (error: unknown) {
        // A defect in a handler: answer like an unexpected failure, keep the daemon up.
        this.#log?.(
          `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        lines = [`400 ${session.seq} Internal error`];
      }
      if (!socket.destroyed && socket.writable) {
        let flushed = true;
        for (const line of lines) flushed = socket.write(`${line}\0`, 'latin1');
        // Backpressure: the next request of this client waits until its replies are taken.
        if (!flushed) await waitForDrain(socket);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      for (const frame of session.push(chunk)) {
        pending += 1;
        if (pending >= MAX_PENDING_FRAMES) socket.pause();
        void queue
          .run(() => handle(frame))
          .catch(() => undefined)
          .finally(() => {
            pending -= 1;
            if (pending < MAX_PENDING_FRAMES / 2 && socket.isPaused() && !socket.destroyed)
              socket.resume();
          });
      }
    });
    socket.on('error', () => {
      // Client went away (EPIPE/ECONNRESET): nothing to do but forget it.
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#log?.(`connection ${id} closed`);
    });
  }

  /** Stops accepting, drops the clients and removes the socket file. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await stopped;
      try {
        await unlink(this.#socketPath);
      } catch (error: unknown) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    })();
    return this.#closed;
  }
}
