/**
 * `IpSecManager.create({ backend: 'service' })`: the {@link Backend} of an unprivileged process,
 * whose kernel IPsec state is owned by tsnetd's IPsec service. Every Backend call is one request
 * on the service socket (wire.ts); the daemon checks it again under the caller's UID, with that
 * UID's quotas. The sockets stay the application's own: a datagram socket created here is a
 * plain UDP socket, and applying a transform sends its descriptor to the daemon, which puts the
 * kernel policy on it. Encapsulation sockets are opened by the daemon and received here.
 *
 * The sockets are the kernel layer's (`src/kernel`, loaded by {@link ServiceBackend.connect}),
 * wrapped by the adapters the kernel backend uses too (`../_kernel_sockets.ts`): only who sets
 * the policies differs. Fail closed like the kernel backend: a socket whose outbound SA was
 * deleted, or whose daemon went away, refuses to send (`TransformClosedError`) instead of leaving
 * in clear text.
 */
import { createSocket } from 'node:dgram';
import type { DatapathStatistics } from '../../datapath/mod.ts';
import { MAX_UDP_PAYLOAD_LENGTH } from '../../esp/mod.ts';
import type * as Kernel from '../../kernel/mod.ts';
import { closeDescriptor } from '../../sys/descriptor_passing.ts';
import { socketFd } from '../../sys/socket_fd.ts';
import {
  KernelDatagramSocketHandle,
  KernelEncapSocketHandle,
  type KernelModule,
  kernelStatistics,
  mapKernelError,
} from '../_kernel_sockets.ts';
import { StatisticsScopes } from '../_statistics_scopes.ts';
import type {
  AddressFamily,
  Backend,
  BackendDatagramSocket,
  BackendEncapSocket,
  BackendSa,
  BackendSaConfig,
  BackendStreamSocket,
  BackendTransformState,
  IpSecStatistics,
  OpenEncapSocketOptions,
  TransformDirection,
} from '../backend.ts';
import { IllegalArgumentError, IllegalStateError, TransformClosedError } from '../errors.ts';
import { ServiceConnection } from './connection.ts';
import { DEFAULT_IPSEC_SOCKET_PATH } from './wire.ts';

class ServiceSa implements Kernel.KernelSocketSa, Kernel.KeepaliveTarget {
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
      maxPayloadLength > 0 ? maxPayloadLength : MAX_UDP_PAYLOAD_LENGTH[config.family];
    const socket = config.encapsulation?.socket;
    this.encapSocket = socket instanceof ServiceEncapSocket ? socket : undefined;
    this.remotePort = config.encapsulation?.remotePort ?? 0;
  }
}

/**
 * An encapsulation socket the daemon opened (it set `UDP_ENCAP_ESPINUDP`, so what is read here is
 * IKE, non-ESP marker included), known to it by `id`; closing it tells the daemon.
 */
class ServiceEncapSocket extends KernelEncapSocketHandle {
  readonly id: number;
  readonly #onClose: () => Promise<void>;
  #closed: Promise<void> | undefined;

  constructor(
    k: KernelModule,
    socket: Kernel.KernelEncapSocket,
    statistics: DatapathStatistics,
    id: number,
    onClose: () => Promise<void>,
  ) {
    super(k, socket, statistics);
    this.id = id;
    this.#onClose = onClose;
  }

