/**
 * A compiled allow-list: one release's rules, re-anchored on the tool
 * directory actually used and, optionally, with extra vendor interface / vendor chain
 * alternatives. The RegExps are compiled once, when the rule set is built; the default rule
 * set (Android 15, `/system/bin`) is built at module load.
 *
 * Re-anchoring replaces the leading `^/system/bin/` of every rule with `^` + the escaped tool
 * directory. Extension replaces the release's exact `VENDOR_IFACE` / `VENDOR_CHAIN` group text
 * with a group holding the same alternatives plus the extra ones, so rules that never used
 * those macros are untouched.
 *
 * Matching: the built-in rules run as JavaScript RegExps (reviewed: at worst quadratic, and the
 * input is bounded by `MAX_COMMAND_LENGTH`). A rule set with extra fragments from a
 * configuration runs on the linear-time Thompson NFA of `ere_matcher.ts` instead, so a
 * fragment such as `(a|aa)+b` cannot make the backtracking engine take exponential time.
 */
import { EreMatcher } from './ere_matcher.ts';
import { VendorNames } from './harden.ts';
import {
  CMD_PREFIX,
  DEFAULT_RELEASE,
  type NetutilsRelease,
  RELEASE_PATTERNS,
  VENDOR_CHAIN_FRAGMENTS,
  VENDOR_INTERFACE_FRAGMENTS,
} from './patterns.ts';

/** Options of {@link RuleSet.build}. */
export interface RuleSetOptions {
  /** Rule set to use. Default `'15'`. */
  readonly release?: NetutilsRelease;
  /** Absolute directory holding the real tools, without trailing slash. Default `/system/bin`. */
  readonly toolDir?: string;
  /**
   * Extra vendor interface alternatives (ERE, netutils dialect). The config loader validates
   * them strictly; callers passing their own must do the same. Default none.
   */
  readonly vendorInterfacePatterns?: readonly string[];
  /** Extra vendor chain alternatives (ERE, netutils dialect). Default none. */
  readonly vendorChainPatterns?: readonly string[];
}

const REGEXP_SPECIAL_REGEXP = /[.*+?^${}()|[\]\\]/g;

/**
 * Escapes `text` so it matches itself literally inside a pattern (both ERE and JavaScript).
 *
 * @example
 * ```ts
 * escapePattern('/opt/net.tools'); // '/opt/net\\.tools'
 * ```
 */
export function escapePattern(text: string): string {
  return text.replace(REGEXP_SPECIAL_REGEXP, '\\$&');
}

/**
 * `VENDOR_IFACE` of a release as it appears inside the rules, e.g.
 * `([^ ]*oem[0-9]+|(r_)?rmnet_(data)?[0-9]+)` for 8.0.
 */
export function vendorInterfaceGroup(
  release: NetutilsRelease,
  extra: readonly string[] = [],
): string {
  return `(${[...VENDOR_INTERFACE_FRAGMENTS[release], ...extra].join('|')})`;
}

/** `VENDOR_CHAIN` as it appears inside the rules: `(oem_.*|nm_.*|qcom_.*)`, plus extras. */
export function vendorChainGroup(extra: readonly string[] = []): string {
  return `(${[...VENDOR_CHAIN_FRAGMENTS, ...extra].join('|')})`;
}

/**
 * An ordered list of compiled allow rules.
 *
 * @example
 * ```ts
 * const rules = RuleSet.build({ toolDir: '/usr/sbin' });
 * rules.patterns[7]; // '^/usr/sbin/ip xfrm .*'
 * rules.match('/usr/sbin/ip xfrm state'); // 7
 * ```
 */
export class RuleSet {
  /** The release the rules come from. */
  readonly release: NetutilsRelease;
  /** The tool directory the rules are anchored on (no trailing slash). */
  readonly toolDir: string;
  /** The final pattern strings, in order (index = rule number - 1). */
  readonly patterns: readonly string[];
  /** The configured extra vendor interface fragments (none by default). */
  readonly vendorInterfacePatterns: readonly string[];
  /** The configured extra vendor chain fragments (none by default). */
  readonly vendorChainPatterns: readonly string[];
  #vendorNames: VendorNames | undefined;
  readonly #matchers: readonly { test(input: string): boolean }[];

  private constructor(
    release: NetutilsRelease,
    toolDir: string,
    patterns: readonly string[],
    vendorInterfacePatterns: readonly string[],
    vendorChainPatterns: readonly string[],
  ) {
    const linearTime = vendorInterfacePatterns.length > 0 || vendorChainPatterns.length > 0;
    this.release = release;
    this.toolDir = toolDir;
    this.patterns = patterns;
    this.vendorInterfacePatterns = vendorInterfacePatterns;
    this.vendorChainPatterns = vendorChainPatterns;
    this.#matchers = linearTime
      ? patterns.map((p) => {
          const nfa = EreMatcher.compile(p);
          return { test: (input: string) => nfa.matches(input) };
        })
      : // `s`: POSIX `.` matches a newline too (AOSP's `regexec` without `REG_NEWLINE`).
        patterns.map((p) => new RegExp(p, 's'));
  }

  /**
   * Builds and compiles a rule set.
   *
   * @param options release, tool directory and vendor extensions.
   * @returns the compiled rule set.
   * @throws {SyntaxError} when an extra fragment is not a valid pattern (in the ERE dialect of
   *   `ere_matcher.ts` when fragments are given, else as a JavaScript RegExp).
   */
  static build(options: RuleSetOptions = {}): RuleSet {
    const release = options.release ?? DEFAULT_RELEASE;
    const toolDir = options.toolDir ?? '/system/bin';
    const ifaceFrom = vendorInterfaceGroup(release);
    const ifaceTo = vendorInterfaceGroup(release, options.vendorInterfacePatterns);
    const chainFrom = vendorChainGroup();
    const chainTo = vendorChainGroup(options.vendorChainPatterns);
    const anchor = `^${escapePattern(toolDir.endsWith('/') ? toolDir : `${toolDir}/`)}`;
    const patterns = RELEASE_PATTERNS[release].map((p) => {
      if (!p.startsWith(CMD_PREFIX))
        throw new Error(`Rule does not start with ${CMD_PREFIX}: ${p}`);
      const body = p
        .slice(CMD_PREFIX.length)
        .split(ifaceFrom)
        .join(ifaceTo)
        .split(chainFrom)
        .join(chainTo);
      return anchor + body;
    });
    return new RuleSet(
      release,
      toolDir,
      patterns,
      options.vendorInterfacePatterns ?? [],
      options.vendorChainPatterns ?? [],
    );
  }

  /** Vendor interface and chain names of this rule set, whole-name matchers (built once). */
  get vendorNames(): VendorNames {
    this.#vendorNames ??= new VendorNames(
      this.release,
      this.vendorInterfacePatterns,
      this.vendorChainPatterns,
    );
    return this.#vendorNames;
  }

  /**
   * Index of the first rule that matches `command` (search semantics), or -1.
   *
   * @param command argv joined with single spaces.
   */
  match(command: string): number {
    const matchers = this.#matchers;
    for (let i = 0; i < matchers.length; i++) if (matchers[i]!.test(command)) return i;
    return -1;
  }
}

/** Android 15 rules anchored on `/system/bin`, exactly as AOSP ships them. */
export const DEFAULT_RULE_SET: RuleSet = RuleSet.build();
