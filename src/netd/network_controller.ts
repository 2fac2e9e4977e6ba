/**
 * netd's NetworkController for the `network` and `ipfwd` commands: physical networks
 * (OEM ids 1..50 and framework ids 100..65535), the built-in local network 99, interface
 * membership and routes, with netd's errno semantics (ENONET unknown network, EEXIST, EBUSY
 * interface in another network, ENODEV/ENOENT for routes on foreign interfaces, EINVAL ids).
 * The Linux side is delegated to {@link RouteController}.
 */
import { NetdOperationError } from './errors.ts';
import type { Permission } from './fwmark.ts';
import { LOCAL_NET_ID, MAX_NET_ID, MAX_OEM_ID, MIN_NET_ID, MIN_OEM_ID } from './net_id.ts';
import type { RouteController, TableType } from './route_controller.ts';

interface Network {
  readonly kind: 'physical' | 'local';
  readonly permission: Permission;
  readonly interfaces: Set<string>;
}

/** Options of {@link NetworkController.addRoute} / `removeRoute`. */
export interface RouteOptions {
  /** `network route legacy <uid> …`: the legacy tables (98, or 99 for SYSTEM uids). */
  readonly legacy: boolean;
  /** The uid of the legacy form. tsnetd keeps no uid permissions, so it selects table 98. */
  readonly uid: number;
}

function isValidNewNetId(netId: number): boolean {
  return (
    (netId >= MIN_OEM_ID && netId <= MAX_OEM_ID) || (netId >= MIN_NET_ID && netId <= MAX_NET_ID)
  );
}

/**
 * Networks and their interfaces.
 *
 * @example
 * ```ts
 * const networks = new NetworkController(routes);
 * await networks.createPhysicalNetwork(2, 'NONE');
 * await networks.addInterfaceToNetwork(2, 'oem0');
 * ```
 */
