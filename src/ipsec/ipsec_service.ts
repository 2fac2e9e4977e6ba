/**
 * The backend-independent service core: Android's IpSecService rebuilt.
 *
 * One service per {@link Backend} instance, shared by every manager (owner) using that backend:
 * - resource ids are global to the service, start at 1, are consumed even when the call then fails,
 *   and are never reused (Android's `mNextResourceId`);
 * - quotas per owner: 64 SPIs, 64 transforms, 16 encapsulation sockets, taken after the backend
 *   succeeded and given back only at final release (Android 11+ quotas);
 * - refcounted lifetime: a transform references its SPI and its encapsulation socket; an SPI
 *   serves one transform ever; closing an SPI owned by a transform frees nothing
 *   (`RefcountedResource`);
 * - every validation in Android's order with Android's outcome; only the manager that built a
 *   transform may apply it.
 */

import { Server as NetServer, Socket as NetSocket } from 'node:net';
import { SerialQueue } from '../sys/serial_queue.ts';
import { describeValue } from './_socket_args.ts';
import type {
  AddressFamily,
  Backend,
  BackendDatagramSocket,
  BackendEncapSocket,
  BackendSa,
  BackendSaAlgorithms,
  BackendStreamSocket,
  BackendTransformState,
  TransformDirection,
} from './backend.ts';
import {
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
  ResourceUnavailableError,
  SecurityError,
  SpiUnavailableError,
  UnsupportedOperationError,
} from './errors.ts';
import { checkInetAddress, type InetAddress } from './inet_address.ts';
import type { IpSecAlgorithm } from './ipsec_algorithm.ts';
import { RefcountedResource } from './refcounted_resource.ts';
import { sweepRandomSpi } from './spi_allocator.ts';

/** Android's per-UID quotas since Android 11. */
export const MAX_NUM_SPIS = 64;
/** Transforms per owner. */
export const MAX_NUM_TRANSFORMS = 64;
/** UDP encapsulation sockets per owner. */
export const MAX_NUM_ENCAP_SOCKETS = 16;
/** Lowest port an encapsulation socket may bind explicitly (`FREE_PORT_MIN`). */
export const FREE_PORT_MIN = 1024;
/** Highest UDP port. */
export const PORT_MAX = 0xffff;

/** Who is calling: the owner (Android's UID) and the manager instance (Android's pid). */
export interface Caller {
  readonly owner: string;
  readonly token: object;
}

interface OwnerRecord {
  readonly tag: number;
  readonly spis: Map<number, SpiRecord>;
  readonly transforms: Map<number, TransformRecord>;
  readonly encapSockets: Map<number, EncapSocketRecord>;
  spiCount: number;
  transformCount: number;
  encapSocketCount: number;
}

interface SpiRecord {
  readonly id: number;
  readonly destination: InetAddress;
  readonly spi: number;
  ownedByTransform: boolean;
  readonly resource: RefcountedResource;
}

interface EncapSocketRecord {
  readonly id: number;
  readonly socket: BackendEncapSocket;
  readonly port: number;
  readonly family: AddressFamily;
  readonly resource: RefcountedResource;
}

interface TransformRecord {
  readonly id: number;
  readonly token: object;
  readonly sa: BackendSa;
  readonly description: TransformDescription;
  readonly resource: RefcountedResource;
}

/** The configuration a transform builder hands to the service (Android `IpSecConfig`, transport mode). */
export interface TransformConfig {
  readonly sourceAddress: unknown;
  readonly spiResourceId: number;
  readonly encryption?: IpSecAlgorithm | undefined;
  readonly authentication?: IpSecAlgorithm | undefined;
  readonly authenticatedEncryption?: IpSecAlgorithm | undefined;
  readonly encapSocketResourceId?: number | undefined;
  readonly encapRemotePort?: number | undefined;
  /** This transform's anti-replay window (Builder); absent = the manager's. */
  readonly replayWindowSize?: number | undefined;
  /** This transform's ESN setting (Builder); absent = the manager's. */
  readonly esn?: boolean | undefined;
}

/** What a transform does, without keys (for status output and logs). */
export interface TransformDescription {
  readonly resourceId: number;
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: AddressFamily;
  readonly encryption?: string;
  readonly authentication?: { readonly name: string; readonly truncationLengthBits: number };
  readonly aead?: { readonly name: string; readonly icvLengthBits: number };
  readonly encapsulation?: { readonly localPort: number; readonly remotePort: number };
  /** Anti-replay window in packets (0 = off) the SA was created with. */
  readonly replayWindowSize: number;
  /** Whether the SA uses extended sequence numbers (RFC 4303 §2.2.1). */
  readonly esn: boolean;
}

