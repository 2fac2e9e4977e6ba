/**
 * The client's end of the IPsec service socket: one connection per `IpSecManager`
 * (`backend: 'service'`), requests matched to replies by id, descriptors attached with
 * `SCM_RIGHTS` both ways, errors rebuilt as the classes the in-process backends throw. A lost
 * daemon makes every pending and later call fail with {@link IpSecServiceUnavailableError}.
 */
import {
  closeDescriptor,
  connectUnixStream,
  DescriptorPassingError,
  type DescriptorWatch,
  receiveWithDescriptors,
  sendWithDescriptors,
  watchReadable,
} from '../../sys/descriptor_passing.ts';
import { libc, libcFunction } from '../../sys/libc.ts';
import { HOST_LITTLE_ENDIAN } from '../../sys/netlink/message.ts';
import {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
  ResourceUnavailableError,
  SecurityError,
  SpiUnavailableError,
  TransformClosedError,
  UnsupportedOperationError,
} from '../errors.ts';
import {
  KernelBackendUnavailableError,
  type KernelBackendUnavailableReason,
} from '../kernel_backend.ts';
import {
  encodeFrame,
  type Frame,
  FrameReader,
  KIND_REPLY,
  KIND_REQUEST,
  Op,
  type OpName,
  WIRE_VERSION,
} from './wire.ts';

/** Deadline of one request (a daemon that does not answer is as good as gone). */
const REQUEST_TIMEOUT_MS = 30_000;
const POLLIN = 0x1;
const POLLOUT = 0x4;

/**
 * The IPsec service cannot be reached: nobody listens on the socket path, or the daemon went
 * away. The message names the path.
 *
 * @example
 * ```ts
 * import { IpSecServiceUnavailableError } from 'tsnetd/ipsec';
 * new IpSecServiceUnavailableError('/run/tsnetd/ipsec', 'no daemon listens there').code;
 * // 'ERR_IPSEC_SERVICE_UNAVAILABLE'
 * ```
 */
export class IpSecServiceUnavailableError extends IpSecError {
  readonly path: string;
  constructor(path: string, why: string, options?: ErrorOptions) {
    super(
      `Cannot reach the IPsec service at ${path}: ${why}`,
      'ERR_IPSEC_SERVICE_UNAVAILABLE',
      options,
    );
    this.name = 'IpSecServiceUnavailableError';
    this.path = path;
  }
}

/** The daemon failed a request for a reason that has no class of its own. */
export class IpSecServiceError extends IpSecError {
  constructor(message: string) {
    super(message, 'ERR_IPSEC_SERVICE_FAILED');
    this.name = 'IpSecServiceError';
  }
}

/** A reply: its JSON and the descriptor that came with it (the caller owns it). */
export interface Reply {
  readonly json: Record<string, unknown>;
  readonly descriptor: number | undefined;
}

interface Pending {
  resolve(reply: Reply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

let pollFn: ((...args: unknown[]) => unknown) | undefined;
function pollSync(fd: number, events: number, timeoutMs: number): number {
  pollFn ??= libcFunction('int poll(void *fds, unsigned long nfds, int timeout)');
  const pfd = new Uint8Array(8);
  const view = new DataView(pfd.buffer);
  view.setInt32(0, fd, HOST_LITTLE_ENDIAN);
  view.setInt16(4, events, HOST_LITTLE_ENDIAN);
  return Number(pollFn(pfd, 1, timeoutMs));
}

/** One connection to the daemon. */
export class ServiceConnection {
  readonly path: string;
  readonly #fd: number;
  readonly #reader = new FrameReader();
  readonly #descriptors: number[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #watch: DescriptorWatch;
  #nextId = 1;
  #lost: IpSecServiceUnavailableError | undefined;
  readonly #onLost = new Set<() => void>();
  /** UID the daemon knows this process by. */
  uid = -1;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
    this.#watch = watchReadable(fd, () => this.#pump());
    this.#watch.unref();
  }

  /**
   * Connects and greets the daemon.
   *
   * @throws {IpSecServiceUnavailableError} nobody listens at `path`, or no permission
   */
  static async open(path: string): Promise<ServiceConnection> {
    let fd: number;
    try {
      fd = connectUnixStream(path);
    } catch (err: unknown) {
      const why =
        err instanceof DescriptorPassingError
          ? err.errno === 2
            ? 'no such socket (is tsnetd running with --ipsec-socket?)'
            : err.errno === 111
              ? 'no daemon listens there'
              : err.errno === 13
                ? 'permission denied (see --ipsec-group)'
                : err.message
          : String(err);
      throw new IpSecServiceUnavailableError(path, why, { cause: err });
    }
    const connection = new ServiceConnection(path, fd);
    try {
      const hello = await connection.request('hello', { version: WIRE_VERSION });
      connection.uid = typeof hello.json.uid === 'number' ? hello.json.uid : -1;
    } catch (err: unknown) {
      connection.close();
      throw err;
    }
    return connection;
  }

  /** Whether the daemon went away. */
  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /** Called once when the daemon goes away. */
  onLost(listener: () => void): void {
    this.#onLost.add(listener);
  }

  #frame(op: OpName, json: Record<string, unknown>, secret?: Uint8Array, fd?: number) {
    const requestId = this.#nextId++;
    const bytes = encodeFrame(
      KIND_REQUEST,
      Op[op],
      requestId,
      json,
      secret,
      fd === undefined ? 0 : 1,
    );
    return { requestId, bytes };
  }

