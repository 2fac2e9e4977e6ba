/**
 * `netutils-wrapper-1.0 explain <tool> <args…>`: why a command is allowed or refused, without
 * running anything. For an allowed command it names the first rule that matched (the same
 * RegExp check the wrapper runs). For a refused one it runs each rule through the ERE engine of
 * `ere_matcher.ts`, measures the longest prefix of the joined command the rule could still
 * accept, and reports the closest rules with the first argument that departs from them and
 * what the rule expected there.
 */
import {
  checkCommand,
  MAX_ARGUMENTS,
  MAX_COMMAND_LENGTH,
  printableCommand,
  type VerdictMode,
} from './check.ts';
import { EreMatcher } from './ere_matcher.ts';
import { HARDENING_CHECKS, type HardeningCheck } from './harden.ts';
import type { RuleSet } from './rule_set.ts';

/** How one refused command relates to one rule. */
export interface RuleDiagnosis {
  /** 0-based rule index (rule number - 1). */
  readonly ruleIndex: number;
  /** The rule's pattern. */
  readonly pattern: string;
  /** Length of the longest prefix of the command the rule could still extend to a match. */
  readonly viablePrefixLength: number;
  /**
   * Offset in the joined command where the rule came closest to matching (fewest characters
   * missing); wildcards may keep the rule "consistent" beyond it without making progress.
   */
  readonly closestOffset: number;
  /** Characters the rule still needed at `closestOffset`. */
  readonly missingLength: number;
  /** The shortest text the rule needed at `closestOffset`, in pattern notation (`nm_`, `oem[0-9]`). */
  readonly completion: string;
  /**
   * The first argument that departs from the rule: the one at `closestOffset`, with the offset
   * inside it (an offset equal to its length means the separating space after it).
   * `undefined` when the command ended there.
   */
  readonly divergence?: { readonly argumentIndex: number; readonly offset: number };
}

/** The outcome of {@link explainCommand}. */
export type Explanation = { readonly argv: readonly string[] } & (
  | {
      readonly allowed: true;
      readonly command: string;
      readonly ruleIndex: number;
      readonly pattern: string;
    }
  | {
      readonly allowed: false;
      readonly command: string;
      readonly reason: 'unsafe-argument';
      readonly argumentIndex: number;
    }
  | {
      readonly allowed: false;
      readonly command: string;
      readonly reason: 'too-long';
    }
  | {
      readonly allowed: false;
      readonly command: string;
      readonly reason: 'hardening';
      readonly ruleIndex: number;
      readonly check: HardeningCheck;
      readonly argumentIndex: number;
      readonly detail: string;
    }
  | {
      readonly allowed: false;
      readonly command: string;
      readonly reason: 'no-matching-rule';
      /** The closest rules, closest first. */
      readonly closest: readonly RuleDiagnosis[];
    }
);

/** Options of {@link explainCommand}. */
export interface ExplainOptions {
  /** How many closest rules to report for a refused command. Default 3. */
  readonly limit?: number;
  /** `hardened` or `android` (default), as in {@link checkCommand}. */
  readonly verdicts?: VerdictMode;
}

/**
 * Explains the verdict on `argv` (argv[0] already `<tool dir>/<tool>`).
 *
 * @example
 * ```ts
 * const e = explainCommand(DEFAULT_RULE_SET, ['/system/bin/ip', 'link', 'show']);
 * e.allowed; // false
 * ```
 */
