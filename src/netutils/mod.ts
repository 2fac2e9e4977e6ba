/**
 * Public API of the netutils wrapper (AOSP's `netutils-wrapper-1.0`): the allow-list data, the
 * pure check and dispatch, the configuration parser, `explain`, and the runner.
 */
export {
  type CheckOptions,
  type CheckResult,
  checkCommand,
  findUnsafeArgument,
  MAX_ARGUMENTS,
  MAX_COMMAND_LENGTH,
  printableCommand,
  UNSAFE_ARGUMENT_REGEXP,
  type VerdictMode,
} from './check.ts';
export { type NetutilsConfig, parseNetutilsConfig } from './config.ts';
export {
  INVOCATION_NAMES,
  invocationBasename,
  selectTool,
  toolArgv,
  WRAPPED_TOOLS,
  WRAPPER_NAME,
  type WrappedTool,
} from './dispatch.ts';
export { type EreAnalysis, EreMatcher } from './ere_matcher.ts';
export { InvalidConfigError, InvalidToolDirError, UntrustedToolError } from './errors.ts';
export {
  type Explanation,
  explainCommand,
  formatExplanation,
  type RuleDiagnosis,
} from './explain.ts';
export {
  HARDENING_CHECKS,
  type HardeningCheck,
  type HardeningRefusal,
  hardenCommand,
  VendorNames,
} from './harden.ts';
export {
  DEFAULT_RELEASE,
  NETUTILS_RELEASES,
  type NetutilsRelease,
  RELEASE_ALIASES,
  RELEASE_PATTERNS,
  VENDOR_CHAIN_FRAGMENTS,
  VENDOR_INTERFACE_FRAGMENTS,
} from './patterns.ts';
export {
  atSecure,
  CAP_NET_ADMIN,
  effectiveCapabilities,
  hasNetAdmin,
  isElevated,
} from './privilege.ts';
export {
  ARGS_PER_REQUEST,
  DEFAULT_DAEMON_SOCKET,
  MAX_REMOTE_ARGUMENT_BYTES,
  NETUTILS_REPLY,
  quoteWord,
  type RemoteOptions,
  type RemoteOutcome,
  remoteRunRequests,
  runRemote,
} from './remote.ts';
export { DEFAULT_RULE_SET, escapePattern, RuleSet, type RuleSetOptions } from './rule_set.ts';
export {
  exitStatusOf,
  FORWARDED_SIGNALS,
  type RunToolOptions,
  runTool,
  type ToolOutcome,
} from './run.ts';
export {
  NetutilsPolicy,
  type PolicySource,
  type ToolSettings,
} from './settings.ts';
export { logToSyslog, type SyslogOptions } from './syslog.ts';
export {
  assertTrustedTool,
  DEFAULT_TOOL_DIRS,
  findToolDir,
  type OpenedTool,
  openTrustedTool,
  validateToolDir,
} from './tool_dir.ts';
export { DEFAULT_CONFIG_PATH, runWrapper, type WrapperOptions } from './wrapper.ts';