/** Options of the service that do not belong to one call. */
export interface IpSecServiceCallOptions {
  readonly replayWindowSize: number;
  readonly esn: boolean;
  readonly keepaliveIntervalMs: number;
  readonly randomUint32: () => number;
}

/** The service core over one backend. Managers talk to it; applications use the managers. */
export class IpSecService {
  readonly #backend: Backend;
  readonly #owners = new Map<string, OwnerRecord>();
  #nextResourceId = 1;
  #nextOwnerTag: number;
  /** Tail of the operation queue: calls run one at a time, like Android's `synchronized` service. */
  readonly #queue = new SerialQueue();

  /**
   * @param options.firstOwnerTag the owner tag (kernel `reqid`) of the first owner, the next ones
   *   counting up from it (default 1); the IPsec service daemon uses a range of its own so it can
   *   find what it owned after a crash
   */
  constructor(backend: Backend, options: { readonly firstOwnerTag?: number } = {}) {
    this.#backend = backend;
    this.#nextOwnerTag = options.firstOwnerTag ?? 1;
  }

  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    return this.#queue.run(operation);
  }

  /** The backend this service drives. */
  get backend(): Backend {
    return this.#backend;
  }

  #owner(owner: string): OwnerRecord {
    let record = this.#owners.get(owner);
    if (record === undefined) {
      record = {
        tag: this.#nextOwnerTag++,
        spis: new Map(),
        transforms: new Map(),
        encapSockets: new Map(),
        spiCount: 0,
        transformCount: 0,
        encapSocketCount: 0,
      };
      this.#owners.set(owner, record);
    }
    return record;
  }

  /** Quota usage of an owner (what Android's `UserResourceTracker`s count). */
  quotaUsage(owner: string): { spis: number; transforms: number; encapSockets: number } {
    const r = this.#owner(owner);
    return { spis: r.spiCount, transforms: r.transformCount, encapSockets: r.encapSocketCount };
  }

  // -------------------------------------------------------------------------------------------
  // SPIs
  // -------------------------------------------------------------------------------------------

  /**
   * `allocateSecurityParameterIndex`: address check, reserved range, id, quota, backend.
   * `requestedSpi` 0 = random. Returns the resource id, the SPI and the normalised destination.
   */
  allocateSpi(
    caller: Caller,
    destination: unknown,
    requestedSpi: number,
    options: IpSecServiceCallOptions,
  ): Promise<{ resourceId: number; spi: number; destination: InetAddress }> {
    return this.#serialize(() => this.#allocateSpi(caller, destination, requestedSpi, options));
  }

  async #allocateSpi(
    caller: Caller,
    destination: unknown,
    requestedSpi: number,
    options: IpSecServiceCallOptions,
  ): Promise<{ resourceId: number; spi: number; destination: InetAddress }> {
    const dst = checkInetAddress(destination);
    if (requestedSpi > 0 && requestedSpi < 256) {
      throw new IllegalArgumentError('ESP SPI must not be in the range of 0-255.');
    }
    const resourceId = this.#nextResourceId++;
    const owner = this.#owner(caller.owner);
    if (owner.spiCount >= MAX_NUM_SPIS) {
      throw new ResourceUnavailableError('No more SPIs may be allocated by this requester.');
    }
    let spi: number;
    if (requestedSpi !== 0) {
      if (!(await this.#backend.reserveSpi(dst.address, requestedSpi))) {
        throw new SpiUnavailableError(requestedSpi);
      }
      spi = requestedSpi;
    } else {
      const found = await sweepRandomSpi(
        (candidate) => this.#backend.reserveSpi(dst.address, candidate),
        options.randomUint32,
      );
      if (found === undefined) throw new ResourceUnavailableError('No SPIs available');
      spi = found;
    }
    owner.spiCount++;
    const record: SpiRecord = {
      id: resourceId,
      destination: dst,
      spi,
      ownedByTransform: false,
      resource: new RefcountedResource(
        async () => {
          try {
            if (!record.ownedByTransform) await this.#backend.releaseSpi(dst.address, spi);
          } finally {
            owner.spiCount--;
          }
        },
        () => owner.spis.delete(resourceId),
      ),
    };
    owner.spis.set(resourceId, record);
    return { resourceId, spi, destination: dst };
  }

  /** `releaseSecurityParameterIndex`: drops the user reference; unknown id → IAE. */
  releaseSpi(caller: Caller, resourceId: number): Promise<void> {
    return this.#serialize(() => this.#releaseSpi(caller, resourceId));
  }

  async #releaseSpi(caller: Caller, resourceId: number): Promise<void> {
    const spis = this.#owner(caller.owner).spis;
    await recordOf(spis, 'SpiRecord', resourceId).resource.userRelease();
  }

  // -------------------------------------------------------------------------------------------
  // Encapsulation sockets
  // -------------------------------------------------------------------------------------------

  /** `openUdpEncapsulationSocket`: port range, id, quota, bind (any failure → resource unavailable). */
  openEncapSocket(
    caller: Caller,
    port: number,
    family: AddressFamily,
    options: IpSecServiceCallOptions,
  ): Promise<{ resourceId: number; socket: BackendEncapSocket }> {
    return this.#serialize(() => this.#openEncapSocket(caller, port, family, options));
  }

  async #openEncapSocket(
    caller: Caller,
    port: number,
    family: AddressFamily,
    options: IpSecServiceCallOptions,
  ): Promise<{ resourceId: number; socket: BackendEncapSocket }> {
    if (port !== 0 && (port < FREE_PORT_MIN || port > PORT_MAX)) {
      throw new IllegalArgumentError('Specified port number must be a valid non-reserved UDP port');
    }
    const resourceId = this.#nextResourceId++;
    const owner = this.#owner(caller.owner);
    if (owner.encapSocketCount >= MAX_NUM_ENCAP_SOCKETS) {
      throw new ResourceUnavailableError('No more Sockets may be allocated by this requester.');
    }
    let socket: BackendEncapSocket;
    try {
      socket = await this.#backend.openEncapSocket({
        port,
        family,
        keepaliveIntervalMs: options.keepaliveIntervalMs,
        scope: caller.token,
      });
    } catch (err: unknown) {
      // A kernel the service cannot use says so as it is (the IPsec service on a kernel without ESP).
      if (
        err instanceof ResourceUnavailableError ||
        (err instanceof IpSecError && err.code === 'ERR_IPSEC_KERNEL_BACKEND_UNAVAILABLE')
      ) {
        throw err;
      }
      throw new ResourceUnavailableError(`Cannot open UDP encapsulation socket on port ${port}`, {
        cause: err,
      });
    }
    owner.encapSocketCount++;
    const record: EncapSocketRecord = {
      id: resourceId,
      socket,
      port: socket.port,
      family,
      resource: new RefcountedResource(
        async () => {
          try {
            await socket.close();
          } finally {
            owner.encapSocketCount--;
          }
        },
        () => owner.encapSockets.delete(resourceId),
      ),
    };
    owner.encapSockets.set(resourceId, record);
    return { resourceId, socket };
  }

  /** `closeUdpEncapsulationSocket`: unknown id → IAE. */
  closeEncapSocket(caller: Caller, resourceId: number): Promise<void> {
    return this.#serialize(() => this.#closeEncapSocket(caller, resourceId));
  }

  async #closeEncapSocket(caller: Caller, resourceId: number): Promise<void> {
    const encapSockets = this.#owner(caller.owner).encapSockets;
    await recordOf(encapSockets, 'EncapSocketRecord', resourceId).resource.userRelease();
  }

  // -------------------------------------------------------------------------------------------
  // Transforms
  // -------------------------------------------------------------------------------------------

  /** `createTransform` for transport mode, checks in Android's order (`createTransform`). */
  createTransform(
    caller: Caller,
    config: TransformConfig,
    options: IpSecServiceCallOptions,
  ): Promise<{ resourceId: number; description: TransformDescription }> {
    return this.#serialize(() => this.#createTransform(caller, config, options));
  }

  async #createTransform(
    caller: Caller,
    config: TransformConfig,
    options: IpSecServiceCallOptions,
  ): Promise<{ resourceId: number; description: TransformDescription }> {
    const owner = this.#owner(caller.owner);
    // 3a. encapsulation
    let encap: EncapSocketRecord | undefined;
    if (config.encapSocketResourceId !== undefined) {
      encap = recordOf(owner.encapSockets, 'EncapSocketRecord', config.encapSocketResourceId);
      const remotePort = config.encapRemotePort ?? 0;
      if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > PORT_MAX) {
        throw new IllegalArgumentError(`Invalid remote UDP port: ${describeValue(remotePort)}`);
      }
    }
    // 3b. algorithms (checked here, their keys copied only once every check passed)
    validateAlgorithms(config);
    // 3c. SPI record of this owner (closed SPIs are gone from the table)
    const spiRecord = recordOf(owner.spis, 'SpiRecord', config.spiResourceId);
    // 3d. an SPI serves one transform ever
    if (spiRecord.ownedByTransform) {
      throw new IllegalStateError('SPI already in use; cannot be used in new Transforms');
    }
    // 3e/3f. destination from the SPI; source must be numeric and not a wildcard
    const destination = spiRecord.destination;
    const source = checkInetAddress(config.sourceAddress);
    // 3g. families
    if (source.family !== destination.family) {
      throw new IllegalArgumentError(
        `Source address (${source.address}) and destination address (${destination.address}) have different address families.`,
      );
    }
    // 3h. encapsulation socket family
    if (encap !== undefined && encap.family !== destination.family) {
      throw new IllegalArgumentError(
        'UDP encapsulation socket and destination address families must match',
      );
    }
    const replayWindowSize = config.replayWindowSize ?? options.replayWindowSize;
    const esn = config.esn ?? options.esn;
    // 4. id, quota
    const resourceId = this.#nextResourceId++;
    if (owner.transformCount >= MAX_NUM_TRANSFORMS) {
      throw new ResourceUnavailableError('Failed to allocate a new IpSecTransform');
    }
    // 6. backend. The keys in `algorithms` are this call's own copies (IpSecAlgorithm.getKey());
    // backends copy what they keep, so they are zeroed as soon as the backend has answered.
    const algorithms = algorithmKeys(config);
    let sa: BackendSa;
    try {
      sa = await this.#backend.createSa({
        spi: spiRecord.spi,
        sourceAddress: source.address,
        destinationAddress: destination.address,
        family: destination.family,
        ...algorithms,
        ...(encap !== undefined
          ? { encapsulation: { socket: encap.socket, remotePort: config.encapRemotePort ?? 0 } }
          : {}),
        replayWindowSize,
        esn,
        ownerTag: owner.tag,
      });
    } finally {
      algorithms.encryption?.key.fill(0);
      algorithms.authentication?.key.fill(0);
      algorithms.aead?.key.fill(0);
    }
    // 7. record; the SPI is owned by this transform from now on
    owner.transformCount++;
    spiRecord.ownedByTransform = true;
    const description: TransformDescription = {
      resourceId,
      spi: spiRecord.spi,
      sourceAddress: source.address,
      destinationAddress: destination.address,
      family: destination.family,
      ...(algorithms.encryption !== undefined ? { encryption: algorithms.encryption.name } : {}),
      ...(algorithms.authentication !== undefined
        ? {
            authentication: {
              name: algorithms.authentication.name,
              truncationLengthBits: algorithms.authentication.truncationLengthBits,
            },
          }
        : {}),
      ...(algorithms.aead !== undefined
        ? { aead: { name: algorithms.aead.name, icvLengthBits: algorithms.aead.icvLengthBits } }
        : {}),
      ...(encap !== undefined
        ? { encapsulation: { localPort: encap.port, remotePort: config.encapRemotePort ?? 0 } }
        : {}),
      replayWindowSize,
      esn,
    };
    const children = [spiRecord.resource, ...(encap !== undefined ? [encap.resource] : [])];
    const record: TransformRecord = {
      id: resourceId,
      token: caller.token,
      sa,
      description,
      resource: new RefcountedResource(
        async () => {
          try {
            await this.#backend.deleteSa(sa);
          } finally {
            owner.transformCount--;
          }
        },
        () => owner.transforms.delete(resourceId),
        children,
      ),
    };
    owner.transforms.set(resourceId, record);
    return { resourceId, description };
  }

  /** `deleteTransform`: unknown id → IAE. */
  deleteTransform(caller: Caller, resourceId: number): Promise<void> {
    return this.#serialize(() => this.#deleteTransform(caller, resourceId));
  }

  async #deleteTransform(caller: Caller, resourceId: number): Promise<void> {
    const transforms = this.#owner(caller.owner).transforms;
    await recordOf(transforms, 'TransformRecord', resourceId).resource.userRelease();
  }

  /** `getTransformState` (Android 15). */
  async getTransformState(caller: Caller, resourceId: number): Promise<BackendTransformState> {
    const record = this.#owner(caller.owner).transforms.get(resourceId);
    if (record === undefined) throw new IllegalStateError('This transform is already closed');
    try {
      return await this.#backend.getTransformState(record.sa);
    } catch (err: unknown) {
      throw new IllegalStateError('Failed to get IpSecTransformState', { cause: err });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sockets
  // -------------------------------------------------------------------------------------------

  /** `applyTransportModeTransform`: direction, transform of this owner, creator only. */
  applyTransportModeTransform(
    caller: Caller,
    socket: BackendDatagramSocket | BackendStreamSocket,
    direction: unknown,
    resourceId: number,
  ): Promise<void> {
    return this.#serialize(() =>
      this.#applyTransportModeTransform(caller, socket, direction, resourceId),
    );
  }

  async #applyTransportModeTransform(
    caller: Caller,
    socket: BackendDatagramSocket | BackendStreamSocket,
    direction: unknown,
    resourceId: number,
  ): Promise<void> {
    const dir = checkDirection(direction);
    const record = this.#transformToApply(caller, resourceId);
    if (isStreamSocket(socket)) {
      if (this.#backend.applyToStreamSocket === undefined) throw noStreamSockets(this.#backend);
      await this.#backend.applyToStreamSocket(socket, dir, record.sa);
      return;
    }
    await this.#backend.applyToSocket(socket, dir, record.sa);
  }

  /** The transform `caller` may apply: of its owner (else IAE), built by its manager (else SE). */
  #transformToApply(caller: Caller, resourceId: number): TransformRecord {
    const record = recordOf(this.#owner(caller.owner).transforms, 'TransformRecord', resourceId);
    if (record.token !== caller.token) {
      throw new SecurityError('Only the owner of an IpSec Transform may apply it!');
    }
    return record;
  }

  /**
   * `applyTransportModeTransform(FileDescriptor, …)`: the same checks, on a socket known by its
   * descriptor (a backend without {@link Backend.applyToDescriptor} cannot).
   */
  applyToDescriptor(
    caller: Caller,
    fd: number,
    direction: unknown,
    resourceId: number,
  ): Promise<void> {
    return this.#serialize(async () => {
      const dir = checkDirection(direction);
      const record = this.#transformToApply(caller, resourceId);
      if (this.#backend.applyToDescriptor === undefined) throw noDescriptors(this.#backend);
      await this.#backend.applyToDescriptor(fd, dir, record.sa);
    });
  }

  /** `removeTransportModeTransforms(FileDescriptor)`. */
  removeFromDescriptor(fd: number): Promise<void> {
    return this.#serialize(async () => {
      if (this.#backend.removeFromDescriptor === undefined) throw noDescriptors(this.#backend);
      await this.#backend.removeFromDescriptor(fd);
    });
  }

  /** `removeTransportModeTransforms`: no validation; both directions. */
  removeTransportModeTransforms(
    socket: BackendDatagramSocket | BackendStreamSocket,
  ): Promise<void> {
    return this.#serialize(() => this.#removeTransportModeTransforms(socket));
  }

  async #removeTransportModeTransforms(
    socket: BackendDatagramSocket | BackendStreamSocket,
  ): Promise<void> {
    if (isStreamSocket(socket)) {
      if (this.#backend.removeFromStreamSocket === undefined) throw noStreamSockets(this.#backend);
      await this.#backend.removeFromStreamSocket(socket);
      return;
    }
    await this.#backend.removeFromSocket(socket);
  }

  /** Releases every resource of one manager (Android: binder death of its process). */
  releaseAllOf(caller: Caller, ids: Iterable<number>): Promise<void> {
    return this.#serialize(() => this.#releaseAllOf(caller, ids));
  }

  async #releaseAllOf(caller: Caller, ids: Iterable<number>): Promise<void> {
    const owner = this.#owner(caller.owner);
    const errors: unknown[] = [];
    for (const id of ids) {
      const resource =
        owner.transforms.get(id)?.resource ??
        owner.spis.get(id)?.resource ??
        owner.encapSockets.get(id)?.resource;
      if (resource === undefined) continue;
      try {
        await resource.userRelease();
      } catch (err: unknown) {
        errors.push(err);
      }
    }
    if (errors.length > 0) {
      throw new IpSecError('Cannot release resources: the backend failed', 'ERR_IPSEC_RELEASE', {
        cause: errors[0],
      });
    }
  }
}