  override close(): Promise<void> {
    this.#closed ??= (async () => {
      await super.close();
      await this.#onClose();
    })();
    return this.#closed;
  }
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
  readonly #k: KernelModule;
  readonly #connection: ServiceConnection;
  /** Daemon resource ids of SPI reservations not yet taken by an SA (`destination|spi`). */
  readonly #spiIds = new Map<string, number>();
  readonly #sas = new Set<ServiceSa>();
  readonly #encapSockets = new Set<ServiceEncapSocket>();
  /** Open datagram sockets, by the handle the application holds. */
  readonly #sockets = new Map<BackendDatagramSocket, Kernel.KernelDatagramSocket<ServiceSa>>();
  /** Client TCP sockets that got transforms before `connect()` (sent at the attempt). */
  readonly #pendingStream: Kernel.PendingStreamPolicies<ServiceSa>;
  #closed: Promise<void> | undefined;
  /** Totals of every socket, and counters per statistics scope (one per IpSecManager). */
  readonly #statistics = new StatisticsScopes();

  private constructor(k: KernelModule, connection: ServiceConnection) {
    this.#k = k;
    this.#connection = connection;
    this.#pendingStream = new k.PendingStreamPolicies<ServiceSa>({
      install: (socket, entries) => {
        const descriptor = socketFd(socket);
        for (const [direction, sa] of entries) {
          if (sa.deleted) throw new TransformClosedError('The transform was closed');
          connection.requestSync(
            'apply',
            { id: sa.id, direction: direction === 'in' ? 0 : 1 },
            descriptor,
          );
        }
      },
      refuse: (socket, _family, err) => {
        // Nothing the application wrote may leave: the socket is destroyed next.
        socket.cork();
        const mappedErr = mapKernelError(k, err);
        return mappedErr instanceof Error ? mappedErr : new Error(String(mappedErr));
      },
    });
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
    // The sockets are the kernel layer's (the daemon sets their policies): loaded only now.
    const k: KernelModule = await import('../../kernel/mod.ts');
    return new ServiceBackend(
      k,
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
    sa.encapSocket?.socket.addSa(sa);
    return sa;
  }

  async deleteSa(sa: BackendSa): Promise<void> {
    if (!(sa instanceof ServiceSa) || sa.deleted) return;
    sa.deleted = true;
    this.#sas.delete(sa);
    sa.encapSocket?.socket.removeSa(sa);
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
    // The client sends the NAT-keepalives (its own timer); the daemon keeps no copy.
    const kernelSocket = new this.#k.KernelEncapSocket(
      udp,
      options.family,
      options.keepaliveIntervalMs,
      () => undefined,
    );
    const socket = new ServiceEncapSocket(
      this.#k,
      kernelSocket,
      this.#statistics.of(options.scope),
      id,
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
    const kernelSocket = new this.#k.KernelDatagramSocket<ServiceSa>(
      type,
      (s) => this.#installAll(s),
      () => this.#sockets.delete(handle),
    );
    const handle = new KernelDatagramSocketHandle(
      this.#k,
      kernelSocket,
      this.#statistics.of(scope),
    );
    this.#sockets.set(handle, kernelSocket);
    return handle;
  }

  #socket(socket: BackendDatagramSocket): Kernel.KernelDatagramSocket<ServiceSa> {
    const s = this.#sockets.get(socket);
    if (s === undefined) {
      throw new IllegalArgumentError(
        'Cannot use socket: it belongs to another backend or is closed',
      );
    }
    return s;
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

  async #installAll(s: Kernel.KernelDatagramSocket<ServiceSa>): Promise<void> {
    const fd = socketFd(s.udp);
    if (s.outboundSa !== undefined) await this.#install(fd, 'out', s.outboundSa);
    if (s.inboundSa !== undefined) {
      await this.#install(fd, 'in', s.inboundSa);
      s.markInboundInstalled(s.inboundSa);
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
      s.markInboundInstalled(t);
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
    s.markInboundInstalled(undefined);
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
    const k = this.#k;
    if (k.hasDescriptor(socket)) {
      await this.#install(socketFd(socket), direction, t);
      return;
    }
    try {
      this.#pendingStream.add(socket, direction, t);
    } catch (err: unknown) {
      throw mapKernelError(k, err);
    }
  }

  async removeFromStreamSocket(socket: BackendStreamSocket): Promise<void> {
    this.#pendingStream.clear(socket);
    if (this.#k.hasDescriptor(socket)) {
      await this.#connection.request('remove', {}, undefined, socketFd(socket));
    }
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

  /**
   * What crosses this process's sockets, per scope (the kernel backend's counters); the kernel
   * counts the rest per namespace, in the daemon's (`/proc/net/xfrm_stat`).
   */
  statistics(scope?: object): IpSecStatistics {
    return kernelStatistics(this.#statistics.of(scope));
  }

  /** Closes every socket and the connection: the daemon releases everything at once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const s of [...this.#sockets.values()]) await s.close();
      for (const sa of this.#sas) sa.deleted = true;
      for (const e of [...this.#encapSockets]) await e.close().catch(() => undefined);
      this.#connection.close();
    })();
    return this.#closed;
  }
}
