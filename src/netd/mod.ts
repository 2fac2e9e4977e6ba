/**
 * Public API of the netd layer: the daemon core (`Netd`), its socket server, the ndc client,
 * the protocol pieces and the Linux edge.
 */

export { cStrtol, cStrtoul } from './c_number.ts';
export type { SendCommandOptions } from './client.ts';
export { encodeCommand, NdcConnectionError, quoteArgument, sendCommand } from './client.ts';
export type { CommandContext, CommandHandler } from './commands/command_context.ts';
export { COMMAND_TABLE, dispatchCommand } from './commands/command_table.ts';
export type { Errno } from './errno.ts';
export { ERRNO_TABLE, errnoFromToolOutput, isErrno, strerror } from './errno.ts';
export {
  DaemonRunningError,
  DaemonUnreachableError,
  NetdOperationError,
  SocketPathInUseError,
  StartRefusedError,
  ToolFailedError,
  ToolMissingError,
  UnsafeSocketDirectoryError,
} from './errors.ts';
export type { ExecOptions, ExecResult, Executor } from './executor.ts';
export { execFileExecutor } from './executor.ts';
export type { Permission } from './fwmark.ts';
export { hex, permissionMark, stringToPermission } from './fwmark.ts';
export { resolveGroup, UnknownGroupError } from './group.ts';
export { iptablesCanMatchExactly, isValidInterfaceName } from './interface_name.ts';
export { IptablesRestore, NETD_TOOL_ENVIRONMENT, restoreQuote } from './iptables_restore.ts';
export type { KernelLinuxNetOptions } from './kernel_linux_net.ts';
export { KernelLinuxNet, NETLINK_ROUTE } from './kernel_linux_net.ts';
export type { Family, LinuxNet, RouteSpec, RuleSpec } from './linux_net.ts';
export { checkSysctlPath, routeArgs, ruleArgs } from './linux_net.ts';
export { MemoryLinuxNet } from './memory_linux_net.ts';
export { LOCAL_NET_ID, netHandleToNetId, netIdToNetHandle, stringToNetId } from './net_id.ts';
export { Netd } from './netd.ts';
export {
  type AccessRole,
  NetutilsConnection,
  NetutilsService,
  type NetutilsServiceOptions,
  type PeerIdentity,
  type RunChannel,
  TOOL_ENVIRONMENT,
} from './netutils_service.ts';
export { NetworkController } from './network_controller.ts';
export type { Frame } from './protocol/request_framer.ts';
export { RequestFramer } from './protocol/request_framer.ts';
export type { Reply } from './protocol/response.ts';
export {
  formatBroadcast,
  formatReply,
  isFinalReplyLine,
  RESPONSE_CODE,
} from './protocol/response.ts';
export type { CommandExecutor } from './protocol/session.ts';
export { ProtocolSession } from './protocol/session.ts';
export type { TokenizeResult } from './protocol/tokenize.ts';
export { CMD_ARGS_MAX, CMD_BUF_SIZE, tokenize } from './protocol/tokenize.ts';
export {
  NETD_RULE_PRIORITIES,
  ROUTE_TABLE,
  RouteController,
  RULE_PRIORITY,
} from './route_controller.ts';
export type { NetdServerOptions, NetdServerStats } from './server.ts';
export {
  assertSafeSocketDirectory,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_UID,
  DEFAULT_SOCKET_PATH,
  MAX_INBOX_BYTES,
  NetdServer,
  probeSocket,
  SOCKET_MODE,
} from './server.ts';
export { checkPrivateDirectory, type NetdState, StateFile } from './state_file.ts';
export { TetherController } from './tether_controller.ts';
export { findTool, TOOL_DIRECTORIES } from './tool_path.ts';