export function explainCommand(
  ruleSet: RuleSet,
  argv: readonly string[],
  options: ExplainOptions = {},
): Explanation {
  const verdict = checkCommand(
    ruleSet,
    argv,
    options.verdicts === undefined ? {} : { verdicts: options.verdicts },
  );
  const { command } = verdict;
  const copy = [...argv];
  if (verdict.allowed) {
    const pattern = ruleSet.patterns[verdict.ruleIndex]!;
    return { argv: copy, allowed: true, command, ruleIndex: verdict.ruleIndex, pattern };
  }
  if (
    verdict.reason === 'unsafe-argument' ||
    verdict.reason === 'too-long' ||
    verdict.reason === 'hardening'
  )
    return { argv: copy, ...verdict };
  const starts: number[] = [];
  let at = 0;
  for (const arg of argv) {
    starts.push(at);
    at += arg.length + 1;
  }
  const diagnoses = ruleSet.patterns.map((pattern, ruleIndex): RuleDiagnosis => {
    const a = EreMatcher.compile(pattern).analyze(command);
    const k = a.closestOffset;
    const base = {
      ruleIndex,
      pattern,
      viablePrefixLength: a.viablePrefixLength,
      closestOffset: k,
      missingLength: a.closestDistance,
      completion: a.completion,
    };
    if (k >= command.length) return base;
    let argumentIndex = 0;
    while (argumentIndex + 1 < starts.length && starts[argumentIndex + 1]! <= k) argumentIndex++;
    return { ...base, divergence: { argumentIndex, offset: k - starts[argumentIndex]! } };
  });
  const closest = diagnoses
    .sort(
      (a, b) =>
        b.closestOffset - a.closestOffset ||
        a.missingLength - b.missingLength ||
        a.ruleIndex - b.ruleIndex,
    )
    .slice(0, options.limit ?? 3);
  return { argv: copy, allowed: false, command, reason: 'no-matching-rule', closest };
}

/**
 * Renders an explanation as the text `explain` prints (several lines, ending in a newline).
 *
 * @example
 * ```ts
 * formatExplanation(explainCommand(DEFAULT_RULE_SET, ['/system/bin/ip', 'xfrm', 'state']));
 * // 'allowed: /system/bin/ip xfrm state\nrule R8: ^/system/bin/ip xfrm .*\n'
 * ```
 */
export function formatExplanation(explanation: Explanation): string {
  const { argv } = explanation;
  const command = printableCommand(explanation.command);
  if (explanation.allowed) {
    return `allowed: ${command}\nrule R${explanation.ruleIndex + 1}: ${explanation.pattern}\n`;
  }
  if (explanation.reason === 'too-long') {
    return (
      `blocked: ${command.slice(0, 200)}…\n` +
      `the command has more than ${MAX_ARGUMENTS} arguments or ${MAX_COMMAND_LENGTH} characters;\n` +
      'tsnetd refuses such commands before any rule is tried\n'
    );
  }
  if (explanation.reason === 'unsafe-argument') {
    const arg = printableCommand(JSON.stringify(argv[explanation.argumentIndex] ?? ''));
    return (
      `blocked: ${command}\n` +
      `argument ${explanation.argumentIndex} ${arg} is empty or contains whitespace or a control character;\n` +
      'tsnetd refuses such arguments before any rule is tried (the rules see argv joined with spaces)\n'
    );
  }
  if (explanation.reason === 'hardening') {
    const arg = printableCommand(JSON.stringify(argv[explanation.argumentIndex] ?? ''));
    return (
      `blocked: ${command}\n` +
      `rule R${explanation.ruleIndex + 1} matches, but the hardened check "${explanation.check}" refuses it:\n` +
      `  argv[${explanation.argumentIndex}] ${arg}: ${printableCommand(explanation.detail)}\n` +
      `  (${HARDENING_CHECKS[explanation.check]}; "verdicts": "android" in the configuration keeps AOSP's answer)\n`
    );
  }
  const lines = [`blocked: ${command}`, 'no rule matched; closest rules:'];
  for (const d of explanation.closest) {
    const prefix = JSON.stringify(explanation.command.slice(0, d.closestOffset));
    const needed = JSON.stringify(d.completion);
    lines.push(`  R${d.ruleIndex + 1}: ${d.pattern}`);
    if (d.divergence === undefined) {
      lines.push(
        `    matches ${prefix}, then the command ends; the rule needs at least ${needed} more`,
      );
    } else {
      const { argumentIndex, offset } = d.divergence;
      const arg = argv[argumentIndex] ?? '';
      const where =
        offset >= arg.length
          ? 'the space after it'
          : `character ${offset} (${JSON.stringify(arg[offset])})`;
      lines.push(`    matches ${prefix}, then needs ${needed}`);
      lines.push(
        `    first differing argument: argv[${argumentIndex}] ${JSON.stringify(arg)} at ${where}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
