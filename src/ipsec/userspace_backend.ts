/**
 * The userspace backend: adapts the data path's {@link UserspaceEngine} to the {@link Backend}
 * interface and maps its plain errors to the IpSecManager error classes (`EADDRINUSE` →
 * `ResourceUnavailableError`, a deleted SA → `TransformClosedError`, a foreign destination →
 * `DestinationMismatchError`, a family mismatch → `IllegalArgumentError`). Transforms must use
 * UDP encapsulation: plain ESP needs IP protocol 50, i.e. the kernel backend.
 */
import {
  type DatapathRemoteInfo,
  DestinationNotAllowedError,
  type EncapSocket,
  FamilyMismatchError,
  PayloadTooLongError,
  type ProtectedSocket,
  SaDeletedError,
  SocketClosedError,
  TypedEventEmitter,
  UserspaceEngine,
  UserspaceSa,
} from '../datapath/mod.ts';
import {
  type EspCryptoProvider,
  espCryptoProvider,
  SequenceNumberExhaustedError,
} from '../esp/mod.ts';
import { StatisticsScopes } from './_statistics_scopes.ts';
import { espAlgorithms } from './_supported_algorithms.ts';
import type {
  Backend,
  BackendDatagramSocket,
  BackendDatagramSocketEvents,
  BackendEncapSocket,
  BackendSa,
  BackendSaConfig,
  BackendTransformState,
  IpSecStatistics,
  OpenEncapSocketOptions,
  RemoteInfo,
  SocketAddressInfo,
  TransformDirection,
} from './backend.ts';
import {
  DestinationMismatchError,
  encapSocketUnavailable,
  IllegalArgumentError,
  IllegalStateError,
  MessageTooLongError,
  TransformClosedError,
  UnsupportedOperationError,
} from './errors.ts';

class UserspaceEncapSocket implements BackendEncapSocket {
  readonly socket: EncapSocket;
  readonly #engine: UserspaceEngine;
  constructor(engine: UserspaceEngine, socket: EncapSocket) {
    this.#engine = engine;
    this.socket = socket;
  }
  get port(): number {
    return this.socket.port;
  }
  get family(): 'IPv4' | 'IPv6' {
    return this.socket.family;
  }
  sendIke(message: Uint8Array, port: number, address: string): Promise<void> {
    return this.socket.sendIke(message, port, address);
  }
  setIkeReceiver(receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined): void {
    this.socket.setIkeReceiver(receiver);
  }
  ref(): void {
    this.socket.ref();
  }
  unref(): void {
    this.socket.unref();
  }
  close(): Promise<void> {
    return this.#engine.closeEncapSocket(this.socket);
  }
}

class UserspaceDatagramSocket
  extends TypedEventEmitter<BackendDatagramSocketEvents>
  implements BackendDatagramSocket
{
  readonly socket: ProtectedSocket;
  constructor(socket: ProtectedSocket) {
    super();
    this.socket = socket;
    socket.on('message', (msg: Buffer, rinfo: DatapathRemoteInfo) =>
      this.emit('message', msg, rinfo),
    );
    socket.on('close', () => this.emit('close'));
    socket.on('refused', () => this.emit('refused'));
    socket.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }
  get type(): 'udp4' | 'udp6' {
    return this.socket.type;
  }
  get inboundBlocked(): boolean {
    return this.socket.inboundBlocked;
  }
  setInboundPending(pending: boolean): void {
    this.socket.inboundPending = pending;
  }
  async bind(port: number, address: string | undefined): Promise<SocketAddressInfo> {
    try {
      return await this.socket.bind(port, address);
    } catch (err: unknown) {
      throw mapSocketError(err);
    }
  }
  send(message: Uint8Array, port: number, address: string): Promise<void> {
    // A bound socket refuses synchronously (mapped here, no extra promise per datagram); its
    // promise only rejects with errno errors from the kernel, which are not mapped.
    try {
      const sent = this.socket.sendBound(message, port, address);
      if (sent !== undefined) return sent;
    } catch (err: unknown) {
      return Promise.reject(mapSocketError(err));
    }
    return this.socket.send(message, port, address).catch(rethrowMapped);
  }
  address(): SocketAddressInfo {
    try {
      return this.socket.address();
    } catch (err: unknown) {
      throw mapSocketError(err);
    }
  }
  ref(): void {
    this.socket.ref();
  }
  unref(): void {
    this.socket.unref();
  }
  close(): Promise<void> {
    return this.socket.close();
  }
}

function rethrowMapped(err: unknown): never {
  throw mapSocketError(err);
}

function mapSocketError(err: unknown): unknown {
  if (err instanceof SaDeletedError) return new TransformClosedError(err.message, { cause: err });
  if (err instanceof DestinationNotAllowedError) {
    return new DestinationMismatchError(err.message, { cause: err });
  }
  if (err instanceof PayloadTooLongError) {
    return new MessageTooLongError(err.message, err.maxLength, { cause: err });
  }
  if (err instanceof SocketClosedError) return new IllegalStateError(err.message, { cause: err });
  if (err instanceof SequenceNumberExhaustedError) {
    return new IllegalStateError(err.message, { cause: err });
  }
  return err;
}

