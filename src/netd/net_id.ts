/**
 * Network-id arguments of netd commands (`stringToNetId` of Android 9):
 * `local` → 99, `oem<N>` → N + 1 for 1 ≤ N ≤ 50, `handle<H>` → high 32 bits of H when the low
 * 32 bits are the Android 9+ magic `0xcafed00d`, anything else → C `strtoul(…, 0)` truncated to
 * 32 bits (0, never a valid netId, on garbage).
 */
import { cStrtoul } from './c_number.ts';

/** `NETID_UNSET`: no network. */
export const NETID_UNSET = 0;
/** First OEM network id (`MIN_OEM_ID`). */
export const MIN_OEM_ID = 1;
/** Last OEM network id (`MAX_OEM_ID`). */
export const MAX_OEM_ID = 50;
/** The dummy network (`DUMMY_NET_ID`). */
export const DUMMY_NET_ID = 51;
/** The local network (`LOCAL_NET_ID`). */
export const LOCAL_NET_ID = 99;
/** First framework network id (`MIN_NET_ID`). */
export const MIN_NET_ID = 100;
/** Last framework network id (`MAX_NET_ID`). */
export const MAX_NET_ID = 65535;
/** Low 32 bits of an NDK network handle on Android 9 and later (`kHandleMagic`). */
export const NET_HANDLE_MAGIC = 0xcafed00dn;

const NUM_OEM_IDS = MAX_OEM_ID - MIN_OEM_ID + 1;
const U32_MASK = 0xffffffffn;

/**
 * The netId of an NDK network handle, or 0 when the low bits are not the magic
 * (`netHandleToNetId`; handle 0 = NETWORK_UNSPECIFIED yields 0 too).
 *
 * @example
 * ```ts
 * netHandleToNetId(11995631629n); // 2
 * ```
 */
export function netHandleToNetId(handle: bigint): number {
  if (handle !== 0n && (handle & U32_MASK) !== NET_HANDLE_MAGIC) return NETID_UNSET;
  return Number((handle >> 32n) & U32_MASK);
}

/**
 * The NDK network handle of a netId (inverse of {@link netHandleToNetId}).
 *
 * @example
 * ```ts
 * netIdToNetHandle(2); // 11995631629n
 * ```
 */
export function netIdToNetHandle(netId: number): bigint {
  return (BigInt(netId) << 32n) | NET_HANDLE_MAGIC;
}

/**
 * Parses a netId argument exactly as Android 9's `stringToNetId`.
 *
 * @example
 * ```ts
 * stringToNetId('oem1');   // 2
 * stringToNetId('local');  // 99
 * stringToNetId('0x64');   // 100
 * stringToNetId('handle11995631629'); // 2
 * ```
 */
export function stringToNetId(arg: string): number {
  if (arg === 'local') return LOCAL_NET_ID;
  if (arg.startsWith('oem')) {
    const n = Number(BigInt.asUintN(32, cStrtoul(arg.slice(3), 0).value));
    return n >= 1 && n <= NUM_OEM_IDS ? MIN_OEM_ID + n : NETID_UNSET;
  }
  if (arg.startsWith('handle')) {
    const n = netHandleToNetId(cStrtoul(arg.slice(6), 10).value);
    return n >= MIN_OEM_ID && n <= MAX_OEM_ID ? n : NETID_UNSET;
  }
  return Number(BigInt.asUintN(32, cStrtoul(arg, 0).value));
}
