/**
 * A UDP encapsulation socket of the kernel backend: a `dgram` socket bound to the wildcard address
 * with `UDP_ENCAP_ESPINUDP` set, so the kernel decapsulates the ESP arriving on it and eats
 * NAT-keepalives (RFC 3948 §2.2, §2.3); what reaches the socket is IKE, non-ESP marker included.
 * While SAs send through it, a NAT-keepalive (one byte 0xFF) goes to each of their peers on an
 * interval.
 */
import type { RemoteInfo as DgramRemoteInfo, Socket } from 'node:dgram';
import { KernelStateError } from './errors.ts';
import type { KernelSa } from './kernel_sa.ts';

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
  readonly #remotes = new Set<KernelSa>();
  #timer: NodeJS.Timeout | undefined;
  #receiver: ((message: Buffer, rinfo: KernelRemoteInfo) => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #onClosed: (s: KernelEncapSocket) => void;

  constructor(
    udp: Socket,
    family: 'IPv4' | 'IPv6',
    keepaliveIntervalMs: number,
    onClosed: (s: KernelEncapSocket) => void,
  ) {
    this.udp = udp;
    this.family = family;
    this.port = udp.address().port;
    this.#keepaliveIntervalMs = keepaliveIntervalMs;
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
  addSa(sa: KernelSa): void {
    this.#remotes.add(sa);
    if (this.#keepaliveIntervalMs > 0 && this.#timer === undefined && this.#closed === undefined) {
      this.#timer = setInterval(() => this.#keepalive(), this.#keepaliveIntervalMs);
      this.#timer.unref();
    }
  }

  /** The SA was deleted: no more keepalives for it. */
  removeSa(sa: KernelSa): void {
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
      this.udp.send(Buffer.of(0xff), sa.remotePort, sa.destinationAddress, () => undefined);
    }
  }

  /** Closes the socket and stops keepalives. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#receiver = undefined;
      this.#onClosed(this);
      this.udp.close(() => resolve());
    });
    return this.#closed;
  }
}
