/**
 * The netutils-wrapper allow-list as data: every Android release's rule list, fully
 * macro-expanded, with pattern strings byte-identical to AOSP `NetUtilsWrapper-1.0.cpp`
 * (copied in `test/vectors/netutils/patterns.json`), plus the building blocks (its macros) that
 * tsnetd uses to extend the vendor interface and vendor chain alternatives from its config.
 *
 * The strings are POSIX extended regular expressions that also work unchanged as JavaScript
 * `RegExp` sources. Patterns 3 and 4 of the 8.1+ lists end in a significant space.
 */

/** A rule-set name as in `netutils-patterns.json` (`versions` keys). */
export type NetutilsRelease = '8.0' | '8.1-9' | '10-11' | '12-13' | '14' | '15';

/** The rule set the wrapper uses when nothing else is configured (Android 15). */
export const DEFAULT_RELEASE: NetutilsRelease = '15';

/** Every rule-set name, oldest first. */
export const NETUTILS_RELEASES: readonly NetutilsRelease[] = [
  '8.0',
  '8.1-9',
  '10-11',
  '12-13',
  '14',
  '15',
];

/**
 * Single Android version numbers accepted in the config file, mapped to the rule set that
 * release shipped (from the file's change history in AOSP).
 */
export const RELEASE_ALIASES: Readonly<Record<string, NetutilsRelease>> = {
  '8.0': '8.0',
  '8.1': '8.1-9',
  '9': '8.1-9',
  '10': '10-11',
  '11': '10-11',
  '12': '12-13',
  '13': '12-13',
  '14': '14',
  '15': '15',
};

// Spec values: the macros of NetUtilsWrapper-1.0.cpp, verbatim.

/** `SYSTEM_DIRNAME`: the directory AOSP hard-codes; tsnetd re-anchors rules on its own. */
export const SYSTEM_DIRNAME = '/system/bin/';
/** `CMD`: the prefix every rule starts with. */
export const CMD_PREFIX = '^/system/bin/';
/** `OEM_IFACE` (8.0+). */
export const OEM_IFACE = '[^ ]*oem[0-9]+';
/** `RMNET_IFACE` (8.0+). */
export const RMNET_IFACE = '(r_)?rmnet_(data)?[0-9]+';
/** `CCMNI_IFACE` (10+). */
export const CCMNI_IFACE = 'cc(3)?mni[0-9]+';
/** `WWAN_IFACE` (14+). */
export const WWAN_IFACE = 'wwan[0-9]+';
/** The alternatives of `VENDOR_CHAIN` (8.0+). */
export const VENDOR_CHAIN_FRAGMENTS: readonly string[] = ['oem_.*', 'nm_.*', 'qcom_.*'];

/** The alternatives of `VENDOR_IFACE` per rule set (Android 8.0-9, 10-13, 14+). */
export const VENDOR_INTERFACE_FRAGMENTS: Readonly<Record<NetutilsRelease, readonly string[]>> = {
  '8.0': [OEM_IFACE, RMNET_IFACE],
  '8.1-9': [OEM_IFACE, RMNET_IFACE],
  '10-11': [OEM_IFACE, RMNET_IFACE, CCMNI_IFACE],
  '12-13': [OEM_IFACE, RMNET_IFACE, CCMNI_IFACE],
  '14': [OEM_IFACE, RMNET_IFACE, CCMNI_IFACE, WWAN_IFACE],
  '15': [OEM_IFACE, RMNET_IFACE, CCMNI_IFACE, WWAN_IFACE],
};

/**
 * `EXPECTED_REGEXPS` of every release, fully expanded, in the order of AOSP's source.
 * Rule numbers in messages are 1-based indexes into these lists.
 *
 * @example
 * ```ts
 * const rules = RELEASE_PATTERNS['15'];
 * rules[7]; // '^/system/bin/ip xfrm .*'  (R8)
 * ```
 */
