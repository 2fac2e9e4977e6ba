/**
 * The daemon side of the IPsec service: the {@link Backend} the daemon's {@link IpSecService}
 * drives, over the in-process {@link KernelBackend}. What differs from in-process use:
 * - sockets are the clients' own, known by a descriptor received with `SCM_RIGHTS`
 *   ({@link DescriptorSocket}); the policy goes on that descriptor;
 * - an encapsulation socket is opened, bound and marked `UDP_ENCAP_ESPINUDP` here, then its
 *   descriptor is handed to the client, which reads IKE and sends keepalives on it; the daemon
 *   keeps no copy (it would read the client's IKE datagrams);
 * - every SA and SPI reservation carries a `reqid` of the daemon's own range, so a restarted
 *   daemon finds and deletes what a killed one left ({@link flushDaemonState}).
 */
import { TypedEventEmitter } from '../../datapath/mod.ts';
import { closeDescriptor } from '../../sys/descriptor_passing.ts';
import { libc, libcFunction } from '../../sys/libc.ts';
import { HOST_LITTLE_ENDIAN } from '../../sys/netlink/message.ts';
import { flushOwnedSas, NetlinkSocket, setUdpEncapsulation } from '../../xfrm/mod.ts';
import type {
  AddressFamily,
  Backend,
  BackendDatagramSocket,
  BackendDatagramSocketEvents,
  BackendEncapSocket,
  BackendSa,
  BackendSaConfig,
  BackendTransformState,
  IpSecStatistics,
  OpenEncapSocketOptions,
  SocketAddressInfo,
  TransformDirection,
} from '../backend.ts';
import {
  IllegalArgumentError,
  ResourceUnavailableError,
  UnsupportedOperationError,
} from '../errors.ts';
import type { KernelBackend } from '../kernel_backend.ts';

/** First `reqid` of the daemon's range (ASCII "ts" in the high half): reservations use it. */
export const DAEMON_REQID_BASE = 0x7473_0000;
/** Last `reqid` of the range; owners (UIDs) get `DAEMON_REQID_BASE + 1` onwards. */
export const DAEMON_REQID_LAST = 0x7473_ffff;

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const EADDRINUSE = 98;

/** A client's socket, known by the descriptor the daemon received (closed by the daemon after use). */
export class DescriptorSocket
  extends TypedEventEmitter<BackendDatagramSocketEvents>
  implements BackendDatagramSocket
{
  readonly fd: number;
  readonly domain: number;
  readonly type: 'udp4' | 'udp6';
  readonly inboundBlocked = false;
  constructor(fd: number, domain: number) {
    super();
    this.fd = fd;
    this.domain = domain;
    this.type = domain === AF_INET6 ? 'udp6' : 'udp4';
  }
  bind(): Promise<SocketAddressInfo> {
    return Promise.reject(new UnsupportedOperationError('The daemon does not bind client sockets'));
  }
  send(): Promise<void> {
    return Promise.reject(
      new UnsupportedOperationError('The daemon does not send on client sockets'),
    );
  }
  address(): SocketAddressInfo {
    throw new UnsupportedOperationError('The daemon does not know client socket addresses');
  }
  ref(): void {}
  unref(): void {}
  async close(): Promise<void> {}
}

/** An encapsulation socket opened by the daemon for a client; the descriptor leaves with the reply. */
export class DescriptorEncapSocket implements BackendEncapSocket {
  readonly port: number;
  readonly family: AddressFamily;
  /** Marks a socket the kernel backend knows by port only. */
  readonly descriptorOwned = true;
  #fd: number | undefined;
  constructor(fd: number, port: number, family: AddressFamily) {
    this.#fd = fd;
    this.port = port;
    this.family = family;
  }
  /** The descriptor, until {@link DescriptorEncapSocket.handOver}. */
  get fd(): number | undefined {
    return this.#fd;
  }
  /** Closes the daemon's copy (after it was sent, or when the request failed). */
  handOver(): void {
    if (this.#fd !== undefined) closeDescriptor(this.#fd);
    this.#fd = undefined;
  }
  sendIke(): Promise<void> {
    return Promise.reject(new UnsupportedOperationError('IKE goes through the client'));
  }
  setIkeReceiver(): void {}
  ref(): void {}
  unref(): void {}
  async close(): Promise<void> {
    this.handOver();
  }
}

let getsocknameFn: ((...args: unknown[]) => unknown) | undefined;

/** Opens a UDP socket bound to the wildcard address on `port` (0 = any) with `UDP_ENCAP_ESPINUDP`. */
function openEncapDescriptor(family: AddressFamily, port: number): { fd: number; port: number } {
  const c = libc();
  const af = family === 'IPv6' ? AF_INET6 : AF_INET;
  const fd = c.socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new ResourceUnavailableError(`Cannot create UDP socket (errno ${c.errno()})`);
  try {
    if (af === AF_INET6) {
      const one = new Uint8Array(4);
      new DataView(one.buffer).setInt32(0, 1, HOST_LITTLE_ENDIAN);
      c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, one, 4);
    }
    const address = new Uint8Array(af === AF_INET6 ? 28 : 16);
    const view = new DataView(address.buffer);
    view.setUint16(0, af, HOST_LITTLE_ENDIAN);
    view.setUint16(2, port); // network order
    if (c.bind(fd, address, address.length) < 0) {
      const errno = c.errno();
      throw new ResourceUnavailableError(
        `Cannot open UDP encapsulation socket on port ${port}: ${errno === EADDRINUSE ? 'the port is already in use' : `errno ${errno}`}`,
      );
    }
    getsocknameFn ??= libcFunction('int getsockname(int fd, void *addr, void *len)');
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, address.length, HOST_LITTLE_ENDIAN);
    if (Number(getsocknameFn(fd, address, length)) < 0) {
      throw new ResourceUnavailableError(`Cannot read the bound port (errno ${c.errno()})`);
    }
    setUdpEncapsulation(fd);
    return { fd, port: view.getUint16(2) };
  } catch (err: unknown) {
    c.close(fd);
    throw err;
  }
}

