/**
 * `SecurityParameterIndex`: a reserved SPI for one destination. Closing it
 * frees the reservation unless a transform was built from it; then the transform owns the SPI
 * and closing frees nothing until the transform is closed too.
 */

import { formatSpi } from '../esp/mod.ts';
import type { ManagerContext } from './_manager_context.ts';

/** Android `IpSecManager.INVALID_RESOURCE_ID`. */
export const INVALID_RESOURCE_ID = -1;

/**
 * A reserved SPI (Android `IpSecManager.SecurityParameterIndex`). Obtain one with
 * `IpSecManager.allocateSecurityParameterIndex`; dispose it with `close()` or `await using`.
 *
 * @example
 * ```ts
 * import { IpSecManager } from 'tsnetd/ipsec';
 * await using ipsec = await IpSecManager.create();
 * await using spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
 * console.log(spi.getSpi() >= 256, spi.getDestinationAddress()); // true 127.0.0.1
 * ```
 */
export class SecurityParameterIndex implements AsyncDisposable {
  readonly #context: ManagerContext;
  readonly #spi: number;
  readonly #destination: string;
  #resourceId: number;

  /** @internal Used by `IpSecManager.allocateSecurityParameterIndex`. */
  static create(
    context: ManagerContext,
    resourceId: number,
    spi: number,
    destination: string,
  ): SecurityParameterIndex {
    return new SecurityParameterIndex(context, resourceId, spi, destination);
  }

  /** Created by `IpSecManager.allocateSecurityParameterIndex` only. */
  private constructor(
    context: ManagerContext,
    resourceId: number,
    spi: number,
    destination: string,
  ) {
    this.#context = context;
    this.#resourceId = resourceId;
    this.#spi = spi;
    this.#destination = destination;
  }

  /**
   * The SPI value (unsigned 32-bit; Android returns it as a signed `int`).
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * await using spi = await ipsec.allocateSecurityParameterIndex('::1', 0xd1201d);
   * console.log(spi.getSpi() === 0xd1201d); // true
   * ```
   */
  getSpi(): number {
    return this.#spi;
  }

  /** The destination the SPI is reserved for (normalised numeric address). */
  getDestinationAddress(): string {
    return this.#destination;
  }

  /** The service's resource id, or -1 after `close()`. */
  getResourceId(): number {
    return this.#resourceId;
  }

  /**
   * Releases the user's reference (idempotent). Frees the SPI unless a transform owns it.
   *
   * @example
   * ```ts
   * import { IpSecManager } from 'tsnetd/ipsec';
   * await using ipsec = await IpSecManager.create();
   * const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
   * await spi.close();
   * await spi.close(); // no-op
   * ```
   */
  async close(): Promise<void> {
    const id = this.#resourceId;
    if (id === INVALID_RESOURCE_ID) return;
    this.#resourceId = INVALID_RESOURCE_ID;
    // Not in the set any more: the manager's close() already released it.
    if (!this.#context.resourceIds.delete(id)) return;
    await this.#context.service.releaseSpi(this.#context.caller, id);
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Android's `toString()`. */
  toString(): string {
    return `SecurityParameterIndex{spi=${formatSpi(this.#spi)},resourceId=${this.#resourceId}}`;
  }
}
