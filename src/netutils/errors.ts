/**
 * Errors of the netutils wrapper: a configuration the wrapper refuses to run with
 * (fail closed, never "allow everything") and an unusable tool directory.
 */

/**
 * The wrapper's configuration file is malformed or asks for something unsupported.
 *
 * @example
 * ```ts
 * try {
 *   parseNetutilsConfig('{"release":"7"}', '/etc/tsnetd/netutils.json');
 * } catch (err) {
 *   if (err instanceof InvalidConfigError) console.error(err.message);
 * }
 * ```
 */
export class InvalidConfigError extends Error {
  override readonly name = 'InvalidConfigError';
  readonly code = 'ERR_NETUTILS_INVALID_CONFIG';
  /** Path (or other label) of the configuration that was rejected. */
  readonly source: string;

  constructor(source: string, reason: string, options?: ErrorOptions) {
    super(`Cannot load configuration ${JSON.stringify(source)}: ${reason}`, options);
    this.source = source;
  }
}

/**
 * A tool directory (from `NETUTILS_BIN_DIR` or the config) is not an absolute, plain path.
 *
 * @example
 * ```ts
 * validateToolDir('relative/dir', 'NETUTILS_BIN_DIR'); // throws InvalidToolDirError
 * ```
 */
export class InvalidToolDirError extends Error {
  override readonly name = 'InvalidToolDirError';
  readonly code = 'ERR_NETUTILS_INVALID_TOOL_DIR';
  /** The rejected value. */
  readonly dir: string;

  constructor(dir: string, origin: string, reason: string) {
    super(`Cannot use tool directory ${JSON.stringify(dir)} from ${origin}: ${reason}`);
    this.dir = dir;
  }
}

/**
 * Running as root, the wrapper found the tool, or a directory on its path, owned by someone
 * other than root or writable by group/others: whoever can write there could choose what
 * root runs, so the tool is not started.
 *
 * @example
 * ```ts
 * assertTrustedTool('/tmp/evil/ip'); // throws UntrustedToolError when /tmp/evil is 0777
 * ```
 */
export class UntrustedToolError extends Error {
  override readonly name = 'UntrustedToolError';
  readonly code = 'ERR_NETUTILS_UNTRUSTED_TOOL';
  /** The tool that was not started. */
  readonly tool: string;
  /** The file or directory that failed the check. */
  readonly offender: string;

  constructor(tool: string, offender: string, reason: string) {
    super(`Cannot run ${JSON.stringify(tool)}: ${JSON.stringify(offender)} ${reason}`);
    this.tool = tool;
    this.offender = offender;
  }
}
