/**
 * TCP sockets and servers under kernel protection: whether a socket has its descriptor yet, how a
 * connecting client gets one before `connect()` (so its SYN is already protected), and the block
 * policy that keeps a socket whose policies could not be installed from sending anything.
 */
import type { Socket as NetSocket, Server } from 'node:net';
import { SocketFdUnavailableError, socketFd } from '../sys/mod.ts';
import { AF_INET, AF_INET6, applySocketPolicy, encodeSocketPolicy } from '../xfrm/mod.ts';
import { KernelStateError } from './errors.ts';

/** A TCP socket or a listening server. */
export type KernelStreamSocket = NetSocket | Server;

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
