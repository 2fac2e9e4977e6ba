/**
 * A protected datagram socket of the userspace data path (what Android's
 * `applyTransportModeTransform` protects).
 *
 * It owns a real UDP socket: that reserves the port and carries clear text while no transform is
 * applied. Send order: bind if needed (before the SA is read); then with an outbound SA: SA
 * deleted → throw; destination ≠ SA destination → throw; build the inner UDP header (source
 * port = own port, RFC 768 checksum over the SA's addresses); seal with next header 17 (RFC 4303 transport mode); send from the SA's
 * encapsulation socket to (SA destination, remote encapsulation port) (RFC 3948).
 * Size: a payload that cannot go in one datagram (clear text: 65507 bytes over IPv4, 65527 over
 * IPv6; protected: {@link UserspaceSa.maxPayloadLength}) throws {@link PayloadTooLongError} before
 * anything is sealed (no sequence number is used) or sent.
 * Receive: ESP is opened by the engine and handed to {@link ProtectedSocket.deliver} only when this
 * socket holds the SA inbound (current, or previous during a rekey overlap). Clear text that
 * arrives on the UDP socket while an inbound SA is applied, or while one is being applied
 * ({@link ProtectedSocket.inboundPending}), is dropped and counted.
 */
import { createSocket, type RemoteInfo as DgramRemoteInfo, type Socket } from 'node:dgram';
import { buildUdpDatagram, writeUdpDatagram } from '../esp/ip_packet.ts';
import { ESP_NEXT_HEADER, MAX_UDP_PAYLOAD_LENGTH, oversizedSendMessage } from '../esp/mod.ts';
import { nativeAddressOf } from '../esp/transforms/native/openssl.ts';
import { sameAddress } from '../sys/mod.ts';
import type { DatapathRemoteInfo } from './encap_socket.ts';
import {
  DestinationNotAllowedError,
  PayloadTooLongError,
  SaDeletedError,
  SocketClosedError,
} from './errors.ts';
import type { DatapathStatistics } from './statistics.ts';
import { TypedEventEmitter } from './typed_event_emitter.ts';
import type { UserspaceSa } from './userspace_sa.ts';

/** Local address of a bound socket. */
export interface DatapathAddressInfo {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

/** What the engine learns from a socket. */
export interface ProtectedSocketHooks {
  /** Where this socket's traffic is counted. */
  readonly statistics: DatapathStatistics;
  onBound(socket: ProtectedSocket): void;
  onClosed(socket: ProtectedSocket): void;
}

/** Events of a {@link ProtectedSocket}. */
export interface ProtectedSocketEvents {
  /** A datagram for the application (clear text, or opened from ESP). */
  readonly message: [msg: Buffer, rinfo: DatapathRemoteInfo];
  readonly close: [];
  readonly error: [err: Error];
  /** A datagram was dropped because the applied inbound SA was deleted. */
  readonly refused: [];
}

/**
 * A `dgram.Socket`-like socket that ESP transforms can be applied to. Events: `'message'`
 * `(msg: Buffer, rinfo)`, `'close'`, `'error'`, and `'refused'` when a datagram was dropped
 * because the applied inbound SA was deleted.
 *
 * @example
 * ```ts
 * // Created by UserspaceEngine.createProtectedSocket('udp4').
 * ```
 */
export class ProtectedSocket extends TypedEventEmitter<ProtectedSocketEvents> {
  readonly type: 'udp4' | 'udp6';
  readonly family: 'IPv4' | 'IPv6';
  readonly #udp: Socket;
  readonly #hooks: ProtectedSocketHooks;
  #bound: DatapathAddressInfo | undefined;
  #binding: Promise<DatapathAddressInfo> | undefined;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  /** Current outbound SA (replaced at once on rekey). */
  outboundSa: UserspaceSa | undefined;
  /** Current inbound SA. */
  inboundSa: UserspaceSa | undefined;
  /** Previous inbound SAs still accepted until deleted (rekey overlap). */
  readonly heldInboundSas = new Set<UserspaceSa>();
  /**
   * Set while an inbound transform is being applied (the caller's apply has started, the SA is
   * not installed yet): clear text is dropped from the moment apply is called, as on Android.
   */
  inboundPending = false;