export const RELEASE_PATTERNS: Readonly<Record<NetutilsRelease, readonly string[]>> = {
  '8.0': [
    '^/system/bin/ndc network (create|destroy) oem[0-9]+( |$)',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+ ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ndc network route (add|remove) oem[0-9]+ ',
    '^/system/bin/ndc ipfwd (enable|disable) ',
    '^/system/bin/ndc ipfwd (add|remove) .*([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ip(6)?tables -w.* (-A|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/ip(6)?tables -w.* (-i|-o) ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ip xfrm .*',
    '^/system/bin/tc .* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ip( -4| -6)? (addr|address) (add|del|delete|flush).* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/tc qdisc del dev root',
    '^/system/bin/ip( -4| -6)? rule .* goto 13000 prio 11999',
    '^/system/bin/ip( -4| -6)? rule .* prio 25000',
    '^/system/bin/ip(6)?tables -w .* -j (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/iptables -w -t mangle -[AD] PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+$',
  ],
  '8.1-9': [
    '^/system/bin/ndc network (create|destroy) (oem|handle)[0-9]+( |$)',
    '^/system/bin/ndc network interface (add|remove) (oem|handle)[0-9]+ ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ndc network route (add|remove) (oem|handle)[0-9]+ ',
    '^/system/bin/ndc ipfwd (enable|disable) ',
    '^/system/bin/ndc ipfwd (add|remove) .*([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ip(6)?tables -w.* (-A|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/ip(6)?tables -w.* (-i|-o) ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ip xfrm .*',
    '^/system/bin/tc .* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/ip( -4| -6)? (addr|address) (add|del|delete|flush).* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)',
    '^/system/bin/tc qdisc del dev root',
    '^/system/bin/ip( -4| -6)? rule .* goto 13000 prio 11999',
    '^/system/bin/ip( -4| -6)? rule .* prio 25000',
    '^/system/bin/ip(6)?tables -w .* -j (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/iptables -w -t mangle -[AD] PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+$',
  ],
  '10-11': [
    '^/system/bin/ndc network (create|destroy) (oem|handle)[0-9]+( |$)',
    '^/system/bin/ndc network interface (add|remove) (oem|handle)[0-9]+ ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ndc network route (add|remove) (oem|handle)[0-9]+ ',
    '^/system/bin/ndc ipfwd (enable|disable) ',
    '^/system/bin/ndc ipfwd (add|remove) .*([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ip(6)?tables -w.* (-A|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/ip(6)?tables -w.* (-i|-o) ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ip xfrm .*',
    '^/system/bin/tc .* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ip( -4| -6)? (addr|address) (add|del|delete|flush).* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/tc qdisc del dev root',
    '^/system/bin/ip( -4| -6)? rule .* goto 13000 prio 11999',
    '^/system/bin/ip( -4| -6)? rule .* prio 25000',
    '^/system/bin/ip(6)?tables -w .* -j (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/iptables -w -t mangle -[AD] PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+$',
  ],
  '12-13': [
    '^/system/bin/ndc network (create|destroy) (oem|handle)[0-9]+( |$)',
    '^/system/bin/ndc network interface (add|remove) (oem|handle)[0-9]+ ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ndc network route (add|remove) (oem|handle)[0-9]+ ',
    '^/system/bin/ndc ipfwd (enable|disable) ',
    '^/system/bin/ndc ipfwd (add|remove) .*([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ip(6)?tables -w.* (-A|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/ip(6)?tables -w.* (-i|-o) ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ip xfrm .*',
    '^/system/bin/tc .* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/ip( -4| -6)? (addr|address) (add|del|delete|flush).* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+)',
    '^/system/bin/tc qdisc del dev root',
    '^/system/bin/ip(6)?tables -w .* -j (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/iptables -w -t mangle -[AD] PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+$',
  ],
  '14': [
    '^/system/bin/ndc network (create|destroy) (oem|handle)[0-9]+( |$)',
    '^/system/bin/ndc network interface (add|remove) (oem|handle)[0-9]+ ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ndc network route (add|remove) (oem|handle)[0-9]+ ',
    '^/system/bin/ndc ipfwd (enable|disable) ',
    '^/system/bin/ndc ipfwd (add|remove) .*([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ip(6)?tables -w.* (-A|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/ip(6)?tables -w.* (-i|-o) ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ip xfrm .*',
    '^/system/bin/tc .* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ip( -4| -6)? (addr|address) (add|del|delete|flush).* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/tc qdisc del dev root',
    '^/system/bin/ip(6)?tables -w .* -j (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/iptables -w -t mangle -[AD] PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+$',
  ],
  '15': [
    '^/system/bin/ndc network (create|destroy) (oem|handle)[0-9]+( |$)',
    '^/system/bin/ndc network interface (add|remove) (oem|handle)[0-9]+ ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ndc network route (add|remove) (oem|handle)[0-9]+ ',
    '^/system/bin/ndc ipfwd (enable|disable) ',
    '^/system/bin/ndc ipfwd (add|remove) .*([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ip(6)?tables -w.* (-A|-C|-D|-F|-I|-N|-X) (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/ip(6)?tables -w.* (-i|-o) ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ip xfrm .*',
    '^/system/bin/tc .* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/ip( -4| -6)? (addr|address) (add|del|delete|flush).* dev ([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+|cc(3)?mni[0-9]+|wwan[0-9]+)',
    '^/system/bin/tc qdisc del dev root',
    '^/system/bin/ip(6)?tables -w .* -j (oem_.*|nm_.*|qcom_.*)',
    '^/system/bin/iptables -w -t mangle -[AD] PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT',
    '^/system/bin/ndc network interface (add|remove) oem[0-9]+$',
  ],
};
