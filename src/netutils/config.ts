/**
 * The wrapper's configuration file (JSON, default `/etc/tsnetd/netutils.json`, or the path in
 * `NETUTILS_CONFIG`), parsed and validated strictly: unknown keys, wrong types, unknown
 * releases and patterns outside the portable ERE dialect are errors, never ignored. A missing
 * default file means "use the defaults" (Android 15 rules, tools searched as in
 * `tool_dir.ts`); a malformed one stops the wrapper (fail closed).
 *
 * ```json
 * {
 *   "release": "15",
 *   "binDir": "/usr/sbin",
 *   "vendorInterfacePatterns": ["vnd[0-9]+"],
 *   "vendorChainPatterns": ["vnd_.*"],
 *   "verdicts": "hardened"
 * }
 * ```
 */
import type { VerdictMode } from './check.ts';
import { EreMatcher } from './ere_matcher.ts';
import { InvalidConfigError, InvalidToolDirError } from './errors.ts';
import { NETUTILS_RELEASES, type NetutilsRelease, RELEASE_ALIASES } from './patterns.ts';
import { validateToolDir } from './tool_dir.ts';

/** Largest configuration file accepted, in bytes (an implementation limit). */
export const MAX_CONFIG_LENGTH = 64 * 1024;
/** Most extra fragments per list (an implementation limit). */
export const MAX_EXTRA_PATTERNS = 64;
/** Longest extra fragment, in characters (an implementation limit). */
export const MAX_EXTRA_PATTERN_LENGTH = 256;

/**
 * Names Android's framework (or the kernel) owns. A vendor fragment that matches the start of
 * one of them (the rules are not end-anchored, so a prefix suffices) would hand vendors
 * framework interfaces or built-in chains and targets: `.+`, `[^ ]+`, `w.*`, `I` are refused.
 */
export const FRAMEWORK_INTERFACE_NAMES: readonly string[] = [
  'lo',
  'eth0',
  'wlan0',
  'p2p0',
  'rmnet0',
  'dummy0',
  'tun0',
  'ppp0',
  'bt-pan',
  'v4-wlan0',
  'ip6tnl0',
  'sit0',
  'usb0',
  'rndis0',
  'bond0',
  'veth0',
  'br0',
  'ifb0',
];
/** Built-in and netd-owned chains and targets (see {@link FRAMEWORK_INTERFACE_NAMES}). */
export const FRAMEWORK_CHAIN_NAMES: readonly string[] = [
  'INPUT',
  'OUTPUT',
  'FORWARD',
  'PREROUTING',
  'POSTROUTING',
  'ACCEPT',
  'DROP',
  'REJECT',
  'RETURN',
  'MARK',
  'CONNMARK',
  'LOG',
  'routectrl_mangle_INPUT',
  'bw_INPUT',
  'fw_INPUT',
  'tetherctrl_FORWARD',
  'st_OUTPUT',
  'natctrl_FORWARD',
];

const KNOWN_KEYS = [
  'release',
  'binDir',
  'vendorInterfacePatterns',
  'vendorChainPatterns',
  'verdicts',
];

/** A validated configuration. */
export interface NetutilsConfig {
  /** The rule set to use. */
  readonly release: NetutilsRelease;
  /** Tool directory, normalised; absent means "search the default directories". */
  readonly binDir?: string;
  /** Extra vendor interface alternatives. */
  readonly vendorInterfacePatterns: readonly string[];
  /** Extra vendor chain alternatives. */
  readonly vendorChainPatterns: readonly string[];
  /** `hardened` (default) or `android` (AOSP's exact verdicts). */
  readonly verdicts: VerdictMode;
}

/**
 * Parses and validates configuration text.
 *
 * @param text the file content.
 * @param source the file path, for messages.
 * @returns the configuration.
 * @throws {InvalidConfigError} on any syntax, type or value problem.
 * @example
 * ```ts
 * parseNetutilsConfig('{"release":"12"}', 'inline').release; // '12-13'
 * ```
 */
