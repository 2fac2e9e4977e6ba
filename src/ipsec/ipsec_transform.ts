/**
 * `IpSecTransform` and its `Builder`: a transport-mode security
 * association built from application keys. The destination comes from the SPI; the builder can
 * be reused; closing an applied transform makes the socket's I/O fail until
 * `removeTransportModeTransforms` (never clear text).
 */
import { contextOf, type ManagerContext } from './_manager_context.ts';
import { checkInteger, describeValue } from './_socket_args.ts';
import { IllegalArgumentError, IllegalStateError } from './errors.ts';
import { IpSecAlgorithm } from './ipsec_algorithm.ts';
import type { IpSecManager } from './ipsec_manager.ts';
import type { TransformDescription } from './ipsec_service.ts';
import { IpSecTransformState } from './ipsec_transform_state.ts';
import { INVALID_RESOURCE_ID, SecurityParameterIndex } from './security_parameter_index.ts';
import { UdpEncapsulationSocket } from './udp_encapsulation_socket.ts';

/**
 * A transport-mode IPsec transform (Android `android.net.IpSecTransform`). Build one with
 * {@link IpSecTransformBuilder} (`new IpSecTransform.Builder(manager)`), apply it with
 * `IpSecManager.applyTransportModeTransform`, dispose it with `close()` / `await using`.
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using encap = await ipsec.openUdpEncapsulationSocket();
 * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
 * await using transform = await new IpSecTransform.Builder(ipsec)
 *   .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(36), 128))
 *   .setIpv4Encapsulation(encap, encap.getPort())
 *   .buildTransportModeTransform('127.0.0.1', spi);
 * console.log(String(transform)); // IpSecTransform{resourceId=3}
 * ```
 */
export class IpSecTransform implements AsyncDisposable {
  /** Android `IpSecTransform.Builder`; see {@link IpSecTransformBuilder}. */
  declare static readonly Builder: typeof IpSecTransformBuilder;

  /** Android `MODE_TRANSPORT`. */
  static readonly MODE_TRANSPORT = 0;
  /** Android `MODE_TUNNEL` (not available to applications). */
  static readonly MODE_TUNNEL = 1;
  /** Android `ENCAP_NONE`. */
  static readonly ENCAP_NONE = 0;
  /** Android `ENCAP_ESPINUDP_NON_IKE`. */
  static readonly ENCAP_ESPINUDP_NON_IKE = 1;
  /** Android `ENCAP_ESPINUDP` (RFC 3948, non-ESP marker). */
  static readonly ENCAP_ESPINUDP = 2;

  readonly #context: ManagerContext;
  readonly #description: TransformDescription;
  #resourceId: number;

  /** @internal Used by {@link IpSecTransformBuilder.buildTransportModeTransform}. */
  static create(context: ManagerContext, description: TransformDescription): IpSecTransform {
    return new IpSecTransform(context, description);
  }

  /** Created by {@link IpSecTransformBuilder.buildTransportModeTransform} only. */
  private constructor(context: ManagerContext, description: TransformDescription) {
    this.#context = context;
    this.#description = description;
    this.#resourceId = description.resourceId;
  }

  /** The service's resource id, or -1 after `close()`. */
  getResourceId(): number {
    return this.#resourceId;
  }

  /**
   * What the transform does, without keys: SPI, addresses, algorithm names and lengths, ports.
   *
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
   * const d = transform.describe(); // no key material
   * assert.equal(d.spi, spi.getSpi());
   * assert.equal(d.aead?.name, 'rfc4106(gcm(aes))');
   * assert.equal(d.encapsulation?.remotePort, encap.getPort());
   * ```
   */
  describe(): TransformDescription {
    return this.#description;
  }

  /**
   * Reads the SA's state (Android 15 `requestIpSecTransformState`): highest tx/rx sequence
   * numbers, packet and byte counts, replay bitmap.
   *
   * @throws {IllegalStateError} "This transform is already closed"
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
   * const state = await transform.requestIpSecTransformState();
   * assert.equal(state.txHighestSequenceNumber, 0n); // nothing sent yet
   * assert.equal(state.packetCount, 0n);
   * ```
   */
  async requestIpSecTransformState(): Promise<IpSecTransformState> {
    if (this.#resourceId === INVALID_RESOURCE_ID) {
      throw new IllegalStateError('This transform is already closed');
    }
    const timestampMillis = Date.now();
    const s = await this.#context.service.getTransformState(this.#context.caller, this.#resourceId);
    return new IpSecTransformState({ timestampMillis, ...s });
  }

