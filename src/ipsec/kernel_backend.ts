/**
 * The kernel backend: adapts the kernel layer's `KernelEngine` (`src/kernel`, Linux XFRM) to the
 * {@link Backend} interface and maps its errors to the IpSecManager error classes, as
 * `userspace_backend.ts` does for the userspace data path. The kernel layer (and with it the XFRM
 * codec and the netlink socket) is loaded by {@link KernelBackend.create}, not when this module
 * is imported: an application on the userspace backend never loads it.
 *
 * Parity with the userspace backend (docs/kernel-backend.md): a datagram too large for one ESP
 * (-in-UDP) packet throws `MessageTooLongError` before the kernel sees it, and a socket with an
 * inbound apply pending and no inbound policy yet drops what it reads (clear text).
 *
 * Statistics are counted here, per manager, on what crosses the sockets in this process
 * (`KERNEL_COUNTERS`, `_kernel_sockets.ts`, which holds the socket adapters this backend shares
 * with the IPsec service's client); the kernel counts the rest per namespace
 * (`/proc/net/xfrm_stat`).
 */
import { NatKeepaliveScheduler } from '../datapath/mod.ts';
import type * as Kernel from '../kernel/mod.ts';
import {
  KernelDatagramSocketHandle,
  KernelEncapSocketHandle,
  type KernelModule,
  kernelStatistics,
  mapKernelError,
  mapped,
} from './_kernel_sockets.ts';
import { StatisticsScopes } from './_statistics_scopes.ts';
import { espAlgorithms } from './_supported_algorithms.ts';
import type {
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
} from './backend.ts';
import {
  encapSocketUnavailable,
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
} from './errors.ts';

/** Why the kernel backend cannot be used here. */
export type KernelBackendUnavailableReason = 'no-esp' | 'no-permission' | 'no-xfrm';

/**
 * The kernel cannot run the kernel backend: no ESP (`CONFIG_INET_ESP`), no XFRM netlink, or no
 * `CAP_NET_ADMIN`. The message names the userspace backend as the alternative.
 *
 * @example
 * ```ts
 * import { IpSecManager, KernelBackendUnavailableError } from 'tsnetd/ipsec';
 * try {
 *   await IpSecManager.create({ backend: 'kernel' });
 * } catch (err) {
 *   if (err instanceof KernelBackendUnavailableError) console.log(err.reason); // 'no-esp'
 * }
 * ```
 */
export class KernelBackendUnavailableError extends IpSecError {
  /** `'no-esp'`, `'no-permission'` or `'no-xfrm'`. */
  readonly reason: KernelBackendUnavailableReason;
  constructor(reason: KernelBackendUnavailableReason, detail: string, options?: ErrorOptions) {
    const why =
      reason === 'no-esp'
        ? 'this kernel has no ESP (CONFIG_INET_ESP)'
        : reason === 'no-permission'
          ? 'the process lacks CAP_NET_ADMIN'
          : 'this kernel has no XFRM netlink interface';
    super(
      `Cannot use the kernel IPsec backend: ${why} (${detail}); use the userspace backend instead (IpSecManager.create({ backend: 'userspace' }))`,
      'ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE',
      options,
    );
    this.name = 'KernelBackendUnavailableError';
    this.reason = reason;
  }
}

/** Options of {@link KernelBackend}. */
export interface KernelBackendOptions {
  /** Deadline of each netlink request in ms. Default: the sys layer's (2000). */
  readonly netlinkTimeoutMs?: number;
  /** `reqid` of SPI reservations, so an owner finds them again (the IPsec service). Default 0. */
  readonly reservationReqid?: number;
  /**
   * How often SPI reservations are renewed, in ms: the kernel drops a reservation after
   * `net.core.xfrm_acq_expires` (30 s). Default: a third of that sysctl (10 s if unreadable).
   */
  readonly reservationRefreshMs?: number;
}