export function parseNetutilsConfig(text: string, source: string): NetutilsConfig {
  if (text.length > MAX_CONFIG_LENGTH) {
    throw new InvalidConfigError(source, `larger than ${MAX_CONFIG_LENGTH} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidConfigError(source, `not valid JSON (${reason})`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidConfigError(source, 'the top level must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KNOWN_KEYS.includes(key)) {
      throw new InvalidConfigError(
        source,
        `unknown key ${JSON.stringify(key)} (known: ${KNOWN_KEYS.join(', ')})`,
      );
    }
  }
  const release = parseRelease(record.release, source);
  const vendorInterfacePatterns = parseFragments(
    record.vendorInterfacePatterns,
    'vendorInterfacePatterns',
    source,
    FRAMEWORK_INTERFACE_NAMES,
  );
  const vendorChainPatterns = parseFragments(
    record.vendorChainPatterns,
    'vendorChainPatterns',
    source,
    FRAMEWORK_CHAIN_NAMES,
  );
  const verdicts = record.verdicts === undefined ? 'hardened' : record.verdicts;
  if (verdicts !== 'hardened' && verdicts !== 'android') {
    throw new InvalidConfigError(source, '"verdicts" must be "hardened" or "android"');
  }
  const config: NetutilsConfig = {
    release,
    vendorInterfacePatterns,
    vendorChainPatterns,
    verdicts,
  };
  if (record.binDir === undefined) return config;
  if (typeof record.binDir !== 'string') {
    throw new InvalidConfigError(source, '"binDir" must be a string');
  }
  try {
    return { ...config, binDir: validateToolDir(record.binDir, source) };
  } catch (err: unknown) {
    if (err instanceof InvalidToolDirError) {
      throw new InvalidConfigError(
        source,
        `"binDir" ${JSON.stringify(record.binDir)} is unusable: ${reasonOf(err)}`,
        { cause: err },
      );
    }
    throw err;
  }
}

function reasonOf(err: Error): string {
  const i = err.message.lastIndexOf(': ');
  return i === -1 ? err.message : err.message.slice(i + 2);
}

function parseRelease(value: unknown, source: string): NetutilsRelease {
  if (value === undefined) return '15';
  if (typeof value !== 'string') throw new InvalidConfigError(source, '"release" must be a string');
  if ((NETUTILS_RELEASES as readonly string[]).includes(value)) return value as NetutilsRelease;
  const alias = Object.hasOwn(RELEASE_ALIASES, value) ? RELEASE_ALIASES[value] : undefined;
  if (alias === undefined) {
    const known = [...new Set([...Object.keys(RELEASE_ALIASES), ...NETUTILS_RELEASES])];
    throw new InvalidConfigError(
      source,
      `unknown "release" ${JSON.stringify(value)} (known: ${known.join(', ')})`,
    );
  }
  return alias;
}

function parseFragments(
  value: unknown,
  key: string,
  source: string,
  reserved: readonly string[],
): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw new InvalidConfigError(source, `"${key}" must be an array of strings`);
  if (value.length > MAX_EXTRA_PATTERNS) {
    throw new InvalidConfigError(source, `"${key}" has more than ${MAX_EXTRA_PATTERNS} entries`);
  }
  return value.map((item: unknown, i) => {
    const where = `"${key}"[${i}]`;
    if (typeof item !== 'string') throw new InvalidConfigError(source, `${where} must be a string`);
    if (item.length === 0 || item.length > MAX_EXTRA_PATTERN_LENGTH) {
      throw new InvalidConfigError(
        source,
        `${where} must have 1 to ${MAX_EXTRA_PATTERN_LENGTH} characters`,
      );
    }
    let matcher: EreMatcher;
    try {
      matcher = EreMatcher.compile(item);
      // The same text must also be a valid JavaScript pattern (it is compiled as one).
      new RegExp(item, 's');
    } catch (err: unknown) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new InvalidConfigError(source, `${where} is not a valid pattern: ${reason}`, {
        cause: err,
      });
    }
    if (matcher.hasAnchors) {
      throw new InvalidConfigError(source, `${where} must not contain the anchors "^" or "$"`);
    }
    if (matcher.matchesEmpty()) {
      throw new InvalidConfigError(source, `${where} matches the empty string`);
    }
    const prefixMatcher = EreMatcher.compile(`^(${item})`);
    const taken = reserved.find((name) => prefixMatcher.matches(name));
    if (taken !== undefined) {
      throw new InvalidConfigError(
        source,
        `${where} matches the framework name ${JSON.stringify(taken)} (fragments must only match vendor names)`,
      );
    }
    return item;
  });
}