  /**
   * Deactivates the transform (idempotent). Sockets it is applied to fail every send and receive
   * until `removeTransportModeTransforms`; the SPI and encapsulation socket are released when no
   * longer referenced.
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
   * await transform.close();
   * await transform.close(); // no-op
   * ```
   */
  async close(): Promise<void> {
    const id = this.#resourceId;
    if (id === INVALID_RESOURCE_ID) return;
    this.#resourceId = INVALID_RESOURCE_ID;
    // Not in the set any more: the manager's close() already released it (Android: close() after
    // the service dropped the record is a no-op, never an error).
    if (!this.#context.resourceIds.delete(id)) return;
    await this.#context.service.deleteTransform(this.#context.caller, id);
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Android's `toString()`. */
  toString(): string {
    return `IpSecTransform{resourceId=${this.#resourceId}}`;
  }
}

/**
 * Builds transport-mode transforms (Android `IpSecTransform.Builder`). Setters return the builder;
 * the builder can build several transforms (with different SPIs).
 *
 * @example
 * ```ts
 * import { randomBytes } from 'node:crypto';
 * import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using encap = await ipsec.openUdpEncapsulationSocket();
 * const builder = new IpSecTransform.Builder(ipsec)
 *   .setEncryption(new IpSecAlgorithm(IpSecAlgorithm.CRYPT_AES_CBC, randomBytes(32)))
 *   .setAuthentication(new IpSecAlgorithm(IpSecAlgorithm.AUTH_HMAC_SHA256, randomBytes(32), 128))
 *   .setIpv4Encapsulation(encap, 4500);
 * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
 * await using transform = await builder.buildTransportModeTransform('127.0.0.1', spi);
 * ```
 */
export class IpSecTransformBuilder {
  readonly #context: ManagerContext;
  #encryption: IpSecAlgorithm | undefined;
  #authentication: IpSecAlgorithm | undefined;
  #aead: IpSecAlgorithm | undefined;
  #encapSocketResourceId: number | undefined;
  #encapRemotePort: number | undefined;
  #replayWindowSize: number | undefined;
  #esn: boolean | undefined;

  /**
   * @param manager the `IpSecManager` the transforms belong to (Android passes a `Context`)
   * @throws {TypeError} `manager` is not an `IpSecManager` (Android: `NullPointerException`)
   */
  constructor(manager: IpSecManager) {
    this.#context = contextOf(manager, 'create IpSecTransform.Builder');
  }

  /** Sets the encryption algorithm (`cbc(aes)`, `rfc3686(ctr(aes))`); checked at build. */
  setEncryption(algo: IpSecAlgorithm): this {
    this.#encryption = requireAlgorithm(algo, 'setEncryption');
    return this;
  }

  /** Sets the authentication algorithm (HMACs, XCBC, CMAC); checked at build. */
  setAuthentication(algo: IpSecAlgorithm): this {
    this.#authentication = requireAlgorithm(algo, 'setAuthentication');
    return this;
  }

  /** Sets the AEAD algorithm (GCM, ChaCha20-Poly1305); excludes the other two; checked at build. */
  setAuthenticatedEncryption(algo: IpSecAlgorithm): this {
    this.#aead = requireAlgorithm(algo, 'setAuthenticatedEncryption');
    return this;
  }

  /**
   * UDP encapsulation (RFC 3948): ESP is sent from `localSocket` to the peer's `remotePort`.
   * Despite Android's name it also works for IPv6 when the socket is IPv6.
   *
   * @throws {IllegalArgumentError} "Invalid UdpEncapsulationSocket" when the socket is closed
   */
  setIpv4Encapsulation(localSocket: UdpEncapsulationSocket, remotePort: number): this {
    if (!(localSocket instanceof UdpEncapsulationSocket)) {
      throw new TypeError('Cannot set encapsulation: localSocket must be a UdpEncapsulationSocket');
    }
    if (localSocket.getResourceId() === INVALID_RESOURCE_ID) {
      throw new IllegalArgumentError('Invalid UdpEncapsulationSocket');
    }
    // An int in Android; the range (1..65535) is checked at build, with Android's message.
    checkInteger('set encapsulation', 'remotePort', remotePort);
    this.#encapSocketResourceId = localSocket.getResourceId();
    this.#encapRemotePort = remotePort;
    return this;
  }

  /**
   * tsnetd extension: the anti-replay window of the transforms built from now on, in packets —
   * 0 (off) or 32..65536 — instead of the manager's `replayWindowSize` (default 4096). The window
   * is a property of each SA (the kernel's `replay_window`), so it may differ per transform.
   *
   * @throws {TypeError} not an integer
   * @throws {IllegalArgumentError} not 0 and outside 32..65536
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
   *   .setReplayWindowSize(1024)
   *   .setEsn(true)
   *   .buildTransportModeTransform('127.0.0.1', spi);
   * console.log(transform.describe().replayWindowSize, transform.describe().esn); // 1024 true
   * ```
   */
  setReplayWindowSize(size: number): this {
    this.#replayWindowSize = checkReplayWindowSize('set replay window', size);
    return this;
  }

  /**
   * tsnetd extension: extended (64-bit) sequence numbers (RFC 4303 §2.2.1) for the transforms
   * built from now on, instead of the manager's `esn` (default false). IKEv2 negotiates ESN per
   * Child SA (RFC 7296 §3.3.2, transform type 5), so both ends of one SA must agree.
   *
   * @throws {TypeError} not a boolean
   */
  setEsn(enabled: boolean): this {
    if (typeof enabled !== 'boolean') {
      throw new TypeError(`Cannot set ESN: expected a boolean, got ${describeValue(enabled)}`);
    }
    this.#esn = enabled;
    return this;
  }

  /**
   * Builds a transport-mode transform from `sourceAddress` to the SPI's destination. The SPI
   * becomes owned by the transform and cannot serve another one, ever.
   *
   * @throws {IllegalArgumentError} invalid/closed SPI, algorithm combination, addresses, families, remote port
   * @throws {IllegalStateError} "SPI already in use; cannot be used in new Transforms"
   * @throws {ResourceUnavailableError} "Failed to allocate a new IpSecTransform" (quota 64)
   * @throws {UnsupportedOperationError} userspace backend without UDP encapsulation
   */
  async buildTransportModeTransform(
    sourceAddress: string,
    spi: SecurityParameterIndex,
  ): Promise<IpSecTransform> {
    this.#context.assertOpen('build transform');
    if (sourceAddress === undefined || sourceAddress === null) {
      throw new TypeError('Cannot build transform: sourceAddress is required');
    }
    if (!(spi instanceof SecurityParameterIndex)) {
      throw new TypeError('Cannot build transform: spi must be a SecurityParameterIndex');
    }
    if (spi.getResourceId() === INVALID_RESOURCE_ID) {
      throw new IllegalArgumentError('Invalid SecurityParameterIndex');
    }
    const { resourceId, description } = await this.#context.service.createTransform(
      this.#context.caller,
      {
        sourceAddress,
        spiResourceId: spi.getResourceId(),
        encryption: this.#encryption,
        authentication: this.#authentication,
        authenticatedEncryption: this.#aead,
        encapSocketResourceId: this.#encapSocketResourceId,
        encapRemotePort: this.#encapRemotePort,
        replayWindowSize: this.#replayWindowSize,
        esn: this.#esn,
      },
      this.#context.options,
    );
    await this.#context.adopt(resourceId, 'build transform');
    return IpSecTransform.create(this.#context, description);
  }
}

/** Smallest anti-replay window besides 0 (off); the ESP engine's limit. */
const MIN_REPLAY_WINDOW_SIZE = 32;
/** Largest anti-replay window (a bigger one would let a typo allocate gigabytes per SA). */
const MAX_REPLAY_WINDOW_SIZE = 65536;

/**
 * @internal An anti-replay window: 0 (off) or 32..65536 packets.
 *
 * @throws {TypeError} not an integer
 * @throws {IllegalArgumentError} out of range
 */
export function checkReplayWindowSize(action: string, size: unknown): number {
  const n = checkInteger(action, 'replayWindowSize', size);
  if (n !== 0 && (n < MIN_REPLAY_WINDOW_SIZE || n > MAX_REPLAY_WINDOW_SIZE)) {
    throw new IllegalArgumentError(
      `Cannot ${action}: replayWindowSize must be 0 or in ${MIN_REPLAY_WINDOW_SIZE}..${MAX_REPLAY_WINDOW_SIZE}, got ${n}`,
    );
  }
  return n;
}

function requireAlgorithm(algo: unknown, method: string): IpSecAlgorithm {
  if (!(algo instanceof IpSecAlgorithm)) {
    throw new TypeError(`Cannot ${method}: expected an IpSecAlgorithm`);
  }
  return algo;
}

Object.defineProperty(IpSecTransform, 'Builder', {
  value: IpSecTransformBuilder,
  enumerable: true,
});
