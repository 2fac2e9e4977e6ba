/**
 * Dispatch on the invocation name (which tool the wrapper was installed as), pure.
 *
 * AOSP walks `ip6tables, iptables, ndc, tc, ip` and takes the first name the basename of
 * argv[0] starts with; that only works because the list is ordered longest-first. tsnetd keeps
 * the observable result (`ip6tables-wrapper-1.0` → ip6tables, `ipsec` → ip, `tcfoo` → tc) but
 * states the rule instead of relying on order: the longest tool name that is a prefix of the
 * basename wins. Any other name (the wrapper's own included) selects nothing.
 */

/** A tool the wrapper can run. */
export type WrappedTool = 'ip6tables' | 'iptables' | 'ndc' | 'tc' | 'ip';

/** The tools, in the order of AOSP's dispatch loop. */
export const WRAPPED_TOOLS: readonly WrappedTool[] = ['ip6tables', 'iptables', 'ndc', 'tc', 'ip'];

/** The program's own name; invoked under it, the wrapper runs nothing. */
export const WRAPPER_NAME = 'netutils-wrapper-1.0';

/** The name each tool is installed under (a symlink or bin entry to the one program). */
export const INVOCATION_NAMES: Readonly<Record<WrappedTool, string>> = {
  ip6tables: 'ip6tables-wrapper-1.0',
  iptables: 'iptables-wrapper-1.0',
  ndc: 'ndc-wrapper-1.0',
  tc: 'tc-wrapper-1.0',
  ip: 'ip-wrapper-1.0',
};

/**
 * The text after the last `/` of a path, or the whole text (symlinks are not resolved, as in AOSP).
 *
 * @example
 * ```ts
 * invocationBasename('/usr/local/bin/ip-wrapper-1.0'); // 'ip-wrapper-1.0'
 * ```
 */
export function invocationBasename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The tool selected by an invocation basename: the longest tool name it starts with.
 *
 * @param basename invocation name without directory.
 * @returns the tool, or `undefined` when no tool name is a prefix.
 * @example
 * ```ts
 * selectTool('ip6tables-wrapper-1.0'); // 'ip6tables'
 * selectTool('netutils-wrapper-1.0'); // undefined
 * ```
 */
export function selectTool(basename: string): WrappedTool | undefined {
  let best: WrappedTool | undefined;
  for (const tool of WRAPPED_TOOLS) {
    if (basename.startsWith(tool) && (best === undefined || tool.length > best.length)) best = tool;
  }
  return best;
}

/**
 * The argv the check sees and the tool receives: argv[0] replaced by `<toolDir>/<tool>`
 * (AOSP uses `/system/bin`), the other arguments untouched.
 *
 * @example
 * ```ts
 * toolArgv('/usr/sbin', 'ip', ['xfrm', 'state']); // ['/usr/sbin/ip', 'xfrm', 'state']
 * ```
 */
export function toolArgv(toolDir: string, tool: WrappedTool, args: readonly string[]): string[] {
  return [`${toolDir.endsWith('/') ? toolDir : `${toolDir}/`}${tool}`, ...args];
}
