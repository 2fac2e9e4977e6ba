/**
 * A UDP encapsulation socket of the kernel backend: a `dgram` socket bound to the wildcard address
 * with `UDP_ENCAP_ESPINUDP` set, so the kernel decapsulates the ESP arriving on it and eats
 * NAT-keepalives (RFC 3948 §2.2, §2.3); what reaches the socket is IKE, non-ESP marker included.
 * While SAs send through it, a NAT-keepalive (one byte 0xFF) goes to each of their peers on an
 * interval: through the injected {@link KeepaliveScheduler} (the one the userspace data path uses
 * too, one sliced pass per interval over a per-socket peer index), or a timer of this socket.
 */
import type { RemoteInfo as DgramRemoteInfo, Socket } from 'node:dgram';
import { KernelStateError } from './errors.ts';

/** The NAT-keepalive datagram (RFC 3948 §2.3). */
const KEEPALIVE = Uint8Array.of(0xff);

/**
 * A keepalive scheduler shared with the userspace data path (structurally the data path's
 * `NatKeepaliveScheduler`; this layer cannot import it, so the ipsec layer injects it).
 */
export interface KeepaliveScheduler {
  register(send: (address: string, port: number) => void): {
    readonly targets: {
      add(address: string, port: number): void;
      remove(address: string, port: number): void;
    };
    close(): void;
  };
}

/** An SA sending through the socket, as the keepalives see it (a `KernelSa`, or the service client's). */
export interface KeepaliveTarget {
  readonly destinationAddress: string;
  /** The peer's encapsulation port. */
  readonly remotePort: number;
}

/** Remote end of a received datagram. */
export interface KernelRemoteInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
  readonly size: number;
}

/**
 * An open encapsulation socket. Opened by {@link KernelEngine.openEncapSocket}.
 *
 * @example
 * ```ts
 * // see KernelEngine.openEncapSocket
 * ```
 */
export class KernelEncapSocket {
  readonly udp: Socket;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
  readonly #keepaliveIntervalMs: number;
  readonly #remotes = new Set<KeepaliveTarget>();
  #timer: NodeJS.Timeout | undefined;
  #receiver: ((message: Buffer, rinfo: KernelRemoteInfo) => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #onClosed: (s: KernelEncapSocket) => void;
  readonly #shared: ReturnType<KeepaliveScheduler['register']> | undefined;

  constructor(
    udp: Socket,
    family: 'IPv4' | 'IPv6',
    keepaliveIntervalMs: number,
    onClosed: (s: KernelEncapSocket) => void,
    scheduler?: (intervalMs: number) => KeepaliveScheduler,
  ) {
    this.udp = udp;
    this.family = family;
    this.port = udp.address().port;
    this.#keepaliveIntervalMs = keepaliveIntervalMs;
    // No completion callback per keepalive: with many peers the completions would run in one
    // batch and block the event loop; errors reach the socket's 'error' listener.
    this.#shared =
      keepaliveIntervalMs > 0 && scheduler !== undefined
        ? scheduler(keepaliveIntervalMs).register((address, port) => {
            if (this.#closed === undefined) udp.send(KEEPALIVE, port, address);
          })
        : undefined;
    this.#onClosed = onClosed;
    udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) =>
      this.#receiver?.(msg, { ...rinfo, family: family }),
    );
    udp.on('error', () => undefined);
  }

  /** Sends one datagram from the encapsulation port as it is (IKE, marker included). */
  sendIke(datagram: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed !== undefined) {
      return Promise.reject(new KernelStateError('Cannot send: the socket is closed'));
    }
    return new Promise((resolve, reject) => {
      this.udp.send(datagram, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Installs (or with `undefined` removes) the receiver of IKE datagrams. */
  setIkeReceiver(receiver: ((message: Buffer, rinfo: KernelRemoteInfo) => void) | undefined): void {
    this.#receiver = receiver;
  }

  /** An SA now sends through this socket: keep its NAT mapping alive (RFC 3948 §2.3). */
  addSa(sa: KeepaliveTarget): void {
    if (this.#shared !== undefined) {
      this.#shared.targets.add(sa.destinationAddress, sa.remotePort);
      return;
    }
    this.#remotes.add(sa);
    if (this.#keepaliveIntervalMs > 0 && this.#timer === undefined && this.#closed === undefined) {
      this.#timer = setInterval(() => this.#keepalive(), this.#keepaliveIntervalMs);
      this.#timer.unref();
    }
  }

  /** The SA was deleted: no more keepalives for it. */
  removeSa(sa: KeepaliveTarget): void {
    if (this.#shared !== undefined) {
      this.#shared.targets.remove(sa.destinationAddress, sa.remotePort);
      return;
    }
    this.#remotes.delete(sa);
    if (this.#remotes.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #keepalive(): void {
    const sent = new Set<string>();
    for (const sa of this.#remotes) {
      const key = `${sa.destinationAddress}|${sa.remotePort}`;
      if (sent.has(key)) continue;
      sent.add(key);
      this.udp.send(KEEPALIVE, sa.remotePort, sa.destinationAddress);
    }
  }

  /** Closes the socket and stops keepalives. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#shared?.close();
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#receiver = undefined;
      this.#onClosed(this);
      this.udp.close(() => resolve());
    });
    return this.#closed;
  }
}
