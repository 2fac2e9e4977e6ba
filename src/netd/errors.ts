/**
 * Error classes of the netd layer (the project's error shape: `<Condition>Error`, stable `code`).
 * `NetdOperationError` is the one the command table turns into a `400 … failed (<strerror>)`
 * reply; the others are start-up and client conditions.
 */
import type { Errno } from './errno.ts';

/** A controller operation failed with an errno, as netd's controllers return `-errno`. */
export class NetdOperationError extends Error {
  override readonly name: string = 'NetdOperationError';
  readonly code: string = 'ERR_NETD_OPERATION';
  /** The errno name that goes into the reply's `(<strerror>)` suffix. */
  readonly errno: Errno;

  /**
   * @example
   * ```ts
   * throw new NetdOperationError('ENONET', 'Cannot add interface "oem0": unknown network 2');
   * ```
   */
  constructor(errno: Errno, message: string, options?: ErrorOptions) {
    super(message, options);
    this.errno = errno;
  }
}

/** An external tool (ip, iptables) exited unsuccessfully. */
export class ToolFailedError extends NetdOperationError {
  override readonly name = 'ToolFailedError';
  override readonly code = 'ERR_NETD_TOOL_FAILED';
  /** The argv that was executed (argv[0] is the program). */
  readonly argv: readonly string[];
  /** What the tool printed on stderr, trimmed. */
  readonly stderr: string;

  /**
   * @example
   * ```ts
   * new ToolFailedError('EEXIST', ['ip', 'rule', 'add'], 'RTNETLINK answers: File exists');
   * ```
   */
  constructor(errno: Errno, argv: readonly string[], stderr: string, options?: ErrorOptions) {
    super(errno, `Cannot run "${argv.join(' ')}": ${stderr.trim() || 'failed'}`, options);
    this.argv = argv;
    this.stderr = stderr.trim();
  }
}

/** Another daemon already answers on the socket path. */
export class DaemonRunningError extends Error {
  override readonly name = 'DaemonRunningError';
  readonly code = 'ERR_NETD_DAEMON_RUNNING';
  readonly socketPath: string;

  /**
   * @example
   * ```ts
   * new DaemonRunningError('/run/tsnetd/netd');
   * ```
   */
  constructor(socketPath: string) {
    super(`Cannot listen on "${socketPath}": another daemon is already running there`);
    this.socketPath = socketPath;
  }
}

/** The socket path exists but is not a socket, so it is not replaced. */
export class SocketPathInUseError extends Error {
  override readonly name = 'SocketPathInUseError';
  readonly code = 'ERR_NETD_SOCKET_PATH_IN_USE';
  readonly socketPath: string;

  /**
   * @example
   * ```ts
   * new SocketPathInUseError('/tmp/not-a-socket');
   * ```
   */
  constructor(socketPath: string) {
    super(`Cannot listen on "${socketPath}": the path exists and is not a socket`);
    this.socketPath = socketPath;
  }
}

/** The socket's directory (or one above it) could be changed by someone else. */
export class UnsafeSocketDirectoryError extends Error {
  override readonly name = 'UnsafeSocketDirectoryError';
  readonly code = 'ERR_NETD_UNSAFE_SOCKET_DIRECTORY';
  readonly socketPath: string;
  /** The directory that failed the check. */
  readonly directory: string;

  /**
   * @example
   * ```ts
   * new UnsafeSocketDirectoryError('/tmp/netd', '/tmp', 'is writable by group or others');
   * ```
   */
  constructor(socketPath: string, directory: string, reason: string) {
    super(
      `Cannot listen on "${socketPath}": directory "${directory}" ${reason} (another user could replace the socket)`,
    );
    this.socketPath = socketPath;
    this.directory = directory;
  }
}

/** The client could not reach the daemon or lost the connection before a final reply. */
export class DaemonUnreachableError extends Error {
  override readonly name: string = 'DaemonUnreachableError';
  readonly code: string = 'ERR_NETD_UNREACHABLE';
  readonly socketPath: string;

  /**
   * @example
   * ```ts
   * new DaemonUnreachableError('/run/tsnetd/netd', 'connection refused');
   * ```
   */
  constructor(socketPath: string, reason: string, options?: ErrorOptions) {
    super(`Cannot reach netd on "${socketPath}": ${reason}`, options);
    this.socketPath = socketPath;
  }
}

/** A system tool netd needs is not installed in a trusted directory. */
export class ToolMissingError extends Error {
  override readonly name = 'ToolMissingError';
  readonly code = 'ERR_NETD_TOOL_MISSING';
  readonly tool: string;

  /**
   * @example
   * ```ts
   * new ToolMissingError('iptables-restore', ['/usr/sbin']);
   * ```
   */
  constructor(tool: string, directories: readonly string[]) {
    super(
      `Cannot find "${tool}": no root-owned, non-writable copy in ${directories.join(', ')} (PATH is not searched)`,
    );
    this.tool = tool;
  }
}

/**
 * Starting would break host state the daemon could not restore (a foreign rule at a priority
 * netd uses, routes in netd's tables, …), or its state file/directory is unsafe or unreadable.
 * Nothing was changed.
 *
 * @example
 * ```ts
 * new StartRefusedError('IPv4 rule priority 13000 is already used by a rule tsnetd did not install');
 * ```
 */
export class StartRefusedError extends Error {
  override readonly name = 'StartRefusedError';
  readonly code = 'ERR_NETD_START_REFUSED';
}
