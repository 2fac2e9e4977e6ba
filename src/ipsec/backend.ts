/**
 * The `Backend` interface (two backends, one API): what the backend-independent
 * service core ({@link IpSecService}) needs from whatever moves the packets.
 *
 * Implemented by the userspace ESP data path (`userspace_backend.ts` over `src/datapath/`) and,
 * by the kernel over NETLINK_XFRM (`kernel_backend.ts`). The shapes follow the kernel calls netd
 * makes (its XfrmController): `reserveSpi` ≈ `XFRM_MSG_ALLOCSPI` (one candidate per call, conflict
 * = `false`, like the kernel's `ENOENT`), `createSa` ≈ `XFRM_MSG_UPDSA`, `deleteSa` ≈
 * `XFRM_MSG_DELSA`, `applyToSocket`/`removeFromSocket` ≈ `setsockopt(IP_XFRM_POLICY)`,
 * `openEncapSocket` ≈ a UDP socket with `UDP_ENCAP_ESPINUDP`, `getTransformState` ≈
 * `XFRM_MSG_GETSA`.
 *
 * Contract for errors: a backend throws the classes of `errors.ts` (`ResourceUnavailableError` for
 * a busy port, `IllegalArgumentError` for an `EINVAL`, `UnsupportedOperationError` for what it
 * cannot do, `TransformClosedError`/`DestinationMismatchError` for socket I/O). Per-packet failures
 * are counted, never thrown.
 */
import type { Server, Socket } from 'node:net';
import type { DatapathCounter, TypedEventEmitter } from '../datapath/mod.ts';

/** Transform direction on a socket (Android `DIRECTION_IN` / `DIRECTION_OUT`). */
export type TransformDirection = 'in' | 'out';

/** Address family of a transform, encapsulation socket or datagram socket. */
export type AddressFamily = 'IPv4' | 'IPv6';

/** Remote end of a received datagram, as `dgram` reports it. */
export interface RemoteInfo {
  readonly address: string;
  readonly family: AddressFamily;
  readonly port: number;
  readonly size: number;
}

/** Local address of a bound socket. */
export interface SocketAddressInfo {
  readonly address: string;
  readonly family: AddressFamily;
  readonly port: number;
}

/** A UDP encapsulation socket held by a backend (kernel: a socket with `UDP_ENCAP_ESPINUDP`). */
export interface BackendEncapSocket {
  readonly port: number;
  readonly family: AddressFamily;
  /**
   * Sends one datagram from the encapsulation port as it is (an IKE message starts with the
   * non-ESP marker of RFC 3948 §2.2, written by the caller). Resolves when handed to the OS.
   */
  sendIke(datagram: Uint8Array, port: number, address: string): Promise<void>;
  /**
   * Installs the receiver of IKE datagrams (those starting with the non-ESP marker, delivered
   * unchanged). One receiver; `undefined` removes it.
   */
  setIkeReceiver(receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined): void;
  /** Whether the open socket keeps the process alive (`dgram`'s `ref`/`unref`). */
  ref(): void;
  unref(): void;
  /** Closes the socket and frees the port. Idempotent. */
  close(): Promise<void>;
}

/** Opaque handle of a security association created by a backend. */
export interface BackendSa {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
}

/** Events of a {@link BackendDatagramSocket}. */
export interface BackendDatagramSocketEvents {
  /** A datagram delivered to the application. */
  readonly message: [msg: Buffer, rinfo: RemoteInfo];
  readonly close: [];
  readonly error: [err: Error];
  /** Optional: a datagram was dropped because the applied inbound transform was closed. */
  readonly refused: [];
}

/**
 * A datagram socket a backend can protect: an `EventEmitter` of
 * {@link BackendDatagramSocketEvents}.
 */
