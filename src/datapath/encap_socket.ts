/**
 * A UDP encapsulation socket of the userspace data path (RFC 3948): a real `dgram` socket bound
 * to the wildcard address. Receive order: classify (`udp_encap.ts`) → NAT-keepalive: count and
 * drop → non-ESP marker: hand the datagram, marker included, to the receiver → ESP: hand the
 * datagram to the engine (SA lookup by SPI, open, deliver). NAT-keepalives (one byte 0xFF) are
 * sent on an interval to every peer an SA using this socket targets while it is applied outbound:
 * the engine keeps this socket's peer index current ({@link EncapSocket.addKeepaliveTarget}), and
 * the process-wide `NatKeepaliveScheduler` of the interval sends (`nat_keepalive.ts`).
 */
import { DgramEncapTransport, type EncapTransport } from './encap_transport.ts';
import { EspTxRing, type EspTxSender } from './esp_tx_ring.ts';
import { type KeepaliveRegistration, NatKeepaliveScheduler } from './nat_keepalive.ts';
import { NativeEncapTransport } from './native_encap_transport.ts';
import type { DatapathStatistics } from './statistics.ts';
import { classifyEncapDatagram, NAT_KEEPALIVE_BYTE } from './udp_encap.ts';

/** Remote end of a datagram. */
export interface DatapathRemoteInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
  readonly size: number;
}

/** Options of {@link EncapSocket.open}. */
export interface EncapSocketOptions {
  /** 0 = random. */
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
  /** NAT-keepalive interval; 0 = off. */
  readonly keepaliveIntervalMs: number;
  /**
   * Called for every ESP datagram (SPI ≠ 0, ≥ 8 bytes). `packet` may be a view of the receive
   * ring, valid only during the call: the callee copies what it keeps.
   */
  readonly onEsp: (packet: Uint8Array, socket: EncapSocket) => void;
  /** Where this socket's traffic is counted (its drops of received ESP included). */
  readonly statistics: DatapathStatistics;
}

const KEEPALIVE = Uint8Array.of(NAT_KEEPALIVE_BYTE);

/**
 * A bound encapsulation socket. Open with {@link EncapSocket.open}; a busy port rejects with the
 * sys layer's `UdpBindError` (`errnoName: 'EADDRINUSE'`).
 *
 * @example
 * ```ts
 * // Normally created by UserspaceEngine.openEncapSocket.
 * ```
 */
export class EncapSocket implements EspTxSender {
  readonly port: number;
  /** The socket's descriptor when the transmit ring sends on it, else -1. */
  get fd(): number {
    return this.#transport.fd;
  }
  /** Datagrams waiting for room in the kernel's send buffer (see `EncapTransport`). */
  get sendQueueLength(): number {
    return this.#transport.sendQueueLength;
  }
  /**
   * The process-wide transmit ring ESP leaves through (`sendmmsg`), or `undefined`: then every
   * datagram goes through {@link EncapSocket.sendRaw} (`dgram.send`).
   */
  readonly txRing: EspTxRing | undefined;
  readonly family: 'IPv4' | 'IPv6';
  readonly #transport: EncapTransport;
  readonly #options: EncapSocketOptions;
  /** Counters of this socket's traffic (see {@link EncapSocketOptions.statistics}). */
  readonly statistics: DatapathStatistics;
  #ikeReceiver: ((message: Buffer, rinfo: DatapathRemoteInfo) => void) | undefined;
  readonly #keepalive: KeepaliveRegistration | undefined;
  #closed = false;
  #closePromise: Promise<void> | undefined;

  private constructor(transport: EncapTransport, options: EncapSocketOptions) {
    this.#transport = transport;
    this.port = transport.port;
    this.family = options.family;
    this.#options = options;
    this.statistics = options.statistics;
    this.txRing = transport.fd >= 0 ? (EspTxRing.shared() ?? undefined) : undefined;
    transport.listen(
      (bytes, address, port) => this.#onMessage(bytes, address, port),
      () => options.statistics.count('error.encap-socket'),
    );
    this.#keepalive =
      options.keepaliveIntervalMs > 0
        ? NatKeepaliveScheduler.shared(options.keepaliveIntervalMs).register((address, port) =>
            this.#sendKeepalive(address, port),
          )
        : undefined;
  }

