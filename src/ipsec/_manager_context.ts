/**
 * Private to src/ipsec: what a manager shares with the objects it creates (the service, the
 * caller identity, the options, and the set of resource ids to release at manager close).
 */
import type { Caller, IpSecService, IpSecServiceCallOptions } from './ipsec_service.ts';

/** Internal link between a manager and its objects. */
export interface ManagerContext {
  readonly service: IpSecService;
  readonly caller: Caller;
  readonly options: IpSecServiceCallOptions;
  /** Resource ids created through this manager and not yet closed by the user. */
  readonly resourceIds: Set<number>;
  /** Throws when the manager is closed. */
  assertOpen(action: string): void;
  /**
   * Call after a service call that created resource `resourceId` resolved: when the manager was
   * closed meanwhile (its `close()` did not see the new id), releases the resource and throws
   * `IllegalStateError`; otherwise records the id for release at manager close.
   */
  adopt(resourceId: number, action: string): Promise<void>;
}

const CONTEXTS = new WeakMap<object, ManagerContext>();

/** Links a manager object to its context. */
export function registerContext(manager: object, context: ManagerContext): void {
  CONTEXTS.set(manager, context);
}

/** The context of a manager; `TypeError` when the value is not an `IpSecManager`. */
export function contextOf(manager: unknown, action: string): ManagerContext {
  const context =
    typeof manager === 'object' && manager !== null ? CONTEXTS.get(manager) : undefined;
  if (context === undefined) throw new TypeError(`Cannot ${action}: expected an IpSecManager`);
  return context;
}