/** The {@link Backend} of the daemon's service core. */
export class DaemonBackend implements Backend {
  readonly name = 'kernel';
  readonly kernel: KernelBackend;
  /** Largest protected payload per SA (`destination|spi`), reported to the client at build. */
  readonly #maxPayload = new Map<string, number>();

  constructor(kernel: KernelBackend) {
    this.kernel = kernel;
  }

  reserveSpi(destination: string, spi: number): Promise<boolean> {
    return this.kernel.reserveSpi(destination, spi);
  }
  releaseSpi(destination: string, spi: number): Promise<void> {
    return this.kernel.releaseSpi(destination, spi);
  }
  async createSa(config: BackendSaConfig): Promise<BackendSa> {
    const sa = await this.kernel.createSa(config);
    const max = (sa as { readonly maxPayloadLength?: unknown }).maxPayloadLength;
    if (typeof max === 'number') {
      this.#maxPayload.set(`${sa.destinationAddress}|${sa.spi >>> 0}`, max);
    }
    return sa;
  }
  /** The largest payload one datagram protected by this SA can carry. */
  maxPayloadLength(destination: string, spi: number): number | undefined {
    return this.#maxPayload.get(`${destination}|${spi >>> 0}`);
  }
  deleteSa(sa: BackendSa): Promise<void> {
    this.#maxPayload.delete(`${sa.destinationAddress}|${sa.spi >>> 0}`);
    return this.kernel.deleteSa(sa);
  }
  async openEncapSocket(options: OpenEncapSocketOptions): Promise<BackendEncapSocket> {
    const { fd, port } = openEncapDescriptor(options.family, options.port);
    return new DescriptorEncapSocket(fd, port, options.family);
  }
  createDatagramSocket(): BackendDatagramSocket {
    throw new UnsupportedOperationError('The daemon protects the clients’ own sockets');
  }
  async applyToSocket(
    socket: BackendDatagramSocket,
    direction: TransformDirection,
    sa: BackendSa,
  ): Promise<void> {
    if (!(socket instanceof DescriptorSocket)) {
      throw new IllegalArgumentError('Cannot apply transform: not a client descriptor');
    }
    const family = (sa as { readonly family?: unknown }).family;
    if (family === 'IPv6' && socket.domain === AF_INET) {
      throw new IllegalArgumentError(
        'Mismatched address family: an IPv6 transform on an IPv4 socket',
      );
    }
    await this.kernel.applyToDescriptor(socket.fd, direction, sa);
  }
  async removeFromSocket(socket: BackendDatagramSocket): Promise<void> {
    if (!(socket instanceof DescriptorSocket)) {
      throw new IllegalArgumentError('Cannot remove transforms: not a client descriptor');
    }
    await this.kernel.removeFromDescriptor(socket.fd);
  }
  getTransformState(sa: BackendSa): Promise<BackendTransformState> {
    return this.kernel.getTransformState(sa);
  }
  statistics(): IpSecStatistics {
    return {};
  }
  close(): Promise<void> {
    return this.kernel.close();
  }
}

/**
 * Deletes every SA and SPI reservation of the namespace whose `reqid` is in the daemon's range:
 * what a previous daemon left when it was killed. Larval states with SPI 0 (refused
 * reservations) cannot be deleted and expire by themselves; they are counted apart.
 */
export async function flushDaemonState(): Promise<{ deleted: number; expiring: number }> {
  const socket = NetlinkSocket.open();
  try {
    return await flushOwnedSas(socket, { reqid: DAEMON_REQID_BASE, reqidLast: DAEMON_REQID_LAST });
  } finally {
    socket.close();
  }
}
