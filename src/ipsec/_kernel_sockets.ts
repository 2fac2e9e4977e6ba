/**
 * Sockets the kernel protects, as {@link Backend} sockets: the adapter shared by the kernel
 * backend (`kernel_backend.ts`, policies set in this process) and the IPsec service's client
 * (`service/service_backend.ts`, policies set by the daemon on the descriptor it is sent). Both
 * hold the kernel layer's sockets; this module maps the kernel layer's errors to the IpSecManager
 * classes and counts, per statistics scope, what crosses the sockets ({@link KERNEL_COUNTERS}).
 *
 * The kernel layer is passed in as its loaded module (`k`), never imported here: it is loaded
 * only when a backend that needs it is created.
 */
import type { DatapathCounter, DatapathStatistics } from '../datapath/mod.ts';
import { TypedEventEmitter } from '../datapath/mod.ts';
import type * as Kernel from '../kernel/mod.ts';
import type {
  BackendDatagramSocket,
  BackendDatagramSocketEvents,
  BackendEncapSocket,
  IpSecStatistics,
  RemoteInfo,
  SocketAddressInfo,
} from './backend.ts';
import {
  DestinationMismatchError,
  IllegalArgumentError,
  IllegalStateError,
  IpSecError,
  MessageTooLongError,
  TransformClosedError,
  UnsupportedOperationError,
} from './errors.ts';

/** The kernel layer, as `import('../kernel/mod.ts')` loads it. */
export type KernelModule = typeof Kernel;

/** Maps an error of the kernel layer to the IpSecManager class for the same condition. */
export function mapKernelError(k: KernelModule, err: unknown): unknown {
  if (!(err instanceof k.KernelError)) return err;
  const options = { cause: err };
  if (err instanceof k.KernelSaDeletedError) return new TransformClosedError(err.message, options);
  if (err instanceof k.KernelDestinationError) {
    return new DestinationMismatchError(err.message, options);
  }
  if (err instanceof k.KernelPayloadTooLongError) {
    return new MessageTooLongError(err.message, err.maxLength, options);
  }
  if (err instanceof k.KernelInvalidArgumentError) {
    return new IllegalArgumentError(err.message, options);
  }
  if (err instanceof k.KernelUnsupportedError) {
    return new UnsupportedOperationError(err.message, options);
  }
  return new IllegalStateError(err.message, options);
}

/** Runs `operation`, rethrowing a kernel layer error as its IpSecManager class. */
export async function mapped<T>(k: KernelModule, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err: unknown) {
    throw mapKernelError(k, err);
  }
}

/**
 * Counters of kernel-protected sockets: what crosses them in this process. Absent: `rx.esp`,
 * `rx.keepalive`, `tx.keepalive` and the `drop.<reason>` keys of received ESP (the kernel handles
 * them below the sockets and counts them per namespace), and `tx.esp.bytes` (the kernel builds
 * the packet; its size is not known here).
 */
export const KERNEL_COUNTERS: readonly DatapathCounter[] = [
  'rx.clear',
  'rx.clear.bytes',
  'rx.delivered',
  'rx.delivered.bytes',
  'rx.ike',
  'rx.ike.bytes',
  'tx.clear',
  'tx.clear.bytes',
  'tx.esp',
  'tx.ike',
  'tx.ike.bytes',
  'drop.ike-no-listener',
  'tx.drop.transform-closed',
  'tx.drop.destination-mismatch',
  'tx.drop.too-long',
  'tx.drop.error',
];

/** The {@link KERNEL_COUNTERS} of `statistics`. */
export function kernelStatistics(statistics: DatapathStatistics): IpSecStatistics {
  const all = statistics.snapshot();
  const counted: { [K in DatapathCounter]?: number } = {};
  for (const key of KERNEL_COUNTERS) counted[key] = all[key];
  return counted;
}

