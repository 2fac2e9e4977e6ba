/**
 * Linux interface-name validity, exactly `dev_valid_name` in net/core/dev.c: 1..15 bytes
 * (IFNAMSIZ 16 with the NUL), not `.` or `..`, no `/`, `:`, white space or NUL. Anything else
 * Linux accepts works (`veth+1`, `wg~home`, `br@x`, `tun#1`, `-x`): netd passes names to the
 * kernel as netlink attributes, to iptables-restore quoted, and to /proc/sys as one checked
 * path component — never through a shell or as a tool option.
 */

/** Longest interface name in bytes (IFNAMSIZ − 1). */
export const IFNAME_LENGTH_MAX = 15;

/** `isspace()` in the C locale, plus `/` and `:`. */
const FORBIDDEN_REGEXP = /[/: \t\n\v\f\r]/;

/**
 * Whether a string is a name Linux accepts for an interface (`dev_valid_name`). Characters
 * above U+00FF are refused (names travel as bytes).
 *
 * @example
 * ```ts
 * isValidInterfaceName('veth+1'); // true
 * isValidInterfaceName('../x'); // false
 * ```
 */
export function isValidInterfaceName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= IFNAME_LENGTH_MAX &&
    name !== '.' &&
    name !== '..' &&
    !FORBIDDEN_REGEXP.test(name) &&
    [...name].every((c) => c.charCodeAt(0) >= 1 && c.charCodeAt(0) <= 0xff)
  );
}

/**
 * Whether iptables can match the name exactly: a trailing `+` is iptables' prefix wildcard
 * (`-i wlan+` matches every `wlan…`), and iptables has no way to escape it.
 *
 * @example
 * ```ts
 * iptablesCanMatchExactly('veth+1'); // true
 * iptablesCanMatchExactly('wlan+'); // false
 * ```
 */
export function iptablesCanMatchExactly(name: string): boolean {
  return !name.endsWith('+');
}