export class NetworkController {
  readonly #routes: RouteController;
  readonly #networks = new Map<number, Network>([
    [LOCAL_NET_ID, { kind: 'local', permission: 'NONE', interfaces: new Set() }],
  ]);

  constructor(routes: RouteController) {
    this.#routes = routes;
  }

  /** The netIds that exist, ascending (the local network 99 always does). */
  get netIds(): number[] {
    return [...this.#networks.keys()].sort((a, b) => a - b);
  }

  /** The interfaces of a network, sorted; empty for an unknown network. */
  interfacesOf(netId: number): string[] {
    return [...(this.#networks.get(netId)?.interfaces ?? [])].sort();
  }

  #networkForInterface(iface: string): number | undefined {
    for (const [netId, network] of this.#networks) if (network.interfaces.has(iface)) return netId;
    return undefined;
  }

  /** `network create <netId> [NETWORK|SYSTEM]`: EINVAL outside the id ranges, EEXIST if taken. */
  async createPhysicalNetwork(netId: number, permission: Permission): Promise<void> {
    if (!isValidNewNetId(netId))
      throw new NetdOperationError('EINVAL', `Cannot create network ${netId}: invalid netId`);
    if (this.#networks.has(netId))
      throw new NetdOperationError('EEXIST', `Cannot create network ${netId}: it exists`);
    await this.#routes.addNetwork(netId);
    this.#networks.set(netId, { kind: 'physical', permission, interfaces: new Set() });
  }

  /** `network create <netId> vpn …`: VPN ids are 100..65535; VPNs are not implemented. */
  async createVirtualNetwork(netId: number): Promise<void> {
    if (netId < MIN_NET_ID || netId > MAX_NET_ID) {
      throw new NetdOperationError('EINVAL', `Cannot create VPN ${netId}: invalid netId`);
    }
    if (this.#networks.has(netId))
      throw new NetdOperationError('EEXIST', `Cannot create VPN ${netId}: it exists`);
    throw new NetdOperationError(
      'EOPNOTSUPP',
      `Cannot create VPN ${netId}: VPN networks are not supported`,
    );
  }

  /**
   * `network destroy <netId>`: removes the interfaces one by one (stopping at the first
   * failure) and drops the network even if one failed; the first error is rethrown.
   */
  async destroyNetwork(netId: number): Promise<void> {
    if (netId === LOCAL_NET_ID)
      throw new NetdOperationError('EINVAL', 'Cannot destroy the local network');
    const network = this.#networks.get(netId);
    if (network === undefined)
      throw new NetdOperationError('ENONET', `Cannot destroy network ${netId}: unknown`);
    let failure: unknown;
    try {
      for (const iface of [...network.interfaces].sort())
        await this.removeInterfaceFromNetwork(netId, iface);
    } catch (error: unknown) {
      failure = error;
    }
    this.#networks.delete(netId);
    try {
      await this.#routes.removeNetwork(netId);
    } catch (error: unknown) {
      failure ??= error;
    }
    if (failure !== undefined) throw failure;
  }

  /** `network interface add`: ENONET, EBUSY, ESRCH, or the Linux error; no-op if present. */
  async addInterfaceToNetwork(netId: number, iface: string): Promise<void> {
    const network = this.#networks.get(netId);
    if (network === undefined)
      throw new NetdOperationError('ENONET', `Cannot add "${iface}": unknown network ${netId}`);
    const existing = this.#networkForInterface(iface);
    if (existing !== undefined && existing !== netId) {
      throw new NetdOperationError(
        'EBUSY',
        `Cannot add "${iface}" to ${netId}: it is in network ${existing}`,
      );
    }
    if (network.interfaces.has(iface)) return;
    if (network.kind === 'local') await this.#routes.addInterfaceToLocalNetwork(iface);
    else await this.#routes.addInterfaceToPhysicalNetwork(netId, iface, network.permission);
    network.interfaces.add(iface);
  }

  /**
   * `network interface remove`: no-op when the interface is not in the network. The interface
   * leaves the network even if part of the Linux clean-up failed (the error is rethrown).
   */
  async removeInterfaceFromNetwork(netId: number, iface: string): Promise<void> {
    const network = this.#networks.get(netId);
    if (network === undefined)
      throw new NetdOperationError('ENONET', `Cannot remove "${iface}": unknown network ${netId}`);
    if (!network.interfaces.has(iface)) return;
    try {
      if (network.kind === 'local') await this.#routes.removeInterfaceFromLocalNetwork(iface);
      else await this.#routes.removeInterfaceFromPhysicalNetwork(netId, iface, network.permission);
    } finally {
      network.interfaces.delete(iface);
    }
  }

  #tableType(netId: number, options: RouteOptions): TableType {
    if (netId === LOCAL_NET_ID) return 'local_network';
    if (options.legacy) return 'legacy_network';
    return 'interface';
  }

  #checkRouteTarget(netId: number, iface: string): void {
    if (!this.#networks.has(netId))
      throw new NetdOperationError('ENONET', `Cannot route: unknown network ${netId}`);
    const existing = this.#networkForInterface(iface);
    if (existing === undefined)
      throw new NetdOperationError('ENODEV', `Cannot route: "${iface}" is in no network`);
    if (existing !== netId) {
      throw new NetdOperationError(
        'ENOENT',
        `Cannot route: "${iface}" is in network ${existing}, not ${netId}`,
      );
    }
  }

  /** `network route [legacy <uid>] add`. */
  async addRoute(
    netId: number,
    iface: string,
    destination: string,
    nexthop: string | undefined,
    options: RouteOptions,
  ): Promise<void> {
    this.#checkRouteTarget(netId, iface);
    await this.#routes.addRoute(iface, destination, nexthop, this.#tableType(netId, options));
  }

  /** `network route [legacy <uid>] remove`. */
  async removeRoute(
    netId: number,
    iface: string,
    destination: string,
    nexthop: string | undefined,
    options: RouteOptions,
  ): Promise<void> {
    this.#checkRouteTarget(netId, iface);
    await this.#routes.removeRoute(iface, destination, nexthop, this.#tableType(netId, options));
  }

  /**
   * Destroys every network (and empties the local one), for shutdown.
   *
   * @returns one message per failure
   */
  async shutdown(): Promise<string[]> {
    const problems: string[] = [];
    for (const netId of this.netIds) {
      try {
        if (netId === LOCAL_NET_ID) {
          for (const iface of this.interfacesOf(netId))
            await this.removeInterfaceFromNetwork(netId, iface);
        } else {
          await this.destroyNetwork(netId);
        }
      } catch (error: unknown) {
        problems.push(
          `network ${netId}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    return problems;
  }
}