/** Counts a failed send under its reason (an `IllegalStateError`, a closed socket, is not one). */
function countFailedSend(statistics: DatapathStatistics, err: unknown): void {
  if (err instanceof TransformClosedError) statistics.sendDropped('transform-closed');
  else if (err instanceof DestinationMismatchError) statistics.sendDropped('destination-mismatch');
  else if (err instanceof MessageTooLongError) statistics.sendDropped('too-long');
  else if (!(err instanceof IpSecError)) statistics.sendDropped('error');
}

/** A kernel UDP encapsulation socket as a {@link BackendEncapSocket}; counts IKE. */
export class KernelEncapSocketHandle implements BackendEncapSocket {
  readonly socket: Kernel.KernelEncapSocket;
  readonly #k: KernelModule;
  readonly #statistics: DatapathStatistics;
  #receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined;
  constructor(k: KernelModule, socket: Kernel.KernelEncapSocket, statistics: DatapathStatistics) {
    this.#k = k;
    this.socket = socket;
    this.#statistics = statistics;
    socket.setIkeReceiver((message, rinfo) => {
      statistics.received('ike', message.length);
      if (this.#receiver === undefined) statistics.drop('ike-no-listener');
      else this.#receiver(message, rinfo);
    });
  }
  get port(): number {
    return this.socket.port;
  }
  get family(): 'IPv4' | 'IPv6' {
    return this.socket.family;
  }
  async sendIke(message: Uint8Array, port: number, address: string): Promise<void> {
    try {
      await mapped(this.#k, () => this.socket.sendIke(message, port, address));
    } catch (err: unknown) {
      countFailedSend(this.#statistics, err);
      throw err;
    }
    this.#statistics.sent('ike', message.length);
  }
  setIkeReceiver(receiver: ((message: Buffer, rinfo: RemoteInfo) => void) | undefined): void {
    this.#receiver = receiver;
  }
  ref(): void {
    this.socket.udp.ref();
  }
  unref(): void {
    this.socket.udp.unref();
  }
  close(): Promise<void> {
    this.#receiver = undefined;
    return this.socket.close();
  }
}

/** A kernel datagram socket as a {@link BackendDatagramSocket}; counts what crosses it. */
export class KernelDatagramSocketHandle<Sa extends Kernel.KernelSocketSa = Kernel.KernelSa>
  extends TypedEventEmitter<BackendDatagramSocketEvents>
  implements BackendDatagramSocket
{
  readonly socket: Kernel.KernelDatagramSocket<Sa>;
  readonly #k: KernelModule;
  readonly #statistics: DatapathStatistics;
  constructor(
    k: KernelModule,
    socket: Kernel.KernelDatagramSocket<Sa>,
    statistics: DatapathStatistics,
  ) {
    super();
    this.#k = k;
    this.socket = socket;
    this.#statistics = statistics;
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      // With an inbound SA applied the kernel refuses clear text: what is read was ESP.
      statistics.received(socket.inboundSa === undefined ? 'clear' : 'delivered', msg.length);
      this.emit('message', msg, rinfo);
    });
    socket.on('close', () => this.emit('close'));
    socket.on('error', (err: Error) => {
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
    this.socket.setInboundPending(pending);
  }
  bind(port: number, address: string | undefined): Promise<SocketAddressInfo> {
    return mapped(this.#k, () => this.socket.bind(port, address));
  }
  async send(message: Uint8Array, port: number, address: string): Promise<void> {
    try {
      await mapped(this.#k, () => this.socket.send(message, port, address));
    } catch (err: unknown) {
      countFailedSend(this.#statistics, err);
      throw err;
    }
    // The kernel seals protected datagrams: their size on the wire is not known here.
    if (this.socket.outboundSa === undefined) this.#statistics.sent('clear', message.length);
    else this.#statistics.count('tx.esp');
  }
  ref(): void {
    this.socket.udp.ref();
  }
  unref(): void {
    this.socket.udp.unref();
  }
  address(): SocketAddressInfo {
    try {
      return this.socket.address();
    } catch (err: unknown) {
      throw mapKernelError(this.#k, err);
    }
  }
  close(): Promise<void> {
    return this.socket.close();
  }
}
