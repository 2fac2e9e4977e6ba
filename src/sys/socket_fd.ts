/**
 * The OS file descriptor behind a Node socket (`dgram.Socket`, `net.Socket`, `net.Server`), or a
 * raw descriptor given as a number. Node has no public API for it; the libuv handle carries it.
 * Every koffi call on a socket's own descriptor (socket options, peer credentials, descriptor
 * passing) starts here.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { SocketFdUnavailableError } from './errors.ts';

/** A Node socket whose descriptor a koffi call may use, or a raw descriptor. */
export type SocketLike = dgram.Socket | net.Socket | net.Server | number;

interface FdHolder {
  readonly fd?: unknown;
}

function handleOf(socket: object): FdHolder | undefined {
  // net.Socket / net.Server keep the libuv handle in `_handle` (public enough: not deprecated).
  if ('_handle' in socket && !isDgram(socket)) {
    const handle: unknown = socket._handle;
    return typeof handle === 'object' && handle !== null ? (handle as FdHolder) : undefined;
  }
  // dgram.Socket: `_handle` is a runtime-deprecated getter (DEP0112); the handle lives in the
  // socket's internal state object under Symbol('state symbol') (Node 20–24).
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (symbol === undefined) return undefined;
  const state: unknown = (socket as Record<symbol, unknown>)[symbol];
  if (typeof state !== 'object' || state === null || !('handle' in state)) return undefined;
  const handle: unknown = state.handle;
  return typeof handle === 'object' && handle !== null ? (handle as FdHolder) : undefined;
}

function isDgram(socket: object): boolean {
  return Object.getOwnPropertySymbols(socket).some((s) => s.description === 'state symbol');
}

/**
 * The OS file descriptor of a Node socket (or `socket` itself when it is a number). A
 * `dgram.Socket` has one only after `bind()` completed; a `net.Socket` once connecting started.
 *
 * @throws {SocketFdUnavailableError} when the socket has no descriptor (not bound/connected yet,
 *   closed, or a Node version that hides the handle).
 * @example
 * ```ts
 * const udp = dgram.createSocket('udp4');
 * udp.bind(0, () => console.log(socketFd(udp))); // e.g. 21
 * ```
 */
export function socketFd(socket: SocketLike): number {
  if (typeof socket === 'number') {
    if (!Number.isInteger(socket) || socket < 0)
      throw new SocketFdUnavailableError(`Cannot use descriptor ${socket}: not a valid descriptor`);
    return socket;
  }
  const fd = handleOf(socket)?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new SocketFdUnavailableError(
      'Cannot get the socket descriptor: the socket is not bound or connected yet, or already closed',
    );
  }
  return fd;
}
