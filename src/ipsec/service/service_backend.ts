/**
 * `IpSecManager.create({ backend: 'service' })`: the {@link Backend} of an unprivileged process,
 * whose kernel IPsec state is owned by tsnetd's IPsec service. Every Backend call is one request
 * on the service socket (wire.ts); the daemon checks it again under the caller's UID, with that
 * UID's quotas. The sockets stay the application's own: a datagram socket created here is a
 * plain UDP socket, and applying a transform sends its descriptor to the daemon, which puts the
 * kernel policy on it. Encapsulation sockets are opened by the daemon and received here.
 *
 * Fail closed like the kernel backend: a socket whose outbound SA was deleted, or whose daemon
 * went away, refuses to send (`TransformClosedError`) instead of leaving in clear text.
 */
import { createSocket, type RemoteInfo as DgramRemoteInfo, type Socket } from 'node:dgram';
import { Server as NetServer, type Socket as NetSocket } from 'node:net';
import { type DatapathCounter, DatapathStatistics, TypedEventEmitter } from '../../datapath/mod.ts';
import { closeDescriptor } from '../../sys/descriptor_passing.ts';
import { SocketFdUnavailableError } from '../../sys/errors.ts';
import { socketFd } from '../../sys/socket_fd.ts';
import type {
  AddressFamily,
  Backend,
  BackendDatagramSocket,
  BackendDatagramSocketEvents,
  BackendEncapSocket,
  BackendSa,
  BackendSaConfig,
  BackendStreamSocket,
  BackendTransformState,
  IpSecStatistics,
  OpenEncapSocketOptions,
  RemoteInfo,
  SocketAddressInfo,
  TransformDirection,
} from '../backend.ts';
import {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
  MessageTooLongError,
  TransformClosedError,
} from '../errors.ts';
import { normalizeAddress } from '../inet_address.ts';
import { KERNEL_COUNTERS } from '../kernel_backend.ts';
import { ServiceConnection } from './connection.ts';
import { DEFAULT_IPSEC_SOCKET_PATH } from './wire.ts';

const MAX_UDP_PAYLOAD = { IPv4: 65507, IPv6: 65527 } as const;

/** Counts a failed send under its reason (as the kernel backend does). */
function countFailedSend(statistics: DatapathStatistics, err: unknown): void {
  if (err instanceof TransformClosedError) statistics.sendDropped('transform-closed');
  else if (err instanceof DestinationMismatchError) statistics.sendDropped('destination-mismatch');
  else if (err instanceof MessageTooLongError) statistics.sendDropped('too-long');
  else if (!(err instanceof IpSecError)) statistics.sendDropped('error');
}
const sameAddress = (a: string, b: string): boolean =>
  a === b || (normalizeAddress(a) ?? a) === (normalizeAddress(b) ?? b);

class ServiceSa implements BackendSa {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: AddressFamily;
  readonly id: number;
  readonly maxPayloadLength: number;
  readonly encapSocket: ServiceEncapSocket | undefined;
  readonly remotePort: number;
  deleted = false;
  constructor(config: BackendSaConfig, id: number, maxPayloadLength: number) {
    this.spi = config.spi;
    this.sourceAddress = config.sourceAddress;
    this.destinationAddress = config.destinationAddress;
    this.family = config.family;
    this.id = id;
    this.maxPayloadLength =
      maxPayloadLength > 0 ? maxPayloadLength : MAX_UDP_PAYLOAD[config.family];
    const socket = config.encapsulation?.socket;
    this.encapSocket = socket instanceof ServiceEncapSocket ? socket : undefined;
    this.remotePort = config.encapsulation?.remotePort ?? 0;
  }
}

class ServiceEncapSocket implements BackendEncapSocket {
  readonly id: number;
  readonly port: number;
  readonly family: AddressFamily;
  readonly udp: Socket;
  readonly #keepaliveIntervalMs: number;
  readonly #remotes = new Set<ServiceSa>();
  #timer: NodeJS.Timeout | undefined;
  #receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined;
  #closed: Promise<void> | undefined;
  readonly #onClose: () => Promise<void>;

