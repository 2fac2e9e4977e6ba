/**
 * `IpSecManager`: Android's `android.net.IpSecManager` for Node.js.
 * A thin facade: every call goes to the {@link IpSecService} of its backend (one service per
 * backend instance, shared by every manager that uses it, like Android's system server).
 */
import { Socket as DgramSocket } from 'node:dgram';
import { Server as NetServer, Socket as NetSocket } from 'node:net';
import { SocketFdUnavailableError } from '../sys/errors.ts';
import { socketFd } from '../sys/socket_fd.ts';
import { type ManagerContext, registerContext } from './_manager_context.ts';
import { DEFAULT_RECEIVE_QUEUE_LENGTH, type ReceiveQueueOptions } from './_receive_queue.ts';
import { checkInteger, checkIntegerIn, describeValue } from './_socket_args.ts';
import type {
  AddressFamily,
  Backend,
  BackendCryptoProvider,
  IpSecCounter,
  IpSecStatistics,
} from './backend.ts';
import { IllegalArgumentError, IllegalStateError } from './errors.ts';
import {
  backendSocketOf,
  IpSecDatagramSocket,
  trackTransformChange,
} from './ipsec_datagram_socket.ts';
import { IpSecService, type IpSecServiceCallOptions } from './ipsec_service.ts';
import { checkReplayWindowSize, IpSecTransform } from './ipsec_transform.ts';
import { SecurityParameterIndex } from './security_parameter_index.ts';
import { defaultRandomUint32 } from './spi_allocator.ts';
import { UdpEncapsulationSocket } from './udp_encapsulation_socket.ts';
import { UserspaceBackend } from './userspace_backend.ts';

/** Options of {@link IpSecManager.create}. */
export interface IpSecManagerOptions {
  /**
   * `'userspace'` (default: a new {@link UserspaceBackend} owned and closed by this manager),
   * `'kernel'` (a new {@link KernelBackend}: Linux XFRM/ESP; throws `KernelBackendUnavailableError`
   * at creation without ESP or CAP_NET_ADMIN) or a `Backend` instance to share with other managers
   * (shared SPI table, shared resource ids).
   */
  readonly backend?: 'userspace' | 'kernel' | 'service' | Backend;
  /**
   * With `backend: 'service'`: the Unix socket of tsnetd's IPsec service (default
   * `/run/tsnetd/ipsec`). No privilege is needed; the daemon owns the kernel state.
   */
  readonly servicePath?: string;
  /** The owner (Android's UID) for quotas and resource lookup. Default: unique per manager. */
  readonly ownerId?: string | number;
  /** NAT-T keepalive interval of encapsulation sockets opened here (RFC 3948 §2.3). Default 20000; 0 = off. */
  readonly keepaliveIntervalMs?: number;
  /** Anti-replay window of transforms built here: 0 (off) or 32..65536. Default 4096 (Android 14). */
  readonly replayWindowSize?: number;
  /** Extended sequence numbers for transforms built here. Default false (Android). */
  readonly esn?: boolean;
  /** Source of uniform uint32 values for random SPIs (seed it in tests). Default: `crypto.getRandomValues`. */
  readonly randomUint32?: () => number;
  /**
   * Datagrams a `for await` loop over a socket created here may have waiting (a socket receive
   * buffer): 1..1048576, default 1024. Beyond it the newest datagram is dropped and counted as
   * `drop.queue-full` in {@link IpSecManager.getStatistics}.
   */
  readonly receiveQueueLength?: number;
}

/** Options of {@link IpSecManager.openUdpEncapsulationSocket}. */
export interface OpenUdpEncapsulationSocketOptions {
  /** `'IPv4'` (default, bound to 0.0.0.0) or `'IPv6'` (bound to ::; Android 14's port ≥ 65536 trick). */
  readonly family?: AddressFamily;
}

/** Direction values of Android (`DIRECTION_IN = 0`, `DIRECTION_OUT = 1`). */
export type Direction = 0 | 1;

const SERVICES = new WeakMap<Backend, IpSecService>();
let nextDefaultOwner = 1;

