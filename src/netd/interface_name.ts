/**
 * Linux interface-name validity (`dev_valid_name` in net/core/dev.c, IFNAMSIZ 16). Names that
 * fail it are never passed to a tool, so argv built from client input is always well formed.
 */

/** Longest interface name in bytes (IFNAMSIZ − 1). */
export const IFNAME_LENGTH_MAX = 15;

const IFNAME_REGEXP = /^[^/:\s]+$/;

/**
 * Whether a string is a valid Linux interface name (1..15 characters, not `.`/`..`, no `/`,
 * `:` or white space). A leading `-` is refused too, so a name never reads as a tool option.
 *
 * @example
 * ```ts
 * isValidInterfaceName('rmnet_data0'); // true
 * isValidInterfaceName('../x'); // false
 * ```
 */
export function isValidInterfaceName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= IFNAME_LENGTH_MAX &&
    name !== '.' &&
    name !== '..' &&
    !name.startsWith('-') &&
    IFNAME_REGEXP.test(name) &&
    // printable ASCII only: a name travels through argv and /proc paths
    /^[\x21-\x7e]+$/.test(name)
  );
}
