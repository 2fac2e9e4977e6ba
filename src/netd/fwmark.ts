/**
 * netd's socket mark layout and network permissions (netd's
 * `include/Fwmark.h`, `include/Permission.h`): bits 0–15 netId, bit 16 explicitlySelected,
 * bit 17 protectedFromVpn, bits 18–19 permission, bit 20 uidBillingDone.
 */

/** Network permission: NONE 0, NETWORK 1, SYSTEM 3 (SYSTEM implies NETWORK). */
export type Permission = 'NONE' | 'NETWORK' | 'SYSTEM';

/** Permission bit values before the shift (`Permission.h`). */
export const PERMISSION_BITS: Readonly<Record<Permission, number>> = {
  NONE: 0,
  NETWORK: 1,
  SYSTEM: 3,
};

/** Mask of the netId bits. */
export const FWMARK_NET_ID_MASK = 0xffff;
/** The explicitlySelected bit. */
export const FWMARK_EXPLICIT = 0x10000;
/** The protectedFromVpn bit. */
export const FWMARK_PROTECTED = 0x20000;
/** Shift of the two permission bits. */
export const FWMARK_PERMISSION_SHIFT = 18;
/** The uidBillingDone bit; the incoming-packet mark rule leaves it alone. */
export const FWMARK_UID_BILLING = 0x100000;

/**
 * The permission bits of a mark, in place.
 *
 * @example
 * ```ts
 * permissionMark('SYSTEM'); // 0xc0000
 * ```
 */
export function permissionMark(permission: Permission): number {
  return PERMISSION_BITS[permission] << FWMARK_PERMISSION_SHIFT;
}

/**
 * Parses the permission word of `network create` (`stringToPermission`): `NETWORK`, `SYSTEM`,
 * anything else `undefined` (the caller replies `Unknown permission`).
 *
 * @example
 * ```ts
 * stringToPermission('SYSTEM'); // 'SYSTEM'
 * ```
 */
export function stringToPermission(word: string): Permission | undefined {
  if (word === 'NETWORK' || word === 'SYSTEM') return word;
  return undefined;
}

/**
 * `0x…` lower-case hex as netd prints marks (`0x%x`).
 *
 * @example
 * ```ts
 * hex(0x30002); // '0x30002'
 * ```
 */
export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}
