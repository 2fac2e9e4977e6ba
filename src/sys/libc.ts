/**
 * The few libc calls the project needs, bound once through koffi on first use:
 * `socket`, `bind`, `sendto`, `recv`, `poll`, `setsockopt`, `getsockopt`, `close`, `flock`. Pointer
 * arguments are `Uint8Array`s (koffi passes their memory directly); `errno` is read with
 * `koffi.errno()` right after each synchronous call. `poll` also has an asynchronous binding that
 * runs on koffi's worker threads, so waiting for a netlink reply never blocks the event loop.
 */
import { createRequire } from 'node:module';
import { FfiUnavailableError } from './errors.ts';

type Koffi = typeof import('koffi');

/**
 * Loads koffi's native addon on first use only: importing a module that merely could reach the
 * kernel (the userspace backend never does) must not need the addon.
 */
function loadKoffi(): Koffi {
  try {
    return createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err: unknown) {
    throw new FfiUnavailableError('Cannot load the koffi FFI package', { cause: err });
  }
}

/** The bound functions. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Uint8Array, addressLength: number): number;
  sendto(
    fd: number,
    buffer: Uint8Array,
    length: number,
    flags: number,
    address: Uint8Array,
    addressLength: number,
  ): number;
  recv(fd: number, buffer: Uint8Array, length: number, flags: number): number;
  setsockopt(
    fd: number,
    level: number,
    name: number,
    value: Uint8Array | null,
    length: number,
  ): number;
  getsockopt(
    fd: number,
    level: number,
    name: number,
    value: Uint8Array,
    length: Uint8Array,
  ): number;
  close(fd: number): number;
  /** `flock(fd, operation)`. */
  flock(fd: number, operation: number): number;
  /** Asynchronous `poll(fds, nfds, timeoutMs)` on a worker thread. */
  pollAsync(fds: Uint8Array, count: number, timeoutMs: number): Promise<number>;
  /** `errno` of the last synchronous call on this thread. */
  errno(): number;
}

type AsyncFn = (...args: unknown[]) => void;
interface Bound {
  (...args: unknown[]): unknown;
  async: AsyncFn;
}

let cached: Libc | undefined;
let koffiCache: Koffi | undefined;
let libraryCache: ReturnType<Koffi['load']> | undefined;

/**
 * The few koffi calls beyond function binding (native memory and libuv readiness), typed here so
 * that no declaration of this package needs koffi's own types.
 */
export interface KoffiNative {
  /** `length` bytes of native memory (freed with {@link KoffiNative.free}). */
  alloc(length: number): unknown;
  /** The address of native memory. */
  address(pointer: unknown): bigint;
  /** An `ArrayBuffer` over native memory. */
  view(pointer: unknown, length: number): ArrayBuffer;
  free(pointer: unknown): void;
  /** A libuv poll handle on `fd`, calling `callback` when readable or hung up. */
  pollReadable(fd: number, callback: () => void): { close(): void; unref(): void };
  /** A libuv poll handle on `fd` for the given events (restartable with other events). */
  poll(fd: number, events: PollEvents, callback: (ready: PollEvents) => void): PollHandle;
}

/** Readiness events of {@link KoffiNative.poll}. */
export interface PollEvents {
  readonly readable?: boolean;
  readonly writable?: boolean;
  readonly disconnect?: boolean;
}