/** Default anti-replay window (Android 14, `REPLAY_WINDOW_SIZE_ESN`). */
export const DEFAULT_REPLAY_WINDOW_SIZE = 4096;
/** Default NAT-T keepalive interval (RFC 3948 §4 suggests 20 s). */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 20_000;
/** Largest `receiveQueueLength`. */
const MAX_RECEIVE_QUEUE_LENGTH = 1_048_576;
export { DEFAULT_RECEIVE_QUEUE_LENGTH };

/**
 * Manages IPsec transport-mode resources for one owner: SPIs, UDP encapsulation sockets,
 * transforms, and protected datagram sockets. Every resource is disposable; closing the manager
 * releases everything it created (Android: the app process died).
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { once } from 'node:events';
 * import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using encap = await ipsec.openUdpEncapsulationSocket();
 * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
 * await using transform = await new IpSecTransform.Builder(ipsec)
 *   .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(36), 128))
 *   .setIpv4Encapsulation(encap, encap.getPort())
 *   .buildTransportModeTransform('127.0.0.1', spi);
 * await using socket = ipsec.createDatagramSocket('udp4');
 * const { port } = await socket.bind(0, '127.0.0.1');
 * await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
 * await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_IN, transform);
 * const received = once(socket, 'message');
 * await socket.send('secret', port, '127.0.0.1');
 * const [msg] = await received;
 * console.log(String(msg)); // secret (it travelled as ESP-in-UDP)
 * ```
 */
export class IpSecManager implements AsyncDisposable {
  /** Apply a transform to traffic towards the host (Android `DIRECTION_IN`). */
  static readonly DIRECTION_IN = 0;
  /** Apply a transform to traffic away from the host (Android `DIRECTION_OUT`). */
  static readonly DIRECTION_OUT = 1;
  /** Android `INVALID_SECURITY_PARAMETER_INDEX`. */
  static readonly INVALID_SECURITY_PARAMETER_INDEX = 0;
  /** Android `INVALID_RESOURCE_ID`. */
  static readonly INVALID_RESOURCE_ID = -1;

  readonly #context: ManagerContext;
  readonly #ownsBackend: boolean;
  readonly #sockets = new Set<IpSecDatagramSocket>();
  readonly #encapSockets = new Set<UdpEncapsulationSocket>();
  #closed = false;
  /** Datagrams dropped by full `for await` queues of this manager's sockets. */
  #queueFullDrops = 0;
  readonly #queueOptions: ReceiveQueueOptions;