  /**
   * Opens and binds an encapsulation socket (wildcard address, `ipv6Only` for IPv6): natively
   * (`recvmmsg`/`sendmmsg` with the rings) where the rings are offered, else with `dgram`.
   */
  static async open(options: EncapSocketOptions): Promise<EncapSocket> {
    const ring = EspTxRing.shared();
    const native =
      ring === undefined
        ? undefined
        : NativeEncapTransport.open(options.family, options.port, ring);
    const transport = native ?? (await DgramEncapTransport.open(options.family, options.port));
    return new EncapSocket(transport, options);
  }

  /**
   * Installs (or with `undefined` removes) the receiver of IKE datagrams: every datagram that
   * starts with the non-ESP marker, delivered unchanged (marker included), as the Linux kernel
   * hands them to a `UDP_ENCAP_ESPINUDP` socket.
   */
  setIkeReceiver(
    receiver: ((message: Buffer, rinfo: DatapathRemoteInfo) => void) | undefined,
  ): void {
    this.#ikeReceiver = receiver;
  }

  /**
   * Sends one datagram from the encapsulation port as it is; an IKE message must already carry
   * the non-ESP marker (see `addNonEspMarker`), as on Android and Linux.
   */
  async sendIke(datagram: Uint8Array, port: number, address: string): Promise<void> {
    const stats = this.#options.statistics;
    try {
      await this.sendRaw(datagram, port, address);
    } catch (err: unknown) {
      stats.sendDropped('error');
      throw err;
    }
    stats.sent('ike', datagram.length);
  }

  /** Sends bytes as they are (ESP, keepalive); counts nothing (the caller does). */
  sendRaw(bytes: Uint8Array, port: number, address: string): Promise<void> {
    return this.#transport.send(bytes, port, address);
  }

  /** One more SA applied outbound sends to (address, port): keep that NAT mapping open. */
  addKeepaliveTarget(address: string, port: number): void {
    this.#keepalive?.targets.add(address, port);
  }

  /** One SA fewer sends to (address, port). */
  removeKeepaliveTarget(address: string, port: number): void {
    this.#keepalive?.targets.remove(address, port);
  }

  /** Distinct peers this socket sends keepalives to. */
  get keepaliveTargetCount(): number {
    return this.#keepalive?.targets.size ?? 0;
  }

  /**
   * Hands one keepalive to the kernel. No completion callback: with tens of thousands of peers,
   * libuv would run every completion in one batch and block the loop; a failed send surfaces as
   * the socket's `'error'` (counted as `error.encap-socket`), a synchronous throw as a send
   * dropped for `error`.
   */
  #sendKeepalive(address: string, port: number): void {
    if (this.#closed) return;
    if (this.#transport.sendUnacknowledged(KEEPALIVE, port, address)) {
      this.#options.statistics.sent('keepalive', KEEPALIVE.length);
    } else {
      this.#options.statistics.sendDropped('error');
    }
  }

  #onMessage(msg: Uint8Array, address: string, port: number): void {
    const stats = this.#options.statistics;
    switch (classifyEncapDatagram(msg)) {
      case 'keepalive':
        stats.received('keepalive', msg.length);
        stats.drop('keepalive');
        return;
      case 'ike': {
        stats.received('ike', msg.length);
        const receiver = this.#ikeReceiver;
        if (receiver === undefined) {
          stats.drop('ike-no-listener');
          return;
        }
        // The bytes may be a view of the receive ring: the receiver gets its own copy.
        receiver(Buffer.isBuffer(msg) ? msg : Buffer.from(msg), {
          address,
          family: this.family,
          port,
          size: msg.length,
        });
        return;
      }
      case 'truncated':
        stats.drop('truncated');
        return;
      case 'esp':
        stats.received('esp', msg.length);
        this.#options.onEsp(msg, this);
        return;
    }
  }

  /** The open socket keeps the process alive (the default, as `dgram`). */
  ref(): void {
    this.#transport.ref();
  }

  /** The open socket does not keep the process alive. */
  unref(): void {
    this.#transport.unref();
  }

  /** Closes the socket and stops keepalives. Idempotent. */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closed = true;
    // Datagrams already accepted leave now: no sendmmsg may name this descriptor after close.
    this.txRing?.flush();
    this.#keepalive?.close();
    this.#ikeReceiver = undefined;
    this.#closePromise = this.#transport.close();
    return this.#closePromise;
  }
}