  constructor(
    id: number,
    port: number,
    family: AddressFamily,
    udp: Socket,
    keepaliveIntervalMs: number,
    onClose: () => Promise<void>,
  ) {
    this.id = id;
    this.port = port;
    this.family = family;
    this.udp = udp;
    this.#keepaliveIntervalMs = keepaliveIntervalMs;
    this.#onClose = onClose;
    // The kernel decapsulates ESP on this socket (the daemon set UDP_ENCAP_ESPINUDP): what is
    // read here is IKE, non-ESP marker included.
    udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) =>
      this.#receiver?.(msg, { ...rinfo, family }),
    );
    udp.on('error', () => undefined);
  }

  sendIke(datagram: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed !== undefined) {
      return Promise.reject(new IllegalStateError('Cannot send: the socket is closed'));
    }
    return new Promise((resolve, reject) => {
      this.udp.send(datagram, port, address, (err) => (err ? reject(err) : resolve()));
    });
  }

  setIkeReceiver(receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined): void {
    this.#receiver = receiver;
  }

  ref(): void {
    this.udp.ref();
  }

  unref(): void {
    this.udp.unref();
  }

  /** NAT-T keepalives (RFC 3948 §2.3) from this port while an SA uses it: the client sends them. */
  addSa(sa: ServiceSa): void {
    this.#remotes.add(sa);
    if (this.#keepaliveIntervalMs > 0 && this.#timer === undefined && this.#closed === undefined) {
      this.#timer = setInterval(() => {
        const sent = new Set<string>();
        for (const r of this.#remotes) {
          const key = `${r.destinationAddress}|${r.remotePort}`;
          if (sent.has(key)) continue;
          sent.add(key);
          this.udp.send(Buffer.of(0xff), r.remotePort, r.destinationAddress, () => undefined);
        }
      }, this.#keepaliveIntervalMs);
      this.#timer.unref();
    }
  }

  removeSa(sa: ServiceSa): void {
    this.#remotes.delete(sa);
    if (this.#remotes.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      this.#timer = undefined;
      this.#receiver = undefined;
      await new Promise<void>((resolve) => {
        try {
          this.udp.close(() => resolve());
        } catch {
          resolve();
        }
      });
      await this.#onClose();
    })();
    return this.#closed;
  }
}