/** Options of {@link UserspaceBackend}. */
export interface UserspaceBackendOptions {
  /** Reserved for future tuning; the engine needs none today. */
  readonly engine?: UserspaceEngine;
}

/**
 * Backend #1: ESP over UDP in this process (RFC 3948), no privileges needed. Share one instance
 * between managers to model several applications on one device (one SPI table, one id space).
 *
 * @example
 * ```ts
 * import { IpSecManager, UserspaceBackend } from 'tsnetd/ipsec';
 * const backend = new UserspaceBackend();
 * await using ipsec = await IpSecManager.create({ backend });
 * // … later, after every manager using it is closed:
 * await backend.close();
 * ```
 */
export class UserspaceBackend implements Backend {
  readonly name = 'userspace';

  /** ESP crypto of this process: `'openssl-native'` or, as a fallback, `'node-crypto'`. */
  get cryptoProvider(): EspCryptoProvider {
    return espCryptoProvider();
  }
  readonly #engine: UserspaceEngine;
  readonly #sockets = new WeakMap<BackendDatagramSocket, ProtectedSocket>();
  /** Counters per statistics scope (one per IpSecManager); the engine keeps the totals. */
  readonly #statistics: StatisticsScopes;

  constructor(options: UserspaceBackendOptions = {}) {
    this.#engine = options.engine ?? new UserspaceEngine();
    this.#statistics = new StatisticsScopes(this.#engine.statistics);
  }

  async reserveSpi(destination: string, spi: number): Promise<boolean> {
    return this.#engine.reserveSpi(destination, spi);
  }

  async releaseSpi(destination: string, spi: number): Promise<void> {
    this.#engine.releaseSpi(destination, spi);
  }

  async createSa(config: BackendSaConfig): Promise<BackendSa> {
    const encap = config.encapsulation;
    if (encap === undefined) {
      throw new UnsupportedOperationError(
        'Cannot build transform without UDP encapsulation: the userspace backend carries ESP in UDP only (RFC 3948); call setIpv4Encapsulation() or use the kernel backend for plain ESP',
      );
    }
    if (!(encap.socket instanceof UserspaceEncapSocket)) {
      throw new IllegalArgumentError(
        'Cannot build transform: the encapsulation socket belongs to another backend',
      );
    }
    const algorithms = espAlgorithms(config);
    return this.#engine.createSa({
      spi: config.spi,
      sourceAddress: config.sourceAddress,
      destinationAddress: config.destinationAddress,
      family: config.family,
      ...algorithms,
      encapSocket: encap.socket.socket,
      remotePort: encap.remotePort,
      replayWindowSize: config.replayWindowSize,
      esn: config.esn,
    });
  }

  async deleteSa(sa: BackendSa): Promise<void> {
    if (sa instanceof UserspaceSa) this.#engine.deleteSa(sa);
  }

  async openEncapSocket(options: OpenEncapSocketOptions): Promise<BackendEncapSocket> {
    try {
      const { scope, ...rest } = options;
      const socket = await this.#engine.openEncapSocket({
        ...rest,
        statistics: this.#statistics.of(scope),
      });
      return new UserspaceEncapSocket(this.#engine, socket);
    } catch (err: unknown) {
      throw encapSocketUnavailable(options.port, err);
    }
  }

  createDatagramSocket(type: 'udp4' | 'udp6', scope?: object): BackendDatagramSocket {
    const protectedSocket = this.#engine.createProtectedSocket(type, this.#statistics.of(scope));
    const socket = new UserspaceDatagramSocket(protectedSocket);
    this.#sockets.set(socket, protectedSocket);
    return socket;
  }

  #protectedSocket(socket: BackendDatagramSocket): ProtectedSocket {
    const s = this.#sockets.get(socket);
    if (s === undefined) {
      throw new IllegalArgumentError('Cannot use socket: it belongs to another backend');
    }
    return s;
  }

  async applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    const s = this.#protectedSocket(socket);
    if (!(sa instanceof UserspaceSa)) {
      throw new IllegalArgumentError('Cannot apply transform: it belongs to another backend');
    }
    try {
      this.#engine.applyToSocket(s, direction, sa);
    } catch (err: unknown) {
      if (err instanceof FamilyMismatchError) {
        throw new IllegalArgumentError(`Mismatched address family: ${err.message}`, { cause: err });
      }
      throw mapSocketError(err);
    }
  }

  async removeFromSocket(socket: BackendDatagramSocket): Promise<void> {
    this.#engine.removeFromSocket(this.#protectedSocket(socket));
  }

  async getTransformState(sa: BackendSa): Promise<BackendTransformState> {
    if (!(sa instanceof UserspaceSa)) throw new IllegalArgumentError('Unknown SA');
    return this.#engine.saState(sa);
  }

  statistics(scope?: object): IpSecStatistics {
    return this.#statistics.of(scope).snapshot();
  }

  async close(): Promise<void> {
    await this.#engine.close();
  }
}
