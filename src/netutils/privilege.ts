/**
 * What the wrapper process may do, from the kernel's own records (no FFI, so start-up stays
 * cheap): its effective capability set (`CapEff` in `/proc/self/status`) and whether it is
 * *elevated* — running with more privilege than the user who started it: real and effective
 * user or group ids differ (setuid/setgid), the kernel marked it secure-execution (`AT_SECURE`
 * in `/proc/self/auxv`: setuid, setgid or file capabilities), or a non-root user holds any
 * effective capability (ambient or inherited capabilities). An elevated wrapper ignores every
 * environment variable that could change what it admits or runs.
 */
import { readFileSync } from 'node:fs';

/** `CAP_NET_ADMIN` (linux/capability.h). */
export const CAP_NET_ADMIN = 12;
/** `AT_SECURE` (elf.h auxiliary vector type). */
const AT_SECURE = 23n;

/**
 * The effective capability set, as a bit mask (0n when it cannot be read).
 *
 * @example
 * ```ts
 * (effectiveCapabilities() >> 12n) & 1n; // 1n when CAP_NET_ADMIN is effective
 * ```
 */
export function effectiveCapabilities(statusText?: string): bigint {
  let text = statusText;
  try {
    text ??= readFileSync('/proc/self/status', 'latin1');
  } catch {
    return 0n;
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(text);
  return m?.[1] === undefined ? 0n : BigInt(`0x${m[1]}`);
}

/**
 * Whether the process holds `CAP_NET_ADMIN` in its effective set (then it runs tools itself;
 * without it the wrapper asks tsnetd).
 *
 * @example
 * ```ts
 * hasNetAdmin(); // true for root
 * ```
 */
export function hasNetAdmin(statusText?: string): boolean {
  return ((effectiveCapabilities(statusText) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
}

/** Whether the kernel set `AT_SECURE` for this process (false when it cannot tell). */
export function atSecure(auxv?: Uint8Array): boolean {
  let bytes = auxv;
  try {
    bytes ??= readFileSync('/proc/self/auxv');
  } catch {
    return false;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // 64-bit: pairs of little/host-endian u64 (type, value); the vector ends with AT_NULL.
  for (let off = 0; off + 16 <= bytes.byteLength; off += 16) {
    const type = view.getBigUint64(off, true);
    if (type === 0n) break;
    if (type === AT_SECURE) return view.getBigUint64(off + 8, true) !== 0n;
  }
  return false;
}

/**
 * Whether the process runs with more privilege than the user who started it.
 *
 * @example
 * ```ts
 * isElevated(); // false for plain root and for plain users
 * ```
 */
export function isElevated(): boolean {
  const uid = process.getuid?.() ?? 0;
  const euid = process.geteuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  if (uid !== euid || gid !== egid) return true;
  if (atSecure()) return true;
  return uid !== 0 && effectiveCapabilities() !== 0n;
}
