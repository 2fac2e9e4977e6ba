/**
 * A datagram socket the kernel protects: an ordinary `dgram` socket whose descriptor carries the
 * per-socket XFRM policies ({@link KernelEngine.applyToSocket}). Send order: closed? → outbound SA
 * deleted (refused here: with the SA gone the kernel answers `EAGAIN` and `dgram` would retry
 * forever) → destination not the SA's → too long for one ESP(-in-UDP) packet → bind if needed →
 * `dgram.send`. Receive: while an inbound apply is pending and no inbound policy is installed yet,
 * what is read is clear text and dropped.
 *
 * Who installs the policies is the owner's business (`onBound`): the kernel engine sets them
 * itself; the IPsec service's client sends the descriptor to the daemon, which sets them.
 */
import { createSocket, type RemoteInfo as DgramRemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { MAX_UDP_PAYLOAD_LENGTH, oversizedSendMessage } from '../esp/mod.ts';
import { sameAddress } from '../sys/mod.ts';
import {
  KernelDestinationError,
  KernelPayloadTooLongError,
  KernelSaDeletedError,
  KernelStateError,
} from './errors.ts';
import type { KernelSa } from './kernel_sa.ts';

/** Local address of a bound socket. */
export interface KernelSocketAddress {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

/** What the socket reads of an applied SA (a {@link KernelSa}, or the IPsec service client's). */
export interface KernelSocketSa {
  /** Set once the SA is deleted: the socket then refuses to send. */
  readonly deleted: boolean;
  readonly destinationAddress: string;
  /** Largest payload one protected datagram can carry. */
  readonly maxPayloadLength: number;
  /** Set for ESP-in-UDP (only names the carrier in the too-long message). */
  readonly encapSocket: object | undefined;
}

/**
 * A protectable UDP socket; emits `'message'` `(msg, rinfo)`, `'close'` and `'error'`. Created by
 * {@link KernelEngine.createDatagramSocket}.
 *
 * @example
 * ```ts
 * // see KernelEngine.createDatagramSocket
 * ```
 */
export class KernelDatagramSocket<Sa extends KernelSocketSa = KernelSa> extends EventEmitter {
  readonly type: 'udp4' | 'udp6';
  readonly family: 'IPv4' | 'IPv6';
  readonly udp: Socket;
  outboundSa: Sa | undefined;
  inboundSa: Sa | undefined;
  /** Previous inbound SAs still accepted until deleted (rekey overlap). */
  readonly heldInboundSas = new Set<Sa>();
  /** Sends handed to `dgram` but not yet to the kernel; a new outbound policy waits for them. */
  readonly pendingSends = new Set<Promise<void>>();
  #bound: KernelSocketAddress | undefined;
  #binding: Promise<KernelSocketAddress> | undefined;
  #closed: Promise<void> | undefined;
  #inboundPending = false;
  /** The inbound SA whose policy is on the descriptor now (`undefined`: none). */
  #inboundInstalled: Sa | undefined;
  readonly #onBound: (s: KernelDatagramSocket<Sa>) => Promise<void> | undefined;
  readonly #onClosed: (s: KernelDatagramSocket<Sa>) => void;

  /**
   * @param onBound installs what was applied before bind(), once the socket has its descriptor:
   *   synchronously, or by the promise it returns; bind() fails when it does
   * @param onClosed called once, when close() is first called
   */
  constructor(
    type: 'udp4' | 'udp6',
    onBound: (s: KernelDatagramSocket<Sa>) => Promise<void> | undefined,
    onClosed: (s: KernelDatagramSocket<Sa>) => void,
  ) {
    super();
    this.type = type;
    this.family = type === 'udp4' ? 'IPv4' : 'IPv6';
    this.#onBound = onBound;
    this.#onClosed = onClosed;
    this.udp = type === 'udp6' ? createSocket({ type, ipv6Only: true }) : createSocket({ type });
    this.udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) => {
      // Before the first inbound policy is installed everything read is clear text: dropped once
      // the application has called apply(IN). With a policy installed the kernel already refuses
      // clear text, and what is read is decrypted ESP of the installed SA (rekey): delivered.
      if (this.#inboundPending && this.#inboundInstalled === undefined) return;
      this.emit('message', msg, { ...rinfo, family: this.family });
    });
    this.udp.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** Called by the application side from the moment apply(IN) is called until it settles. */
  setInboundPending(pending: boolean): void {
    this.#inboundPending = pending;
  }

  /** Records which inbound SA the descriptor's policy names (`undefined` after removal). */
  markInboundInstalled(sa: Sa | undefined): void {
    this.#inboundInstalled = sa;
  }

  get bound(): boolean {
    return this.#bound !== undefined;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Whether receiving fails because the applied inbound SA was deleted. */
  get inboundBlocked(): boolean {
    return this.inboundSa?.deleted === true;
  }

  /** Binds (`address` undefined = wildcard), then installs what was applied before. */
  bind(port: number, address: string | undefined): Promise<KernelSocketAddress> {
    if (this.#closed !== undefined) {
      return Promise.reject(new KernelStateError('Cannot bind: the socket is closed'));
    }
    if (this.#binding !== undefined) {
      return Promise.reject(new KernelStateError('Cannot bind: the socket is already bound'));
    }
    this.#binding = new Promise<KernelSocketAddress>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#binding = undefined;
        reject(err);
      };
      this.udp.once('error', onError);
      const done = (): void => {
        this.udp.off('error', onError);
        const a = this.udp.address();
        const bound = { address: a.address, family: this.family, port: a.port };
        const finish = (): void => {
          this.#bound = bound;
          resolve(bound);
        };
        let installing: Promise<void> | undefined;
        try {
          // The descriptor exists only now: install what was applied before bind().
          installing = this.#onBound(this);
        } catch (err: unknown) {
          reject(err);
          return;
        }
        if (installing === undefined) finish();
        else installing.then(finish, reject);
      };
      if (address === undefined) this.udp.bind(port, done);
      else this.udp.bind(port, address, done);
    });
    return this.#binding;
  }

  /** Sends one datagram; the kernel protects it when an outbound policy is installed. */
  async send(message: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed !== undefined) throw new KernelStateError('Cannot send: the socket is closed');
    const sa = this.outboundSa;
    if (sa !== undefined) {
      if (sa.deleted) {
        throw new KernelSaDeletedError('Cannot send: the applied outbound transform was closed');
      }
      if (!sameAddress(address, sa.destinationAddress)) {
        throw new KernelDestinationError(
          `Cannot send to "${address}": the outbound transform protects "${sa.destinationAddress}" only`,
        );
      }
      if (message.length > sa.maxPayloadLength) {
        throw new KernelPayloadTooLongError(
          oversizedSendMessage(
            message.length,
            sa.maxPayloadLength,
            sa.encapSocket === undefined ? 'ESP datagram' : 'ESP-in-UDP datagram',
          ),
          sa.maxPayloadLength,
        );
      }
    } else if (message.length > MAX_UDP_PAYLOAD_LENGTH[this.family]) {
      const maxLength = MAX_UDP_PAYLOAD_LENGTH[this.family];
      throw new KernelPayloadTooLongError(
        oversizedSendMessage(message.length, maxLength, `${this.family} UDP datagram`),
        maxLength,
      );
    }
    if (this.#bound === undefined) await (this.#binding ?? this.bind(0, undefined));
    const sent = new Promise<void>((resolve, reject) => {
      this.udp.send(message, port, address, (err) => (err ? reject(err) : resolve()));
    });
    this.pendingSends.add(sent);
    try {
      await sent;
    } finally {
      this.pendingSends.delete(sent);
    }
  }

  /** Local address; throws when not bound. */
  address(): KernelSocketAddress {
    if (this.#bound === undefined) {
      throw new KernelStateError('Cannot get address: the socket is not bound');
    }
    return this.#bound;
  }

  /** Closes. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#onClosed(this);
      this.udp.close(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closed;
  }
}