/**
 * Backend #2: the Linux kernel's XFRM/ESP (transport mode, plain ESP or ESP-in-UDP). Needs a
 * kernel with ESP and `CAP_NET_ADMIN`; {@link KernelBackend.create} checks both and throws
 * {@link KernelBackendUnavailableError} otherwise. Works with TCP too (the kernel protects any
 * socket), although the IpSecManager API hands out datagram sockets.
 *
 * @example
 * ```ts
 * import { IpSecManager, KernelBackend } from 'tsnetd/ipsec';
 * const backend = await KernelBackend.create();   // throws on a kernel without ESP
 * await using ipsec = await IpSecManager.create({ backend });
 * // … or simply: IpSecManager.create({ backend: 'kernel' })
 * await backend.close();
 * ```
 */
export class KernelBackend implements Backend {
  readonly name = 'kernel';
  readonly #k: KernelModule;
  readonly #engine: Kernel.KernelEngine;
  /** Totals of every socket, and counters per statistics scope (one per IpSecManager). */
  readonly #statistics = new StatisticsScopes();

  private constructor(k: KernelModule, engine: Kernel.KernelEngine) {
    this.#k = k;
    this.#engine = engine;
  }

  /**
   * Loads the kernel layer, probes the kernel (a scratch SA) and opens the backend.
   *
   * @throws {KernelBackendUnavailableError} no ESP, no XFRM, or no CAP_NET_ADMIN
   * @example
   * ```ts
   * import { KernelBackend } from 'tsnetd/ipsec';
   * const backend = await KernelBackend.create();
   * await backend.close();
   * ```
   */
  static async create(options: KernelBackendOptions = {}): Promise<KernelBackend> {
    const k: KernelModule = await import('../kernel/mod.ts');
    try {
      return new KernelBackend(k, await k.KernelEngine.open(options));
    } catch (err: unknown) {
      if (err instanceof k.KernelUnavailableError) {
        throw new KernelBackendUnavailableError(err.reason, err.detail);
      }
      throw err;
    }
  }

  #sa(sa: BackendSa, error: new (message: string) => IpSecError, message: string): Kernel.KernelSa {
    if (!(sa instanceof this.#k.KernelSa)) throw new error(message);
    return sa;
  }

  #socket(socket: BackendDatagramSocket): Kernel.KernelDatagramSocket {
    if (
      !(socket instanceof KernelDatagramSocketHandle) ||
      !this.#engine.ownsSocket(socket.socket)
    ) {
      throw new IllegalArgumentError(
        'Cannot use socket: it belongs to another backend or is closed',
      );
    }
    return socket.socket;
  }

  reserveSpi(destination: string, spi: number): Promise<boolean> {
    return mapped(this.#k, () => this.#engine.reserveSpi(destination, spi));
  }

  releaseSpi(destination: string, spi: number): Promise<void> {
    return mapped(this.#k, () => this.#engine.releaseSpi(destination, spi));
  }

  async createSa(config: BackendSaConfig): Promise<BackendSa> {
    const encap = config.encapsulation;
    // A socket the IPsec service daemon opened and handed to its owner: known by its port only.
    const handedOver =
      encap !== undefined &&
      (encap.socket as { readonly descriptorOwned?: unknown }).descriptorOwned === true;
    if (encap !== undefined && !handedOver && !(encap.socket instanceof KernelEncapSocketHandle)) {
      throw new IllegalArgumentError(
        'Cannot build transform: the encapsulation socket belongs to another backend',
      );
    }
    const algorithms = espAlgorithms(config);
    return mapped(this.#k, () =>
      this.#engine.createSa({
        spi: config.spi,
        sourceAddress: config.sourceAddress,
        destinationAddress: config.destinationAddress,
        family: config.family,
        ...algorithms,
        ...(encap?.socket instanceof KernelEncapSocketHandle
          ? { encapsulation: { socket: encap.socket.socket, remotePort: encap.remotePort } }
          : {}),
        ...(encap !== undefined && handedOver
          ? { encapsulationPorts: { localPort: encap.socket.port, remotePort: encap.remotePort } }
          : {}),
        replayWindowSize: config.replayWindowSize,
        esn: config.esn,
        ownerTag: config.ownerTag,
      }),
    );
  }