class ServiceDatagramSocket
  extends TypedEventEmitter<BackendDatagramSocketEvents>
  implements BackendDatagramSocket
{
  readonly type: 'udp4' | 'udp6';
  readonly family: AddressFamily;
  readonly udp: Socket;
  outboundSa: ServiceSa | undefined;
  inboundSa: ServiceSa | undefined;
  #bound: SocketAddressInfo | undefined;
  #binding: Promise<SocketAddressInfo> | undefined;
  #closed: Promise<void> | undefined;
  #inboundPending = false;
  #inboundInstalled = false;
  readonly #onBound: (s: ServiceDatagramSocket) => Promise<void>;
  readonly pendingSends = new Set<Promise<void>>();
  readonly #statistics: DatapathStatistics;

  constructor(
    type: 'udp4' | 'udp6',
    onBound: (s: ServiceDatagramSocket) => Promise<void>,
    statistics: DatapathStatistics,
  ) {
    super();
    this.#statistics = statistics;
    this.type = type;
    this.family = type === 'udp4' ? 'IPv4' : 'IPv6';
    this.#onBound = onBound;
    this.udp = type === 'udp6' ? createSocket({ type, ipv6Only: true }) : createSocket({ type });
    this.udp.on('message', (msg: Buffer, rinfo: DgramRemoteInfo) => {
      // Clear text read after apply(IN) was called and before the policy is on: dropped.
      if (this.#inboundPending && !this.#inboundInstalled) return;
      this.#statistics.received(this.inboundSa === undefined ? 'clear' : 'delivered', msg.length);
      this.emit('message', msg, { ...rinfo, family: this.family });
    });
    this.udp.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  setInboundPending(pending: boolean): void {
    this.#inboundPending = pending;
  }

  ref(): void {
    this.udp.ref();
  }

  unref(): void {
    this.udp.unref();
  }

  markInboundInstalled(installed: boolean): void {
    this.#inboundInstalled = installed;
  }

  get bound(): boolean {
    return this.#bound !== undefined;
  }

  get inboundBlocked(): boolean {
    return this.inboundSa?.deleted === true;
  }

  bind(port: number, address: string | undefined): Promise<SocketAddressInfo> {
    if (this.#closed !== undefined) {
      return Promise.reject(new IllegalStateError('Cannot bind: the socket is closed'));
    }
    if (this.#binding !== undefined) {
      return Promise.reject(new IllegalStateError('Cannot bind: the socket is already bound'));
    }
    this.#binding = new Promise<SocketAddressInfo>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#binding = undefined;
        reject(err);
      };
      this.udp.once('error', onError);
      const done = (): void => {
        this.udp.off('error', onError);
        const a = this.udp.address();
        const bound = { address: a.address, family: this.family, port: a.port };
        // The descriptor exists only now: install what was applied before bind().
        this.#onBound(this).then(() => {
          this.#bound = bound;
          resolve(bound);
        }, reject);
      };
      if (address === undefined) this.udp.bind(port, done);
      else this.udp.bind(port, address, done);
    });
    return this.#binding;
  }

  async send(message: Uint8Array, port: number, address: string): Promise<void> {
    try {
      await this.#send(message, port, address);
    } catch (err: unknown) {
      countFailedSend(this.#statistics, err);
      throw err;
    }
    // The kernel seals protected datagrams: their size on the wire is not known here.
    if (this.outboundSa === undefined) this.#statistics.sent('clear', message.length);
    else this.#statistics.count('tx.esp');
  }

  async #send(message: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed !== undefined)
      throw new IllegalStateError('Cannot send: the socket is closed');
    const sa = this.outboundSa;
    if (sa !== undefined) {
      if (sa.deleted) {
        throw new TransformClosedError('Cannot send: the applied outbound transform was closed');
      }
      if (!sameAddress(address, sa.destinationAddress)) {
        throw new DestinationMismatchError(
          `Cannot send to "${address}": the outbound transform protects "${sa.destinationAddress}" only`,
        );
      }
      if (message.length > sa.maxPayloadLength) {
        throw new MessageTooLongError(
          `Cannot send: the message is ${message.length} bytes, at most ${sa.maxPayloadLength} fit one protected datagram with the outbound transform`,
          sa.maxPayloadLength,
        );
      }
    } else if (message.length > MAX_UDP_PAYLOAD[this.family]) {
      const maxLength = MAX_UDP_PAYLOAD[this.family];
      throw new MessageTooLongError(
        `Cannot send: the message is ${message.length} bytes, at most ${maxLength} fit one ${this.family} UDP datagram`,
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

  address(): SocketAddressInfo {
    if (this.#bound === undefined) {
      throw new IllegalStateError('Cannot get address: the socket is not bound');
    }
    return this.#bound;
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.udp.close(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closed;
  }
}

/** Whether a TCP socket or server has its descriptor yet. */
function descriptorOf(socket: BackendStreamSocket): number | undefined {
  try {
    return socketFd(socket);
  } catch (err: unknown) {
    if (err instanceof SocketFdUnavailableError) return undefined;
    throw err;
  }
}

/** Gives a connecting client socket its descriptor before `connect()` (bind to the wildcard). */
function createDescriptor(socket: NetSocket, family: number): number {
  const existing = descriptorOf(socket);
  if (existing !== undefined) return existing;
  const handle = (socket as unknown as { _handle?: unknown })._handle as {
    bind?: (address: string, port: number) => number;
    bind6?: (address: string, port: number, flags: number) => number;
  } | null;
  const status =
    family === 6 ? handle?.bind6?.('::', 0, 0) : family === 4 ? handle?.bind?.('0.0.0.0', 0) : -1;
  const fd = descriptorOf(socket);
  if (status !== 0 || fd === undefined) {
    throw new IllegalStateError(
      `Cannot apply transform: no descriptor for the connecting socket (bind status ${status})`,
    );
  }
  return fd;
}

/** Options of {@link ServiceBackend.connect}. */
export interface ServiceBackendOptions {
  /** Socket of the IPsec service (default `/run/tsnetd/ipsec`). */
  readonly path?: string;
}

/**
 * The backend of an unprivileged process: kernel ESP through tsnetd's IPsec service.
 *
 * @example
 * ```ts
 * import { IpSecManager } from 'tsnetd/ipsec';
 * // Rejects at once, naming the path, when no daemon listens there.
 * await IpSecManager.create({ backend: 'service', servicePath: '/nonexistent/ipsec' }).catch(
 *   (err) => console.log(err.code), // ERR_IPSEC_SERVICE_UNAVAILABLE
 * );
 * ```
 */
export class ServiceBackend implements Backend {
  readonly name = 'service';
  readonly #connection: ServiceConnection;
  /** Daemon resource ids of SPI reservations not yet taken by an SA (`destination|spi`). */
  readonly #spiIds = new Map<string, number>();
  readonly #sas = new Set<ServiceSa>();
  readonly #encapSockets = new Set<ServiceEncapSocket>();
  readonly #sockets = new Set<ServiceDatagramSocket>();
  readonly #pendingStream = new WeakMap<NetSocket, Map<TransformDirection, ServiceSa>>();
  #closed: Promise<void> | undefined;
  /** Totals of every socket, and counters per statistics scope (one per IpSecManager). */
  readonly #statistics = new DatapathStatistics();
  readonly #scopes = new WeakMap<object, DatapathStatistics>();

  private constructor(connection: ServiceConnection) {
    this.#connection = connection;
    // The daemon released everything of this connection: nothing protected may leave now.
    connection.onLost(() => {
      for (const sa of this.#sas) sa.deleted = true;
    });
  }

  /**
   * Connects to the daemon.
   *
   * @throws {IpSecServiceUnavailableError} nobody listens at the path
   */
  static async connect(options: ServiceBackendOptions = {}): Promise<ServiceBackend> {
    return new ServiceBackend(
      await ServiceConnection.open(options.path ?? DEFAULT_IPSEC_SOCKET_PATH),
    );
  }

  /** The UID the daemon knows this process by. */
  get uid(): number {
    return this.#connection.uid;
  }

  #assertOpen(action: string): void {
    if (this.#closed !== undefined) {
      throw new IllegalStateError(`Cannot ${action}: the service backend is closed`);
    }
  }

  async reserveSpi(destination: string, spi: number): Promise<boolean> {
    this.#assertOpen('reserve SPI');
    const r = await this.#connection.request('reserveSpi', { destination, spi: spi >>> 0 });
    if (r.json.taken === true) return false;
    const id = r.json.id;
    if (typeof id !== 'number') throw new IllegalStateError('The service sent no SPI id');
    this.#spiIds.set(`${destination}|${spi >>> 0}`, id);
    return true;
  }

  async releaseSpi(destination: string, spi: number): Promise<void> {
    const key = `${destination}|${spi >>> 0}`;
    const id = this.#spiIds.get(key);
    if (id === undefined) return;
    this.#spiIds.delete(key);
    if (this.#connection.lost) return;
    await this.#connection.request('releaseSpi', { id });
  }

  async createSa(config: BackendSaConfig): Promise<BackendSa> {
    this.#assertOpen('create SA');
    const key = `${config.destinationAddress}|${config.spi >>> 0}`;
    const spiId = this.#spiIds.get(key);
    if (spiId === undefined) throw new IllegalArgumentError('Cannot build transform: no SPI');
    const encap = config.encapsulation;
    if (encap !== undefined && !(encap.socket instanceof ServiceEncapSocket)) {
      throw new IllegalArgumentError(
        'Cannot build transform: the encapsulation socket belongs to another backend',
      );
    }
    const keys = [config.encryption?.key, config.authentication?.key, config.aead?.key];
    const secret = new Uint8Array(keys.reduce((n, k) => n + (k?.length ?? 0), 0));
    let offset = 0;
    for (const k of keys) {
      if (k === undefined) continue;
      secret.set(k, offset);
      offset += k.length;
    }
    const json: Record<string, unknown> = {
      spiId,
      source: config.sourceAddress,
      replayWindowSize: config.replayWindowSize,
      esn: config.esn,
    };
    if (config.encryption !== undefined) {
      json.encryption = { name: config.encryption.name, keyLength: config.encryption.key.length };
    }
    if (config.authentication !== undefined) {
      json.authentication = {
        name: config.authentication.name,
        keyLength: config.authentication.key.length,
        bits: config.authentication.truncationLengthBits,
      };
    }
    if (config.aead !== undefined) {
      json.aead = {
        name: config.aead.name,
        keyLength: config.aead.key.length,
        bits: config.aead.icvLengthBits,
      };
    }
    if (encap !== undefined && encap.socket instanceof ServiceEncapSocket) {
      json.encapId = encap.socket.id;
      json.remotePort = encap.remotePort;
    }
    const r = await this.#connection.request('createSa', json, secret); // zeroes `secret`
    const id = r.json.id;
    if (typeof id !== 'number') throw new IllegalStateError('The service sent no transform id');
    this.#spiIds.delete(key);
    const max = typeof r.json.maxPayloadLength === 'number' ? r.json.maxPayloadLength : 0;
    const sa = new ServiceSa(config, id, max);
    this.#sas.add(sa);
    sa.encapSocket?.addSa(sa);
    return sa;
  }

  async deleteSa(sa: BackendSa): Promise<void> {
    if (!(sa instanceof ServiceSa) || sa.deleted) return;
    sa.deleted = true;
    this.#sas.delete(sa);
    sa.encapSocket?.removeSa(sa);
    if (this.#connection.lost) return;
    await this.#connection.request('deleteSa', { id: sa.id });
  }

  async openEncapSocket(options: OpenEncapSocketOptions): Promise<BackendEncapSocket> {
    this.#assertOpen('open UDP encapsulation socket');
    const r = await this.#connection.request('openEncapSocket', {
      port: options.port,
      family: options.family,
    });
    const id = r.json.id;
    const port = r.json.port;
    const fd = r.descriptor;
    if (typeof id !== 'number' || typeof port !== 'number' || fd === undefined) {
      if (fd !== undefined) closeDescriptor(fd);
      throw new IllegalStateError('The service sent no encapsulation socket');
    }
    const udp = createSocket({ type: options.family === 'IPv6' ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ fd }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const socket = new ServiceEncapSocket(
      id,
      port,
      options.family,
      udp,
      options.keepaliveIntervalMs,
      async () => {
        this.#encapSockets.delete(socket);
        if (!this.#connection.lost) await this.#connection.request('closeEncapSocket', { id });
      },
    );
    this.#encapSockets.add(socket);
    return socket;
  }

  createDatagramSocket(type: 'udp4' | 'udp6', scope?: object): BackendDatagramSocket {
    this.#assertOpen('create socket');
    const socket = new ServiceDatagramSocket(
      type,
      (s) => this.#installAll(s),
      this.#statisticsOf(scope),
    );
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  #socket(socket: BackendDatagramSocket): ServiceDatagramSocket {
    if (!(socket instanceof ServiceDatagramSocket) || !this.#sockets.has(socket)) {
      throw new IllegalArgumentError(
        'Cannot use socket: it belongs to another backend or is closed',
      );
    }
    return socket;
  }

  #sa(sa: BackendSa): ServiceSa {
    if (!(sa instanceof ServiceSa) || sa.deleted) {
      throw new IllegalArgumentError('Cannot apply transform: it belongs to another backend');
    }
    return sa;
  }

  async #install(fd: number, direction: TransformDirection, sa: ServiceSa): Promise<void> {
    await this.#connection.request(
      'apply',
      { id: sa.id, direction: direction === 'in' ? 0 : 1 },
      undefined,
      fd,
    );
  }

  async #installAll(s: ServiceDatagramSocket): Promise<void> {
    const fd = socketFd(s.udp);
    if (s.outboundSa !== undefined) await this.#install(fd, 'out', s.outboundSa);
    if (s.inboundSa !== undefined) {
      await this.#install(fd, 'in', s.inboundSa);
      s.markInboundInstalled(true);
    }
  }

  async applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    const s = this.#socket(socket);
    const t = this.#sa(sa);
    if (t.family !== s.family) {
      throw new IllegalArgumentError(
        `Mismatched address family: an ${t.family} transform on a ${s.type} socket`,
      );
    }
    if (direction === 'out') {
      await Promise.allSettled([...s.pendingSends]);
      if (s.bound) await this.#install(socketFd(s.udp), 'out', t);
      s.outboundSa = t;
      return;
    }
    if (s.bound) {
      await this.#install(socketFd(s.udp), 'in', t);
      s.markInboundInstalled(true);
    }
    s.inboundSa = t;
  }

  async removeFromSocket(socket: BackendDatagramSocket): Promise<void> {
    const s = this.#socket(socket);
    if (s.bound) {
      await this.#connection.request('remove', {}, undefined, socketFd(s.udp));
    }
    s.outboundSa = undefined;
    s.inboundSa = undefined;
    s.markInboundInstalled(false);
  }

  /**
   * TCP: the descriptor goes to the daemon now, or — for a client socket before `connect()`,
   * which has none yet — right before Node's `connect()` system call ('connectionAttempt'),
   * synchronously, so the SYN is protected. If the daemon refuses then, the socket is destroyed.
   */
  async applyToStreamSocket(
    socket: BackendStreamSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    this.#assertOpen('apply transform');
    const t = this.#sa(sa);
    const fd = descriptorOf(socket);
    if (fd !== undefined) {
      await this.#install(fd, direction, t);
      return;
    }
    if (socket instanceof NetServer || socket.destroyed || socket.remoteAddress !== undefined) {
      throw new IllegalStateError(
        socket instanceof NetServer
          ? 'Cannot apply transform: the server is not listening'
          : 'Cannot apply transform: the socket is closed',
      );
    }
    let pending = this.#pendingStream.get(socket);
    if (pending === undefined) {
      const entries = new Map<TransformDirection, ServiceSa>();
      pending = entries;
      this.#pendingStream.set(socket, entries);
      const onAttempt = (_address: string, _port: number, family: number): void => {
        try {
          const descriptor = createDescriptor(socket, family);
          for (const [dir, p] of entries) {
            if (p.deleted) throw new TransformClosedError('The transform was closed');
            this.#connection.requestSync(
              'apply',
              { id: p.id, direction: dir === 'in' ? 0 : 1 },
              descriptor,
            );
          }
        } catch (err: unknown) {
          // connect() follows this listener and cannot be stopped from here: nothing the
          // application wrote may leave; the socket is destroyed at once.
          socket.cork();
          process.nextTick(() =>
            socket.destroy(err instanceof Error ? err : new Error(String(err))),
          );
        }
      };
      const done = (): void => {
        socket.off('connectionAttempt', onAttempt);
        this.#pendingStream.delete(socket);
      };
      socket.prependListener('connectionAttempt', onAttempt);
      socket.once('connect', done);
      socket.once('close', done);
    }
    pending.set(direction, t);
  }

  async removeFromStreamSocket(socket: BackendStreamSocket): Promise<void> {
    if (!(socket instanceof NetServer)) this.#pendingStream.get(socket)?.clear();
    const fd = descriptorOf(socket);
    if (fd !== undefined) await this.#connection.request('remove', {}, undefined, fd);
  }

  /** Any socket of this process by descriptor: it travels to the daemon, which checks its owner. */
  async applyToDescriptor(fd: number, direction: TransformDirection, sa: BackendSa): Promise<void> {
    this.#assertOpen('apply transform');
    await this.#install(fd, direction, this.#sa(sa));
  }

  async removeFromDescriptor(fd: number): Promise<void> {
    this.#assertOpen('remove transforms');
    await this.#connection.request('remove', {}, undefined, fd);
  }

  async getTransformState(sa: BackendSa): Promise<BackendTransformState> {
    if (!(sa instanceof ServiceSa) || sa.deleted) {
      throw new IllegalStateError('Cannot read SA state: the SA was deleted');
    }
    const r = await this.#connection.request('state', { id: sa.id });
    const big = (v: unknown): bigint => (typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : 0n);
    return {
      txHighestSequenceNumber: big(r.json.tx),
      rxHighestSequenceNumber: big(r.json.rx),
      packetCount: big(r.json.packets),
      byteCount: big(r.json.bytes),
      replayBitmap: new Uint8Array(
        Buffer.from(typeof r.json.bitmap === 'string' ? r.json.bitmap : '', 'base64'),
      ),
    };
  }

  #statisticsOf(scope: object | undefined): DatapathStatistics {
    if (scope === undefined) return this.#statistics;
    let statistics = this.#scopes.get(scope);
    if (statistics === undefined) {
      statistics = new DatapathStatistics(this.#statistics);
      this.#scopes.set(scope, statistics);
    }
    return statistics;
  }

  /**
   * What crosses this process's sockets, per scope (the kernel backend's counters); the kernel
   * counts the rest per namespace, in the daemon's (`/proc/net/xfrm_stat`).
   */
  statistics(scope?: object): IpSecStatistics {
    const all = this.#statisticsOf(scope).snapshot();
    const counted: { [K in DatapathCounter]?: number } = {};
    for (const key of KERNEL_COUNTERS) counted[key] = all[key];
    return counted;
  }

  /** Closes every socket and the connection: the daemon releases everything at once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const s of [...this.#sockets]) await s.close();
      for (const sa of this.#sas) sa.deleted = true;
      for (const e of [...this.#encapSockets]) await e.close().catch(() => undefined);
      this.#connection.close();
    })();
    return this.#closed;
  }
}