/** A TCP socket or listening server (protected by the kernel backend only). */
/**
 * The record with this id in one of the owner's tables; an unknown id (another owner's, or one
 * already released) is Android's `IllegalArgumentException` naming the table.
 */
function recordOf<R>(
  table: ReadonlyMap<number, R>,
  kind: 'SpiRecord' | 'EncapSocketRecord' | 'TransformRecord',
  resourceId: number,
): R {
  const record = table.get(resourceId);
  if (record === undefined) {
    throw new IllegalArgumentError(`No such ${kind} found for given id: ${resourceId}`);
  }
  return record;
}

function isStreamSocket(socket: object): socket is BackendStreamSocket {
  return socket instanceof NetSocket || socket instanceof NetServer;
}

/** The error of a backend that cannot protect TCP sockets (the userspace backend). */
function noStreamSockets(backend: Backend): UnsupportedOperationError {
  return new UnsupportedOperationError(
    `Cannot apply transform to a TCP socket: the ${backend.name} backend protects only its own datagram sockets; use the kernel backend (IpSecManager.create({ backend: 'kernel' }))`,
  );
}

/** The error of a backend that cannot protect a socket given by descriptor (userspace). */
function noDescriptors(backend: Backend): UnsupportedOperationError {
  return new UnsupportedOperationError(
    `Cannot apply transform to a socket descriptor: the ${backend.name} backend protects only its own datagram sockets; use the kernel or service backend`,
  );
}