  private constructor(
    service: IpSecService,
    ownerId: string,
    options: IpSecServiceCallOptions,
    ownsBackend: boolean,
    receiveQueueLength: number,
  ) {
    this.#ownsBackend = ownsBackend;
    this.#queueOptions = {
      maxLength: receiveQueueLength,
      onDrop: () => {
        this.#queueFullDrops++;
      },
    };
    this.#context = {
      service,
      caller: { owner: ownerId, token: {} },
      options,
      resourceIds: new Set(),
      assertOpen: (action: string) => {
        if (this.#closed)
          throw new IllegalStateError(`Cannot ${action}: the IpSecManager is closed`);
      },
      adopt: async (resourceId: number, action: string) => {
        if (!this.#closed) {
          this.#context.resourceIds.add(resourceId);
          return;
        }
        await service.releaseAllOf(this.#context.caller, [resourceId]);
        throw new IllegalStateError(`Cannot ${action}: the IpSecManager was closed meanwhile`);
      },
    };
    registerContext(this, this.#context);
  }

  /**
   * Creates a manager.
   *
   * @example
   * ```ts
   * import { IpSecManager, UserspaceBackend } from 'tsnetd/ipsec';
   * await using alone = await IpSecManager.create();                         // own backend
   * const backend = new UserspaceBackend();
   * await using app1 = await IpSecManager.create({ backend, ownerId: 10001 }); // shared backend
   * await using app2 = await IpSecManager.create({ backend, ownerId: 10002 });
   * ```
   */
  static async create(options: IpSecManagerOptions = {}): Promise<IpSecManager> {
    const replayWindowSize = checkReplayWindowSize(
      'create IpSecManager',
      options.replayWindowSize ?? DEFAULT_REPLAY_WINDOW_SIZE,
    );
    const keepaliveIntervalMs = options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
    // setInterval() turns anything above 2^31 - 1 into 1 ms: a keepalive flood, not "rarely".
    if (typeof keepaliveIntervalMs !== 'number' || !Number.isFinite(keepaliveIntervalMs)) {
      throw new TypeError(
        `Cannot create IpSecManager: keepaliveIntervalMs must be a finite number, got ${describeValue(keepaliveIntervalMs)}`,
      );
    }
    if (keepaliveIntervalMs < 0 || keepaliveIntervalMs > 0x7fffffff) {
      throw new IllegalArgumentError(
        `Cannot create IpSecManager: keepaliveIntervalMs must be in 0..2147483647, got ${keepaliveIntervalMs}`,
      );
    }
    const receiveQueueLength = checkIntegerIn(
      'create IpSecManager',
      'receiveQueueLength',
      options.receiveQueueLength ?? DEFAULT_RECEIVE_QUEUE_LENGTH,
      1,
      MAX_RECEIVE_QUEUE_LENGTH,
    );
    // Every option is checked before a backend (sockets) is created: a bad option leaks nothing.
    const { ownerId: owner, esn, randomUint32 } = options;
    if (
      owner !== undefined &&
      !(typeof owner === 'string' && owner !== '') &&
      !(typeof owner === 'number' && Number.isSafeInteger(owner))
    ) {
      throw new TypeError(
        'Cannot create IpSecManager: ownerId must be a non-empty string or a safe integer',
      );
    }
    if (esn !== undefined && typeof esn !== 'boolean') {
      throw new TypeError('Cannot create IpSecManager: esn must be a boolean');
    }
    if (randomUint32 !== undefined && typeof randomUint32 !== 'function') {
      throw new TypeError('Cannot create IpSecManager: randomUint32 must be a function');
    }
    const chosen = options.backend ?? 'userspace';
    let backend: Backend;
    let ownsBackend = false;
    if (chosen === 'userspace') {
      backend = new UserspaceBackend();
      ownsBackend = true;
    } else if (chosen === 'kernel') {
      // Loaded here only: the userspace path never loads the kernel layer. Probes first: no ESP
      // or no CAP_NET_ADMIN → KernelBackendUnavailableError now, not later.
      const { KernelBackend } = await import('./kernel_backend.ts');
      backend = await KernelBackend.create();
      ownsBackend = true;
    } else if (chosen === 'service') {
      // Connects first: no daemon on the path → IpSecServiceUnavailableError now, naming it.
      const { ServiceBackend } = await import('./service/service_backend.ts');
      backend = await ServiceBackend.connect(
        options.servicePath === undefined ? {} : { path: options.servicePath },
      );
      ownsBackend = true;
    } else if (
      typeof chosen === 'object' &&
      chosen !== null &&
      typeof chosen.createSa === 'function'
    ) {
      backend = chosen;
    } else {
      throw new TypeError(`Cannot create IpSecManager: unknown backend ${describeValue(chosen)}`);
    }
    let service = SERVICES.get(backend);
    if (service === undefined) {
      service = new IpSecService(backend);
      SERVICES.set(backend, service);
    }
    const ownerId =
      options.ownerId === undefined
        ? `manager-${nextDefaultOwner++}`
        : `${typeof options.ownerId}:${options.ownerId}`;
    return new IpSecManager(
      service,
      ownerId,
      {
        replayWindowSize,
        esn: options.esn ?? false,
        keepaliveIntervalMs,
        randomUint32: options.randomUint32 ?? defaultRandomUint32,
      },
      ownsBackend,
      receiveQueueLength,
    );
  }

  /** Name of the backend (`'userspace'` or `'kernel'`). */
  get backendName(): string {
    return this.#context.service.backend.name;
  }

  /**
   * Who does the ESP crypto of this manager's backend: `'openssl-native'` (OpenSSL contexts
   * through koffi, one per SA and direction), `'node-crypto'` (the fallback when koffi or an
   * OpenSSL symbol is missing, or `TSNETD_ESP_CRYPTO=node-crypto`), or `'kernel'`.
   * `undefined` for a backend that does not say.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using manager = await IpSecManager.create();
   * console.log(manager.cryptoProvider); // 'openssl-native' or 'node-crypto'
   * ```
   */
  get cryptoProvider(): BackendCryptoProvider | undefined {
    return this.#context.service.backend.cryptoProvider;
  }

  /**
   * Reserves an SPI for traffic to or from `destination` (random when `requestedSpi` is omitted).
   * Uniqueness is per destination across every owner of the backend.
   *
   * @param destination numeric IPv4/IPv6 address, not a wildcard
   * @param requestedSpi a specific SPI, 256..0xFFFFFFFF (1–255 are reserved; 0 is refused)
   * @throws {IllegalArgumentError} bad address, SPI 0 or 1–255
   * @throws {SpiUnavailableError} the requested SPI is taken for this destination
   * @throws {ResourceUnavailableError} quota of 64 SPIs reached, or no SPI free
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1', 0xd1201d);
   * ```
   */
  async allocateSecurityParameterIndex(
    destination: string,
    requestedSpi?: number,
  ): Promise<SecurityParameterIndex> {
    this.#context.assertOpen('allocate SPI');
    let spiValue = 0;
    if (requestedSpi !== undefined) {
      // A Java int, signed or (as tsnetd prints SPIs) unsigned.
      spiValue =
        checkIntegerIn('allocate SPI', 'requestedSpi', requestedSpi, -0x80000000, 0xffffffff) >>> 0;
      if (spiValue === 0) {
        throw new IllegalArgumentError('Requested SPI must be a valid (non-zero) SPI');
      }
    }
    const r = await this.#context.service.allocateSpi(
      this.#context.caller,
      destination,
      spiValue,
      this.#context.options,
    );
    await this.#context.adopt(r.resourceId, 'allocate SPI');
    return SecurityParameterIndex.create(this.#context, r.resourceId, r.spi, r.destination.address);
  }

  /**
   * Opens a UDP encapsulation socket on `port` (omitted = random port).
   *
   * @param port 1024..65535; omitted = random (passing 0 explicitly is refused, as in Android)
   * @throws {IllegalArgumentError} port 0 or out of range
   * @throws {ResourceUnavailableError} port busy, or quota of 16 sockets reached
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using v4 = await ipsec.openUdpEncapsulationSocket();
   * await using v6 = await ipsec.openUdpEncapsulationSocket(undefined, { family: 'IPv6' });
   * ```
   */
  async openUdpEncapsulationSocket(
    port?: number,
    options: OpenUdpEncapsulationSocketOptions = {},
  ): Promise<UdpEncapsulationSocket> {
    this.#context.assertOpen('open UDP encapsulation socket');
    if (port !== undefined) {
      checkInteger('open socket', 'port', port);
      if (port === 0) throw new IllegalArgumentError('Specified port must be a valid port number!');
    }
    const family = options.family ?? 'IPv4';
    if (family !== 'IPv4' && family !== 'IPv6') {
      throw new TypeError(
        `Cannot open socket: family must be 'IPv4' or 'IPv6', got ${describeValue(family)}`,
      );
    }
    const r = await this.#context.service.openEncapSocket(
      this.#context.caller,
      port ?? 0,
      family,
      this.#context.options,
    );
    await this.#context.adopt(r.resourceId, 'open UDP encapsulation socket');
    const socket = UdpEncapsulationSocket.create(
      this.#context,
      r.resourceId,
      r.socket,
      this.#queueOptions,
    );
    this.#encapSockets.add(socket);
    socket.once('close', () => this.#encapSockets.delete(socket));
    return socket;
  }

  /**
   * Creates a datagram socket that transforms can be applied to (`dgram.Socket`-like).
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using socket = ipsec.createDatagramSocket('udp4');
   * ```
   */
  createDatagramSocket(type: 'udp4' | 'udp6'): IpSecDatagramSocket {
    this.#context.assertOpen('create socket');
    if (type !== 'udp4' && type !== 'udp6') {
      throw new TypeError(
        `Cannot create socket: type must be 'udp4' or 'udp6', got ${describeValue(type)}`,
      );
    }
    const socket = IpSecDatagramSocket.create(
      this.#context.service.backend.createDatagramSocket(type, this.#context.caller.token),
      this.#queueOptions,
    );
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  /**
   * Applies a transform to a socket in one direction. Outbound replaces the previous outbound
   * transform at once; inbound keeps accepting the previous inbound transform until it is closed
   * (lossless rekey). Only the manager that built the transform may apply it.
   *
   * With the kernel backend `socket` may also be an ordinary TCP `net.Socket` or a listening
   * `net.Server` (Android's `applyTransportModeTransform(Socket, …)`): apply to the server after
   * `listen()` (accepted sockets inherit its policies, so the handshake is protected) and to a
   * client before `connect()` (installed when Node creates the descriptor).
   *
   * @throws {IllegalArgumentError} bad direction, unknown/closed transform, family mismatch
   * @throws {UnsupportedOperationError} a TCP socket with a backend other than the kernel's
   * @throws {SecurityError} the transform was built by another manager of the same owner
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { randomBytes } from 'node:crypto';
   * import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = await ipsec.openUdpEncapsulationSocket();
   * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
   * await using transform = await new IpSecTransform.Builder(ipsec)
   *   .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128))
   *   .setIpv4Encapsulation(encap, encap.getPort())
   *   .buildTransportModeTransform('127.0.0.1', spi);
   * await using socket = ipsec.createDatagramSocket('udp4');
   * await socket.bind(0, '127.0.0.1');
   * await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
   * await socket.send('secret', 9, '127.0.0.1'); // leaves as ESP-in-UDP to the encapsulation port
   * assert.equal((await transform.requestIpSecTransformState()).txHighestSequenceNumber, 1n);
   * ```
   */
  async applyTransportModeTransform(
    socket: IpSecDatagramSocket | NetSocket | NetServer | DgramSocket | number,
    direction: Direction,
    transform: IpSecTransform,
  ): Promise<void> {
    this.#context.assertOpen('apply transform');
    if (typeof socket === 'number' || socket instanceof DgramSocket) {
      // Android's FileDescriptor overload (kernel and service backends): a bound dgram.Socket or
      // a raw descriptor of this process.
      if (!(transform instanceof IpSecTransform)) {
        throw new TypeError('Cannot apply transform: expected an IpSecTransform');
      }
      await this.#context.service.applyToDescriptor(
        this.#context.caller,
        descriptorOf(socket, 'apply transform'),
        direction,
        transform.getResourceId(),
      );
      return;
    }
    if (socket instanceof NetSocket || socket instanceof NetServer) {
      // TCP (kernel backend only): the kernel protects the socket itself. Writes issued while an
      // outbound apply is pending are held (cork) so none leaves before the policy is installed.
      if (!(transform instanceof IpSecTransform)) {
        throw new TypeError('Cannot apply transform: expected an IpSecTransform');
      }
      const corked = socket instanceof NetSocket && direction === IpSecManager.DIRECTION_OUT;
      if (corked) socket.cork();
      try {
        await this.#context.service.applyTransportModeTransform(
          this.#context.caller,
          socket,
          direction,
          transform.getResourceId(),
        );
      } catch (err: unknown) {
        // The policy is not in place: what the application wrote meanwhile must not leave.
        if (corked && socket.writableLength > 0) {
          socket.destroy(err instanceof Error ? err : undefined);
        }
        throw err;
      } finally {
        if (corked && !socket.destroyed) socket.uncork();
      }
      return;
    }
    const backendSocket = this.#backendSocket(socket, 'apply transform');
    if (!(transform instanceof IpSecTransform)) {
      throw new TypeError('Cannot apply transform: expected an IpSecTransform');
    }
    // Marked synchronously (Android's apply is synchronous): a send issued from now on waits
    // for this apply and leaves protected or fails; clear text received from now on is dropped.
    const kind = direction === IpSecManager.DIRECTION_IN ? 'in' : 'out';
    await trackTransformChange(socket, kind, () =>
      this.#context.service.applyTransportModeTransform(
        this.#context.caller,
        backendSocket,
        direction,
        transform.getResourceId(),
      ),
    );
  }

  /**
   * Removes the transforms of both directions from a socket; its traffic is clear text again.
   *
   * @example
   * ```ts
   * import { randomBytes } from 'node:crypto';
   * import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using encap = await ipsec.openUdpEncapsulationSocket();
   * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
   * await using transform = await new IpSecTransform.Builder(ipsec)
   *   .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128))
   *   .setIpv4Encapsulation(encap, encap.getPort())
   *   .buildTransportModeTransform('127.0.0.1', spi);
   * await using socket = ipsec.createDatagramSocket('udp4');
   * await socket.bind(0, '127.0.0.1');
   * await ipsec.applyTransportModeTransform(socket, IpSecManager.DIRECTION_OUT, transform);
   * await ipsec.removeTransportModeTransforms(socket);
   * await socket.send('clear text again', 9, '127.0.0.1');
   * ```
   */
  async removeTransportModeTransforms(
    socket: IpSecDatagramSocket | NetSocket | NetServer | DgramSocket | number,
  ): Promise<void> {
    this.#context.assertOpen('remove transforms');
    if (typeof socket === 'number' || socket instanceof DgramSocket) {
      await this.#context.service.removeFromDescriptor(descriptorOf(socket, 'remove transforms'));
      return;
    }
    if (socket instanceof NetSocket || socket instanceof NetServer) {
      await this.#context.service.removeTransportModeTransforms(socket);
      return;
    }
    const backendSocket = this.#backendSocket(socket, 'remove transforms');
    // Sends issued from now on wait for the removal, then leave in clear text (as on Android).
    await trackTransformChange(socket, 'remove', () =>
      this.#context.service.removeTransportModeTransforms(backendSocket),
    );
  }

  /**
   * Packet counters of this manager's own traffic — its datagram sockets and encapsulation
   * sockets, not those of other managers sharing the backend: received and sent datagrams and
   * bytes per kind (`rx.esp`, `tx.esp.bytes`, …), received datagrams dropped by reason
   * (`drop.auth`, `drop.not-applied`, …), sends that failed (`tx.drop.<reason>`), and
   * `drop.queue-full` (datagrams this manager's `for await` loops had no room for). The userspace
   * backend reports every key of {@link IpSecCounter}; the kernel backend only those it can count.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using socket = ipsec.createDatagramSocket('udp4');
   * await socket.send('ping', 9, '127.0.0.1');
   * const stats = ipsec.getStatistics();
   * console.log(stats['tx.clear'], stats['tx.clear.bytes'], stats['drop.auth']); // 1 4 0
   * ```
   */
  getStatistics(): IpSecStatistics {
    return {
      ...this.#context.service.backend.statistics(this.#context.caller.token),
      'drop.queue-full': this.#queueFullDrops,
    };
  }

  /** Quota usage of this manager's owner: `{ spis, transforms, encapSockets }`. */
  getQuotaUsage(): { spis: number; transforms: number; encapSockets: number } {
    return this.#context.service.quotaUsage(this.#context.caller.owner);
  }

  #backendSocket(socket: unknown, action: string) {
    const backendSocket = backendSocketOf(socket);
    if (backendSocket === undefined) {
      throw new TypeError(`Cannot ${action}: expected an IpSecDatagramSocket`);
    }
    return backendSocket;
  }

  /**
   * Releases everything this manager created (transforms first, then SPIs and encapsulation
   * sockets), closes its sockets, and closes the backend if the manager created it. Idempotent.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * const ipsec = await IpSecManager.create();
   * await ipsec.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of [...this.#sockets]) await socket.close();
    // Their 'close' event ends pending `for await` loops; transforms still hold the ports.
    for (const encap of [...this.#encapSockets]) await encap.close();
    const ids = [...this.#context.resourceIds].sort((a, b) => b - a);
    this.#context.resourceIds.clear();
    try {
      await this.#context.service.releaseAllOf(this.#context.caller, ids);
    } finally {
      if (this.#ownsBackend) await this.#context.service.backend.close();
    }
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The descriptor of a bound `dgram.Socket` or a raw descriptor number. */
function descriptorOf(socket: DgramSocket | number, action: string): number {
  if (typeof socket === 'number' && (!Number.isInteger(socket) || socket < 0)) {
    throw new IllegalArgumentError(
      `Cannot ${action}: ${describeValue(socket)} is not a descriptor`,
    );
  }
  try {
    return socketFd(socket);
  } catch (err: unknown) {
    if (err instanceof SocketFdUnavailableError) {
      throw new IllegalStateError(`Cannot ${action}: the dgram.Socket is not bound yet`, {
        cause: err,
      });
    }
    throw err;
  }
}
