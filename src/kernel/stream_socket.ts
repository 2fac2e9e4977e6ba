/**
 * TCP sockets and servers under kernel protection: whether a socket has its descriptor yet, how a
 * connecting client gets one before `connect()` (so its SYN is already protected), and the block
 * policy that keeps a socket whose policies could not be installed from sending anything, and
 * the policies that wait for a client socket's `connect()`.
 */
import { Server as NetServer, type Socket as NetSocket } from 'node:net';
import { SocketFdUnavailableError, socketFd } from '../sys/mod.ts';
import { AF_INET, AF_INET6, applySocketPolicy, encodeSocketPolicy } from '../xfrm/mod.ts';
import { KernelStateError } from './errors.ts';

/** A TCP socket or a listening server. */
export type KernelStreamSocket = NetSocket | NetServer;

/** Best effort: an OUT policy with action block, so nothing leaves the socket. */
export function blockOutput(socket: NetSocket, family: number): void {
  try {
    const af = family === 6 ? AF_INET6 : AF_INET;
    applySocketPolicy(
      socket,
      encodeSocketPolicy(
        { direction: 'out', selector: { family: af }, action: 'block' },
        { destination: family === 6 ? '::' : '0.0.0.0', spi: 0, reqid: 0 },
      ),
    );
  } catch {
    // no descriptor: then connect() creates one without policy; destroy() follows at once
  }
}

/** Whether a TCP socket or server has its descriptor yet. */
export function hasDescriptor(socket: KernelStreamSocket): boolean {
  try {
    socketFd(socket);
    return true;
  } catch (err: unknown) {
    if (err instanceof SocketFdUnavailableError) return false;
    throw err;
  }
}

/**
 * Gives a connecting client socket its descriptor before `connect()`: libuv creates it on bind,
 * so bind the handle to the wildcard address of the attempt's family (what `net.connect` does
 * itself when given `localAddress`).
 *
 * @throws {KernelStateError} the handle could not be bound
 */
export function createDescriptor(socket: NetSocket, family: number): void {
  if (hasDescriptor(socket)) return;
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  const h = handle as {
    bind?: (address: string, port: number) => number;
    bind6?: (address: string, port: number, flags: number) => number;
  } | null;
  const status =
    family === 6 ? h?.bind6?.('::', 0, 0) : family === 4 ? h?.bind?.('0.0.0.0', 0) : undefined;
  if (status !== 0 || !hasDescriptor(socket)) {
    throw new KernelStateError(
      `Cannot apply transform: no descriptor for the connecting socket (bind status ${status})`,
    );
  }
}

/** How {@link PendingStreamPolicies} installs and refuses, per owner. */
export interface PendingStreamHooks<Entry> {
  /** Installs every entry on the socket, which has its descriptor now; throws to refuse. */
  install(socket: NetSocket, entries: ReadonlyMap<'in' | 'out', Entry>): void;
  /**
   * Fail closed after `install` threw: the `connect()` system call follows and cannot be stopped,
   * so nothing may leave the socket (it is destroyed right after, with the error returned here).
   */
  refuse(socket: NetSocket, family: number, err: unknown): Error;
}

/**
 * Policies applied to a client TCP socket before `connect()`, which has no descriptor yet (libuv
 * creates it in `connect`): they are installed on `'connectionAttempt'`, emitted synchronously
 * right before the `connect()` system call, after {@link createDescriptor}, so the SYN is
 * protected. Shared by the kernel engine and the IPsec service's client; `Entry` is what each
 * needs to install one direction.
 */
export class PendingStreamPolicies<Entry> {
  readonly #pending = new WeakMap<NetSocket, Map<'in' | 'out', Entry>>();
  readonly #hooks: PendingStreamHooks<Entry>;

  constructor(hooks: PendingStreamHooks<Entry>) {
    this.#hooks = hooks;
  }

  /**
   * Installs `entry` for `direction` right before the socket connects (replacing an earlier one).
   *
   * @throws {KernelStateError} a server not listening, or a socket closed or already connected
   */
  add(socket: KernelStreamSocket, direction: 'in' | 'out', entry: Entry): void {
    if (socket instanceof NetServer || socket.destroyed || socket.remoteAddress !== undefined) {
      throw new KernelStateError(
        socket instanceof NetServer
          ? 'Cannot apply transform: the server is not listening'
          : 'Cannot apply transform: the socket is closed',
      );
    }
    let pending = this.#pending.get(socket);
    if (pending === undefined) {
      const entries = new Map<'in' | 'out', Entry>();
      pending = entries;
      this.#pending.set(socket, entries);
      const onAttempt = (_address: string, _port: number, family: number): void => {
        if (entries.size === 0) return;
        try {
          createDescriptor(socket, family);
          this.#hooks.install(socket, entries);
        } catch (err: unknown) {
          const refused = this.#hooks.refuse(socket, family, err);
          process.nextTick(() => socket.destroy(refused));
        }
      };
      const done = (): void => {
        socket.off('connectionAttempt', onAttempt);
        this.#pending.delete(socket);
      };
      socket.prependListener('connectionAttempt', onAttempt);
      socket.once('connect', done);
      socket.once('close', done);
    }
    pending.set(direction, entry);
  }

  /** Forgets what waits for the socket's connect (both directions). */
  clear(socket: KernelStreamSocket): void {
    if (!(socket instanceof NetServer)) this.#pending.get(socket)?.clear();
  }
}
