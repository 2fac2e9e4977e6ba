/**
 * The allow-list check of AOSP's netutils wrapper (POSIX ERE match of the joined argv), pure: argv
 * in, verdict out.
 *
 * AOSP joins argv with single spaces and searches each rule in order; the first match allows.
 * tsnetd keeps that, and adds one hardening step before it: an argument that is empty or holds
 * whitespace or a control character (NUL included) is refused, because the space-joined string
 * cannot tell `["a b"]` from `["a", "b"]` and a rule could be satisfied by text the real tool
 * sees as one argument. A command longer than {@link MAX_COMMAND_LENGTH} characters or with more
 * than {@link MAX_ARGUMENTS} arguments is refused too, before any rule runs: some AOSP rules
 * (`ipfwd (add|remove) .*([^ ]*oem…`) backtrack quadratically, and a 128 KiB argument would
 * otherwise keep the check busy for seconds.
 */
import { type HardeningCheck, hardenCommand } from './harden.ts';
import type { RuleSet } from './rule_set.ts';

/**
 * Which answers the check gives: `hardened` (the default of the wrapper and the daemon) adds
 * the argument-aware check of `harden.ts` after a rule admitted the command; `android` keeps
 * AOSP's exact verdicts.
 */
export type VerdictMode = 'hardened' | 'android';

/** Options of {@link checkCommand}. */
export interface CheckOptions {
  /** Default `android` (the pure AOSP check); the programs pass their configured mode. */
  readonly verdicts?: VerdictMode;
}

/**
 * Characters an argument may not contain: Unicode whitespace, C0 and C1 controls, DEL.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const UNSAFE_ARGUMENT_REGEXP = /[\s\u0000-\u001f\u007f-\u009f]/;

/** Longest joined command (argv[0] included, single spaces) the check looks at. */
export const MAX_COMMAND_LENGTH = 4096;
/** Most arguments (argv[0] included) the check looks at. */
export const MAX_ARGUMENTS = 256;

/** The outcome of {@link checkCommand}. */
export type CheckResult =
  | {
      readonly allowed: true;
      /** argv joined with single spaces, as matched. */
      readonly command: string;
      /** 0-based index of the first rule that matched. */
      readonly ruleIndex: number;
    }
  | {
      readonly allowed: false;
      readonly command: string;
      readonly reason: 'no-matching-rule';
    }
  | {
      readonly allowed: false;
      readonly command: string;
      /** More than {@link MAX_ARGUMENTS} arguments or {@link MAX_COMMAND_LENGTH} characters. */
      readonly reason: 'too-long';
    }
  | {
      readonly allowed: false;
      readonly command: string;
      /** A rule admitted the command, the hardened check refused it. */
      readonly reason: 'hardening';
      /** The 0-based index of the rule that admitted it. */
      readonly ruleIndex: number;
      readonly check: HardeningCheck;
      /** Index in argv of the refused argument. */
      readonly argumentIndex: number;
      readonly detail: string;
    }
  | {
      readonly allowed: false;
      readonly command: string;
      readonly reason: 'unsafe-argument';
      /** Index in argv of the first refused argument. */
      readonly argumentIndex: number;
    };

/**
 * Index of the first argument that is empty or contains whitespace or a control character.
 *
 * @param argv the arguments, argv[0] included.
 * @returns the index, or -1 when every argument is safe to join.
 * @example
 * ```ts
 * findUnsafeArgument(['/usr/sbin/ip', 'addr', 'x y']); // 2
 * ```
 */
export function findUnsafeArgument(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.length === 0 || UNSAFE_ARGUMENT_REGEXP.test(arg)) return i;
  }
  return -1;
}

/**
 * Checks a command against a rule set: bounds and argument safety first, then the AOSP search
 * over the space-joined argv, then (with `verdicts: 'hardened'`) the argument-aware check of
 * `harden.ts`. argv[0] must already be the tool path (`<tool dir>/<tool>`).
 *
 * @param ruleSet the compiled rules.
 * @param argv the full argv, argv[0] included.
 * @returns the verdict, with the joined command and the rule that matched.
 * @example
 * ```ts
 * const r = checkCommand(DEFAULT_RULE_SET, ['/system/bin/ip', 'xfrm', 'state']);
 * r.allowed && r.ruleIndex; // 7 (R8)
 * ```
 */
export function checkCommand(
  ruleSet: RuleSet,
  argv: readonly string[],
  options: CheckOptions = {},
): CheckResult {
  const command = argv.join(' ');
  if (argv.length > MAX_ARGUMENTS || command.length > MAX_COMMAND_LENGTH)
    return { allowed: false, command, reason: 'too-long' };
  const argumentIndex = findUnsafeArgument(argv);
  if (argumentIndex !== -1)
    return { allowed: false, command, reason: 'unsafe-argument', argumentIndex };
  const ruleIndex = ruleSet.match(command);
  if (ruleIndex === -1) return { allowed: false, command, reason: 'no-matching-rule' };
  if (options.verdicts === 'hardened') {
    const refusal = hardenCommand(argv, ruleSet.vendorNames);
    if (refusal !== undefined)
      return { allowed: false, command, reason: 'hardening', ruleIndex, ...refusal };
  }
  return { allowed: true, command, ruleIndex };
}

/**
 * Renders a command for the single stderr/log line: unchanged unless it holds control or
 * line-breaking characters, which are shown as `\xNN` / `\uNNNN` so the line stays one line.
 *
 * @example
 * ```ts
 * printableCommand('/usr/sbin/ip a\nb'); // '/usr/sbin/ip a\\x0ab'
 * ```
 */
export function printableCommand(command: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  return command.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