  constructor(type: 'udp4' | 'udp6', hooks: ProtectedSocketHooks) {
    super();
    this.type = type;
    this.family = type === 'udp4' ? 'IPv4' : 'IPv6';
    this.#hooks = hooks;
    this.#udp = type === 'udp6' ? createSocket({ type, ipv6Only: true }) : createSocket({ type });
    this.#udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) => this.#onClearText(msg, rinfo));
    this.#udp.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** Sets {@link ProtectedSocket.inboundPending} (the shape both backends' sockets share). */
  setInboundPending(pending: boolean): void {
    this.inboundPending = pending;
  }

  /** Whether receiving fails: the current inbound SA was deleted and not removed. */
  get inboundBlocked(): boolean {
    return this.inboundSa?.deleted === true;
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The bound address, or `undefined`. */
  get boundAddress(): DatapathAddressInfo | undefined {
    return this.#bound;
  }

  /** Binds (0 = random port; address omitted = all addresses). Rejects with the `dgram` error. */
  bind(port: number, address: string | undefined): Promise<DatapathAddressInfo> {
    if (this.#closed)
      return Promise.reject(new SocketClosedError('Cannot bind: the socket is closed'));
    if (this.#binding !== undefined) {
      return Promise.reject(new Error('Cannot bind: the socket is already bound'));
    }
    this.#binding = new Promise<DatapathAddressInfo>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#udp.off('error', onError);
        this.#binding = undefined;
        reject(err);
      };
      this.#udp.once('error', onError);
      const done = (): void => {
        this.#udp.off('error', onError);
        const a = this.#udp.address();
        this.#bound = { address: a.address, family: this.family, port: a.port };
        this.#hooks.onBound(this);
        resolve(this.#bound);
      };
      try {
        if (address === undefined) this.#udp.bind(port, done);
        else this.#udp.bind(port, address, done);
      } catch (err: unknown) {
        // dgram throws synchronously for some arguments: undo, so that the socket can bind later.
        onError(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return this.#binding;
  }

  /** The bound address; throws when unbound (like `dgram`). */
  address(): DatapathAddressInfo {
    if (this.#bound === undefined)
      throw new SocketClosedError('Cannot get address: the socket is not bound');
    return this.#bound;
  }

  /**
   * Sends one datagram (protected when an outbound SA is applied). A bound socket does the
   * checks, the sealing and the hand-over to the encapsulation socket synchronously and returns
   * the send's promise (no extra asynchronous step per datagram).
   */
  send(message: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new SocketClosedError('Cannot send: the socket is closed'));
    }
    if (this.#bound === undefined) return this.#bindThenSend(message, port, address);
    try {
      return this.#sendBound(message, port, address);
    } catch (err: unknown) {
      return Promise.reject(err);
    }
  }

  /**
   * {@link ProtectedSocket.send} for a bound, open socket without the promise wrapping of its
   * checks: a refused send throws here, synchronously (the caller maps it); the promise settles
   * when the kernel took the datagram. Returns `undefined` when the socket is closed or not bound
   * yet: then use `send()`.
   */
  sendBound(message: Uint8Array, port: number, address: string): Promise<void> | undefined {
    if (this.#closed || this.#bound === undefined) return undefined;
    return this.#sendBound(message, port, address);
  }

  async #bindThenSend(message: Uint8Array, port: number, address: string): Promise<void> {
    // Bind through bind() (never dgram's implicit bind): the engine must know the port to deliver
    // inbound ESP here, and the outbound SA is read only after the await, so a transform applied,
    // replaced or closed meanwhile is honoured (fail closed, never clear text).
    await (this.#binding ?? this.bind(0, undefined));
    if (this.#closed) throw new SocketClosedError('Cannot send: the socket is closed');
    return this.#sendBound(message, port, address);
  }

  #sendBound(message: Uint8Array, port: number, address: string): Promise<void> {
    const sa = this.outboundSa;
    const stats = this.#hooks.statistics;
    if (sa === undefined) {
      const maxLength = MAX_UDP_PAYLOAD_LENGTH[this.family];
      if (message.length > maxLength) {
        stats.sendDropped('too-long');
        throw new PayloadTooLongError(
          oversizedSendMessage(message.length, maxLength, `${this.family} UDP datagram`),
          maxLength,
        );
      }
      return new Promise<void>((resolve, reject) => {
        this.#udp.send(message, port, address, (err) => {
          if (err) {
            stats.sendDropped('error');
            reject(err);
            return;
          }
          stats.sent('clear', message.length);
          resolve();
        });
      });
    }
    if (sa.deleted) {
      stats.sendDropped('transform-closed');
      throw new SaDeletedError('Cannot send: the applied outbound transform was closed');
    }
    if (!sameAddress(address, sa.destinationAddress)) {
      stats.sendDropped('destination-mismatch');
      throw new DestinationNotAllowedError(
        `Cannot send to "${address}": the outbound transform protects "${sa.destinationAddress}" only`,
      );
    }
    if (message.length > sa.maxPayloadLength) {
      stats.sendDropped('too-long');
      throw new PayloadTooLongError(
        oversizedSendMessage(message.length, sa.maxPayloadLength, 'ESP-in-UDP datagram'),
        sa.maxPayloadLength,
      );
    }
    const srcPort = this.address().port;
    const encap = sa.encapSocket;
    const ring = encap.txRing;
    const slot = ring?.claim();
    if (ring !== undefined && slot !== undefined) {
      // Build the inner datagram where it will be sealed, seal in place, queue for sendmmsg.
      let length: number;
      let innerLength: number;
      try {
        innerLength = writeUdpDatagram(slot, sa.outbound.payloadOffset, {
          srcAddr: sa.sourceBytes,
          dstAddr: sa.destinationBytes,
          srcPort,
          dstPort: port,
          payload: message,
        });
        length = sa.outbound.sealInPlace(slot, innerLength, ESP_NEXT_HEADER.UDP);
      } catch (err: unknown) {
        ring.abandon();
        throw err;
      }
      sa.packetCount++;
      sa.byteCount += innerLength;
      return ring.commit(
        encap,
        length,
        sa.remotePort,
        sa.destinationAddress,
        sa.destinationBytes,
        stats,
      );
    }
    const inner = buildUdpDatagram({
      srcAddr: sa.sourceBytes,
      dstAddr: sa.destinationBytes,
      srcPort,
      dstPort: port,
      payload: message,
    });
    const esp = sa.outbound.seal(inner, ESP_NEXT_HEADER.UDP);
    sa.packetCount++;
    sa.byteCount += inner.length;
    const length = esp.length;
    return encap.sendRaw(esp, sa.remotePort, sa.destinationAddress).then(
      () => {
        stats.sent('esp', length);
      },
      (err: unknown) => {
        stats.sendDropped('error');
        throw err;
      },
    );
  }

  /** Whether an opened packet of `sa` may be delivered here (current or held inbound SA). */
  holdsInbound(sa: UserspaceSa): boolean {
    return !this.inboundBlocked && (this.inboundSa === sa || this.heldInboundSas.has(sa));
  }

  /** Delivers a datagram opened from ESP. */
  deliver(payload: Uint8Array, rinfo: DatapathRemoteInfo): void {
    this.#hooks.statistics.received('delivered', payload.length);
    // A payload opened in the receive ring is copied out: the application owns what it gets.
    const msg =
      nativeAddressOf(payload) === undefined
        ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
        : Buffer.from(payload);
    this.emit('message', msg, rinfo);
  }

  #onClearText(msg: Buffer, rinfo: DgramRemoteInfo): void {
    const stats = this.#hooks.statistics;
    if (this.inboundSa !== undefined || this.inboundPending) {
      if (this.inboundSa?.deleted === true) {
        stats.drop('transform-closed');
        this.emit('refused');
      } else {
        stats.drop('unprotected');
      }
      return;
    }
    stats.received('clear', msg.length);
    this.emit('message', msg, {
      address: rinfo.address,
      family: this.family,
      port: rinfo.port,
      size: rinfo.size,
    });
  }

  /** The open socket keeps the process alive (the default, as `dgram`). */
  ref(): void {
    this.#udp.ref();
  }

  /** The open socket does not keep the process alive. */
  unref(): void {
    this.#udp.unref();
  }

  /** Closes the UDP socket and forgets every SA. Idempotent. */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closed = true;
    this.#hooks.onClosed(this);
    // One tick later: `dgram` resolves a send's address on the next tick and drops the send,
    // never calling back, when the socket closed meanwhile. Sends after this call are refused.
    this.#closePromise = new Promise<void>((resolve) => {
      process.nextTick(() =>
        this.#udp.close(() => {
          this.emit('close');
          resolve();
        }),
      );
    });
    return this.#closePromise;
  }
}