export interface BackendDatagramSocket extends TypedEventEmitter<BackendDatagramSocketEvents> {
  readonly type: 'udp4' | 'udp6';
  /** Binds; `port` 0 or omitted = random. */
  bind(port: number, address: string | undefined): Promise<SocketAddressInfo>;
  /** Sends one datagram; protected or clear text as the applied transforms decide. */
  send(message: Uint8Array, port: number, address: string): Promise<void>;
  /** Local address; throws when not bound. */
  address(): SocketAddressInfo;
  /** Whether receiving currently fails because an applied inbound transform was closed. */
  readonly inboundBlocked: boolean;
  /**
   * Optional: `true` while an inbound transform is being applied (called synchronously when the
   * application calls apply, `false` once it settled). A backend whose apply is not immediate
   * drops clear text meanwhile, so nothing unprotected is delivered after apply was called.
   */
  setInboundPending?(pending: boolean): void;
  /** Whether the open socket keeps the process alive (`dgram`'s `ref`/`unref`). */
  ref(): void;
  unref(): void;
  /** Closes. Idempotent. */
  close(): Promise<void>;
}

/**
 * A TCP socket or listening server, protected by the kernel itself (only a backend with
 * {@link Backend.applyToStreamSocket} can: the kernel backend).
 */
export type BackendStreamSocket = Socket | Server;

/**
 * Algorithms of an SA, validated by the service core before they reach a backend. The key buffers
 * belong to the service and are zero-filled as soon as `createSa` settles: a backend copies what
 * it keeps.
 */
export interface BackendSaAlgorithms {
  readonly encryption?: { readonly name: string; readonly key: Uint8Array };
  readonly authentication?: {
    readonly name: string;
    readonly key: Uint8Array;
    readonly truncationLengthBits: number;
  };
  readonly aead?: {
    readonly name: string;
    readonly key: Uint8Array;
    readonly icvLengthBits: number;
  };
}

/** Everything a backend needs to install a transport-mode SA. */
export interface BackendSaConfig extends BackendSaAlgorithms {
  readonly spi: number;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly family: AddressFamily;
  /** UDP encapsulation (RFC 3948); absent = plain ESP, which only the kernel backend can do. */
  readonly encapsulation?: { readonly socket: BackendEncapSocket; readonly remotePort: number };
  /** Anti-replay window in packets (Android 14: 4096). */
  readonly replayWindowSize: number;
  /** Extended sequence numbers (RFC 4303 §2.2.1). */
  readonly esn: boolean;
  /** Owner tag (the kernel's `reqid`; Android uses the UID). */
  readonly ownerTag: number;
}

/** SA state as Android 15's `IpSecTransformState` reports it. */
export interface BackendTransformState {
  readonly txHighestSequenceNumber: bigint;
  readonly rxHighestSequenceNumber: bigint;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly replayBitmap: Uint8Array;
}

/** Which implementation does a backend's ESP crypto ({@link Backend.cryptoProvider}). */
export type BackendCryptoProvider = 'openssl-native' | 'node-crypto' | 'kernel';

/** Options of {@link Backend.openEncapSocket}. */
export interface OpenEncapSocketOptions {
  /** 0 = random, else 1024..65535 (validated by the service core). */
  readonly port: number;
  readonly family: AddressFamily;
  /** NAT-T keepalive interval (RFC 3948 §2.3); 0 disables. */
  readonly keepaliveIntervalMs: number;
  /** Statistics scope of the socket's traffic (one per `IpSecManager`; see {@link Backend.statistics}). */
  readonly scope?: object;
}

/**
 * A counter of {@link IpSecManager.getStatistics}: the userspace data path's counters
 * (`rx.*`, `tx.*`, `drop.*`, `tx.drop.*`, `error.encap-socket`) and `drop.queue-full`.
 */
export type IpSecCounter = DatapathCounter | 'drop.queue-full';

/**
 * Counters by key. A backend reports the keys it can count (the userspace backend: all of them;
 * the kernel backend: see docs/kernel-backend.md); an absent key is not counted, not zero.
 */