/** `checkDirection`: IN (0) and OUT (1); FWD (2) needs NETWORK_STACK; else IAE (not an integer: TypeError). */
function checkDirection(direction: unknown): TransformDirection {
  if (typeof direction !== 'number' || !Number.isInteger(direction)) {
    throw new TypeError(
      `Cannot apply transform: direction must be an integer, got ${describeValue(direction)}`,
    );
  }
  if (direction === 0) return 'in';
  if (direction === 1) return 'out';
  if (direction === 2) {
    throw new SecurityError('Cannot apply a transform in DIRECTION_FWD: needs NETWORK_STACK');
  }
  throw new IllegalArgumentError(`Invalid Direction: ${describeValue(direction)}`);
}

/** `validateAlgorithms` (the algorithm step of `createTransform`). */
function validateAlgorithms(config: TransformConfig): void {
  const { encryption: crypt, authentication: auth, authenticatedEncryption: aead } = config;
  if (crypt === undefined && auth === undefined && aead === undefined) {
    throw new IllegalArgumentError('No Encryption or Authentication algorithms specified');
  }
  if (auth !== undefined && auth.kind !== 'authentication') {
    throw new IllegalArgumentError('Unsupported algorithm for Authentication');
  }
  if (crypt !== undefined && crypt.kind !== 'encryption') {
    throw new IllegalArgumentError('Unsupported algorithm for Encryption');
  }
  if (aead !== undefined && aead.kind !== 'aead') {
    throw new IllegalArgumentError('Unsupported algorithm for Authenticated Encryption');
  }
  if (aead !== undefined && (auth !== undefined || crypt !== undefined)) {
    throw new IllegalArgumentError(
      'Authenticated Encryption is mutually exclusive with other Authentication or Encryption algorithms',
    );
  }
}

/** Copies of the keys of validated algorithms, the caller's to zero. */
function algorithmKeys(config: TransformConfig): BackendSaAlgorithms {
  const { encryption: crypt, authentication: auth, authenticatedEncryption: aead } = config;
  return {
    ...(crypt !== undefined ? { encryption: { name: crypt.getName(), key: crypt.getKey() } } : {}),
    ...(auth !== undefined
      ? {
          authentication: {
            name: auth.getName(),
            key: auth.getKey(),
            truncationLengthBits: auth.getTruncationLengthBits(),
          },
        }
      : {}),
    ...(aead !== undefined
      ? {
          aead: {
            name: aead.getName(),
            key: aead.getKey(),
            icvLengthBits: aead.getTruncationLengthBits(),
          },
        }
      : {}),
  };
}