/** A libuv poll handle (koffi's). */
export interface PollHandle {
  start(events: PollEvents, callback: (ready: PollEvents) => void): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

/** The {@link KoffiNative} calls, loading koffi on first use. */
export function koffiNative(): KoffiNative {
  const koffi = koffiModule();
  return {
    alloc: (length) => koffi.alloc('uint8_t', length),
    address: (pointer) => koffi.address(pointer),
    view: (pointer, length) => koffi.view(pointer, length),
    free: (pointer) => koffi.free(pointer),
    pollReadable: (fd, callback) =>
      koffi.node.poll(fd, { readable: true, disconnect: true }, () => callback()),
    poll: (fd, events, callback) => {
      // koffi calls back with (status, events) — its type declarations name only the events.
      // A failed poll (status < 0) is reported as readable and writable, so that the next
      // system call on the descriptor surfaces the error.
      const adapt = (status: unknown, ready?: PollEvents): void =>
        callback(
          typeof status === 'number' && status < 0
            ? { readable: true, writable: true }
            : (ready ?? (status as PollEvents)),
        );
      const handle = koffi.node.poll(fd, events, adapt as unknown as () => void);
      return {
        start: (next, again) => {
          const adaptAgain = (status: unknown, ready?: PollEvents): void =>
            again(
              typeof status === 'number' && status < 0
                ? { readable: true, writable: true }
                : (ready ?? (status as PollEvents)),
            );
          handle.start(next, adaptAgain as unknown as () => void);
        },
        stop: () => handle.stop(),
        close: () => handle.close(),
        ref: () => handle.ref(),
        unref: () => handle.unref(),
      };
    },
  };
}

/** koffi itself, loaded on first use. */
function koffiModule(): Koffi {
  koffiCache ??= loadKoffi();
  return koffiCache;
}

function library(): ReturnType<Koffi['load']> {
  if (libraryCache !== undefined) return libraryCache;
  if (process.platform !== 'linux') {
    throw new FfiUnavailableError(
      `Cannot load libc: the kernel backend needs Linux, not ${process.platform}`,
    );
  }
  try {
    libraryCache = koffiModule().load('libc.so.6');
  } catch (err: unknown) {
    throw new FfiUnavailableError('Cannot load libc.so.6 through koffi', { cause: err });
  }
  return libraryCache;
}

/**
 * Binds one more libc function by its C declaration (for files of this layer that need a call
 * the {@link Libc} table does not have). Loads koffi and libc on first use.
 */
export function libcFunction(declaration: string): (...args: unknown[]) => unknown {
  return library().func(declaration) as (...args: unknown[]) => unknown;
}

/**
 * Loads libc through koffi (once).
 *
 * @throws {FfiUnavailableError} when not on Linux or koffi cannot load `libc.so.6`.
 */
export function libc(): Libc {
  if (cached !== undefined) return cached;
  const lib = library();
  const koffi = koffiModule();
  const fn = (decl: string): Bound => lib.func(decl) as Bound;
  const socket = fn('int socket(int domain, int type, int protocol)');
  const bind = fn('int bind(int fd, const void *addr, uint32_t addrlen)');
  const sendto = fn(
    'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
  );
  const recv = fn('intptr_t recv(int fd, void *buf, size_t len, int flags)');
  const setsockopt = fn(
    'int setsockopt(int fd, int level, int name, const void *value, uint32_t len)',
  );
  const getsockopt = fn('int getsockopt(int fd, int level, int name, void *value, void *len)');
  const close = fn('int close(int fd)');
  const flock = fn('int flock(int fd, int operation)');
  const poll = fn('int poll(void *fds, unsigned long nfds, int timeout)');
  const num = (v: unknown): number => Number(v);
  cached = {
    socket: (d, t, p) => num(socket(d, t, p)),
    bind: (fd, a, l) => num(bind(fd, a, l)),
    sendto: (fd, b, l, f, a, al) => num(sendto(fd, b, l, f, a, al)),
    recv: (fd, b, l, f) => num(recv(fd, b, l, f)),
    setsockopt: (fd, level, name, v, l) => num(setsockopt(fd, level, name, v, l)),
    getsockopt: (fd, level, name, v, l) => num(getsockopt(fd, level, name, v, l)),
    close: (fd) => num(close(fd)),
    flock: (fd, operation) => num(flock(fd, operation)),
    pollAsync: (fds, count, timeoutMs) =>
      new Promise<number>((resolve, reject) => {
        poll.async(fds, count, timeoutMs, (err: unknown, result: unknown) => {
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else resolve(num(result));
        });
      }),
    errno: () => koffi.errno(),
  };
  return cached;
}