export type IpSecStatistics = { readonly [K in IpSecCounter]?: number };

/**
 * What the IpSecManager service core needs from a data path. Implement it to add a backend; the
 * shared behavioural suite (`test/ipsec/_suite.ts`) checks an implementation against Android's rules.
 *
 * @example
 * ```ts
 * import { IpSecManager, UserspaceBackend } from 'tsnetd/ipsec';
 * const backend = new UserspaceBackend();
 * // Two owners (think: two Android UIDs) sharing one backend share its SPI table.
 * await using a = await IpSecManager.create({ backend, ownerId: 'a' });
 * await using b = await IpSecManager.create({ backend, ownerId: 'b' });
 * ```
 */
export interface Backend {
  /** Short name shown in errors and status output (`'userspace'`, `'kernel'`). */
  readonly name: string;
  /**
   * Who seals and opens ESP: OpenSSL contexts through koffi (`'openssl-native'`), node:crypto
   * (`'node-crypto'`), or the Linux kernel (`'kernel'`). Chosen once per process; optional for
   * backends that do not say.
   */
  readonly cryptoProvider?: BackendCryptoProvider;
  /**
   * Reserves one SPI for a destination (kernel: `XFRM_MSG_ALLOCSPI` with min = max = `spi`).
   * @returns `false` when (destination, spi) is already taken
   */
  reserveSpi(destination: string, spi: number): Promise<boolean>;
  /** Frees an SPI reservation that no SA took over. */
  releaseSpi(destination: string, spi: number): Promise<void>;
  /** Installs an SA on a reserved SPI (the reservation becomes the SA's). */
  createSa(config: BackendSaConfig): Promise<BackendSa>;
  /** Deletes an SA and its SPI reservation; sockets it is applied to fail I/O until cleared. */
  deleteSa(sa: BackendSa): Promise<void>;
  /** Opens and binds a UDP encapsulation socket. A busy port → `ResourceUnavailableError`. */
  openEncapSocket(options: OpenEncapSocketOptions): Promise<BackendEncapSocket>;
  /**
   * Creates a datagram socket this backend can protect; `scope` (one per `IpSecManager`) is where
   * its traffic is counted.
   */
  createDatagramSocket(type: 'udp4' | 'udp6', scope?: object): BackendDatagramSocket;
  /** Applies an SA to a socket in one direction (outbound replaces; inbound keeps the old one held). */
  applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void>;
  /** Removes the transforms of both directions from a socket. */
  removeFromSocket(socket: BackendDatagramSocket): Promise<void>;
  /**
   * Optional (the kernel backend): applies an SA to an ordinary TCP socket or listening server
   * (Android's `applyTransportModeTransform(Socket, …)`). Absent = the backend cannot.
   */
  applyToStreamSocket?(
    socket: BackendStreamSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void>;
  /** Optional, with {@link Backend.applyToStreamSocket}: removes both directions. */
  removeFromStreamSocket?(socket: BackendStreamSocket): Promise<void>;
  /**
   * Optional (kernel and service backends): applies an SA to any socket of this process given by
   * its descriptor (a bound `dgram.Socket`, or Android's `FileDescriptor` overload).
   */
  applyToDescriptor?(fd: number, direction: TransformDirection, sa: BackendSa): Promise<void>;
  /** Optional, with {@link Backend.applyToDescriptor}: removes both directions. */
  removeFromDescriptor?(fd: number): Promise<void>;
  /** Reads the SA's counters and replay state. */
  getTransformState(sa: BackendSa): Promise<BackendTransformState>;
  /**
   * Packet counters of the traffic of the sockets created or opened with `scope` (omitted: of the
   * whole backend), as far as the backend can count them.
   */
  statistics(scope?: object): IpSecStatistics;
  /** Closes every socket and deletes every SA. Idempotent. */
  close(): Promise<void>;
}