  async deleteSa(sa: BackendSa): Promise<void> {
    if (!(sa instanceof this.#k.KernelSa)) return;
    await mapped(this.#k, () => this.#engine.deleteSa(sa));
  }

  async openEncapSocket(options: OpenEncapSocketOptions): Promise<BackendEncapSocket> {
    const engine = this.#engine;
    const socket = await mapped(this.#k, async () => {
      try {
        // NAT-keepalives through the scheduler the userspace data path uses too.
        return await engine.openEncapSocket({
          ...options,
          keepaliveScheduler: NatKeepaliveScheduler.shared,
        });
      } catch (err: unknown) {
        if (err instanceof this.#k.KernelError) throw err;
        throw encapSocketUnavailable(options.port, err);
      }
    });
    return new KernelEncapSocketHandle(this.#k, socket, this.#statistics.of(options.scope));
  }

  createDatagramSocket(type: 'udp4' | 'udp6', scope?: object): BackendDatagramSocket {
    try {
      return new KernelDatagramSocketHandle(
        this.#k,
        this.#engine.createDatagramSocket(type),
        this.#statistics.of(scope),
      );
    } catch (err: unknown) {
      throw mapKernelError(this.#k, err);
    }
  }

  async applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    const s = this.#socket(socket);
    const kernelSa = this.#sa(
      sa,
      IllegalArgumentError,
      'Cannot apply transform: it belongs to another backend',
    );
    await mapped(this.#k, () => this.#engine.applyToSocket(s, direction, kernelSa));
  }

  async removeFromSocket(socket: BackendDatagramSocket): Promise<void> {
    const s = this.#socket(socket);
    await mapped(this.#k, () => this.#engine.removeFromSocket(s));
  }

  /** TCP: see `KernelEngine.applyToStreamSocket` (policies installed before `connect()`). */
  async applyToStreamSocket(
    socket: BackendStreamSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    const kernelSa = this.#sa(
      sa,
      IllegalArgumentError,
      'Cannot apply transform: it belongs to another backend',
    );
    await mapped(this.#k, () => this.#engine.applyToStreamSocket(socket, direction, kernelSa));
  }

  async removeFromStreamSocket(socket: BackendStreamSocket): Promise<void> {
    await mapped(this.#k, () => this.#engine.removeFromStreamSocket(socket));
  }

  /** Any socket by descriptor (a bound `dgram.Socket`, a raw descriptor, the daemon's apply). */
  async applyToDescriptor(fd: number, direction: TransformDirection, sa: BackendSa): Promise<void> {
    const kernelSa = this.#sa(
      sa,
      IllegalArgumentError,
      'Cannot apply transform: it belongs to another backend',
    );
    await mapped(this.#k, () => this.#engine.applyToDescriptor(fd, direction, kernelSa));
  }

  async removeFromDescriptor(fd: number): Promise<void> {
    await mapped(this.#k, () => this.#engine.removeFromDescriptor(fd));
  }

  async getTransformState(sa: BackendSa): Promise<BackendTransformState> {
    const kernelSa = this.#sa(sa, IllegalStateError, 'Cannot read SA state: the SA was deleted');
    return mapped(this.#k, () => this.#engine.saState(kernelSa));
  }

  /** The `KERNEL_COUNTERS` of the sockets of `scope` (omitted: of every socket). */
  statistics(scope?: object): IpSecStatistics {
    return kernelStatistics(this.#statistics.of(scope));
  }

  close(): Promise<void> {
    return this.#engine.close();
  }
}