  #write(bytes: Uint8Array, fd: number | undefined): void {
    let offset = 0;
    let first = true;
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    try {
      while (offset < bytes.length) {
        const n = sendWithDescriptors(
          this.#fd,
          bytes.subarray(offset),
          first && fd !== undefined ? [fd] : [],
        );
        if (n > 0) {
          offset += n;
          first = false;
          continue;
        }
        if (Date.now() > deadline) throw new Error('the daemon does not read');
        pollSync(this.#fd, POLLOUT, 100);
      }
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * Sends one request and waits for its reply. `secret` is zeroed once sent; `descriptor` (the
   * caller's) travels with it and stays the caller's.
   */
  request(
    op: OpName,
    json: Record<string, unknown>,
    secret?: Uint8Array,
    descriptor?: number,
  ): Promise<Reply> {
    if (this.#lost !== undefined) {
      secret?.fill(0);
      return Promise.reject(this.#lost);
    }
    const { requestId, bytes } = this.#frame(op, json, secret, descriptor);
    secret?.fill(0);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        this.#fail(`no reply to ${op} within ${REQUEST_TIMEOUT_MS} ms`);
        reject(this.#lost ?? new IpSecServiceUnavailableError(this.path, 'no reply'));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(requestId, { resolve, reject, timer });
      try {
        this.#write(bytes, descriptor);
      } catch (err: unknown) {
        this.#fail(err instanceof Error ? err.message : String(err));
      }
    });
  }

  /**
   * The same, blocking the event loop until the reply is in (a TCP socket's policy must be on it
   * before Node's `connect()` system call, which follows a synchronous event).
   */
  requestSync(op: OpName, json: Record<string, unknown>, descriptor?: number): Reply {
    if (this.#lost !== undefined) throw this.#lost;
    const { requestId, bytes } = this.#frame(op, json, undefined, descriptor);
    let result: Reply | Error | undefined;
    const timer = setTimeout(() => undefined, 0);
    clearTimeout(timer);
    this.#pending.set(requestId, {
      resolve: (r) => {
        result = r;
      },
      reject: (e) => {
        result = e;
      },
      timer,
    });
    this.#write(bytes, descriptor);
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    while (result === undefined) {
      if (this.#lost !== undefined) throw this.#lost;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#fail(`no reply to ${op}`);
        throw this.#lost ?? new IpSecServiceUnavailableError(this.path, 'no reply');
      }
      pollSync(this.#fd, POLLIN, Math.min(left, 1000));
      this.#pump();
    }
    if (result instanceof Error) throw result;
    return result;
  }

  #pump(): void {
    if (this.#lost !== undefined) return;
    try {
      for (;;) {
        const message = receiveWithDescriptors(this.#fd, 65536, 2);
        if (message === 'again') return;
        if (message === 'eof') {
          this.#fail('the daemon closed the connection');
          return;
        }
        this.#descriptors.push(...message.descriptors);
        const frames = this.#reader.push(message.data);
        message.data.fill(0);
        for (const frame of frames) this.#deliver(frame);
      }
    } catch (err: unknown) {
      this.#fail(err instanceof Error ? err.message : String(err));
    }
  }

  #deliver(frame: Frame): void {
    const descriptors = this.#descriptors.splice(0, frame.descriptors);
    const pending = this.#pending.get(frame.requestId);
    if (frame.kind !== KIND_REPLY || pending === undefined) {
      for (const d of descriptors) closeDescriptor(d);
      return;
    }
    this.#pending.delete(frame.requestId);
    clearTimeout(pending.timer);
    const error = frame.json.error;
    if (typeof error === 'object' && error !== null) {
      for (const d of descriptors) closeDescriptor(d);
      pending.reject(rebuildError(error as Record<string, unknown>));
      return;
    }
    pending.resolve({ json: frame.json, descriptor: descriptors[0] });
  }

  #fail(why: string): void {
    if (this.#lost !== undefined) return;
    this.#lost = new IpSecServiceUnavailableError(this.path, why);
    this.#watch.close();
    libc().close(this.#fd);
    this.#reader.clear();
    for (const d of this.#descriptors.splice(0)) closeDescriptor(d);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.#lost);
    }
    this.#pending.clear();
    for (const listener of this.#onLost) listener();
  }

  /** Closes the connection: the daemon releases everything created through it. */
  close(): void {
    this.#fail('the connection was closed');
  }
}

/** The error class the daemon reported, rebuilt. */
function rebuildError(error: Record<string, unknown>): Error {
  const name = typeof error.name === 'string' ? error.name : 'Error';
  const message = typeof error.message === 'string' ? error.message : 'unknown error';
  switch (name) {
    case 'IllegalArgumentError':
      return new IllegalArgumentError(message);
    case 'IllegalStateError':
      return new IllegalStateError(message);
    case 'ResourceUnavailableError':
      return new ResourceUnavailableError(message);
    case 'SecurityError':
      return new SecurityError(message);
    case 'UnsupportedOperationError':
      return new UnsupportedOperationError(message);
    case 'TransformClosedError':
      return new TransformClosedError(message);
    case 'DestinationMismatchError':
      return new DestinationMismatchError(message);
    case 'SpiUnavailableError':
      return new SpiUnavailableError(typeof error.spi === 'number' ? error.spi : 0);
    case 'KernelBackendUnavailableError': {
      const reason = error.reason;
      const r: KernelBackendUnavailableReason =
        reason === 'no-permission' || reason === 'no-xfrm' ? reason : 'no-esp';
      return new KernelBackendUnavailableError(r, 'reported by the IPsec service');
    }
    default:
      return new IpSecServiceError(`The IPsec service failed: ${name}: ${message}`);
  }
}
