/**
 * What the check runs with, for one tool: the rule set (release, vendor fragments, anchored on
 * the tool directory), the tool directory and the verdict mode. Shared by the wrapper (its
 * configuration comes from `NETUTILS_CONFIG` / `NETUTILS_BIN_DIR` only when it is not
 * elevated) and by tsnetd (its own configuration file, never the caller's environment).
 *
 * The configuration parser (and with it the ERE engine) is imported only when a file exists,
 * to keep the wrapper's start-up cheap.
 */
import { readFileSync } from 'node:fs';
import type { VerdictMode } from './check.ts';
import type { WrappedTool } from './dispatch.ts';
import { InvalidConfigError } from './errors.ts';
import { DEFAULT_RELEASE, type NetutilsRelease } from './patterns.ts';
import { DEFAULT_RULE_SET, RuleSet } from './rule_set.ts';
import { DEFAULT_TOOL_DIRS, findToolDir, validateToolDir } from './tool_dir.ts';

/** Where the configuration is read when no path is given. */
export const DEFAULT_CONFIG_PATH = '/etc/tsnetd/netutils.json';

/** The check's inputs for one tool. */
export interface ToolSettings {
  readonly ruleSet: RuleSet;
  readonly toolDir: string;
  readonly verdicts: VerdictMode;
}

/** Options of {@link NetutilsPolicy.load}. */
export interface PolicySource {
  /** Configuration file; default {@link DEFAULT_CONFIG_PATH}. */
  readonly configPath?: string;
  /** Whether the path was named explicitly (then it must exist). Default: when a path is given. */
  readonly explicit?: boolean;
  /** A tool directory that overrides the configuration's (`NETUTILS_BIN_DIR`). */
  readonly binDir?: string;
}

/**
 * A loaded configuration, ready to give each tool its settings.
 *
 * @example
 * ```ts
 * const policy = await NetutilsPolicy.load({ configPath: '/etc/tsnetd/netutils.json' });
 * policy.settingsFor('ip').toolDir; // '/usr/sbin' on Debian
 * ```
 */
export class NetutilsPolicy {
  readonly release: NetutilsRelease;
  readonly verdicts: VerdictMode;
  readonly #binDir: string | undefined;
  readonly #vendorInterfacePatterns: readonly string[];
  readonly #vendorChainPatterns: readonly string[];
  readonly #ruleSets = new Map<string, RuleSet>();

  private constructor(
    release: NetutilsRelease,
    verdicts: VerdictMode,
    binDir: string | undefined,
    vendorInterfacePatterns: readonly string[],
    vendorChainPatterns: readonly string[],
  ) {
    this.release = release;
    this.verdicts = verdicts;
    this.#binDir = binDir;
    this.#vendorInterfacePatterns = vendorInterfacePatterns;
    this.#vendorChainPatterns = vendorChainPatterns;
  }

  /**
   * Reads and validates the configuration. A missing file is the defaults unless it was named.
   *
   * @throws {InvalidConfigError} on an unreadable or malformed file.
   * @throws {InvalidToolDirError} on an unusable `binDir` override.
   */
  static async load(source: PolicySource = {}): Promise<NetutilsPolicy> {
    const path = source.configPath ?? DEFAULT_CONFIG_PATH;
    const explicit = source.explicit ?? source.configPath !== undefined;
    if (path === '') throw new InvalidConfigError(path, 'the configuration path is empty');
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err: unknown) {
      const code = (err as NodeJS.ErrnoException).code;
      // Only the default file may be absent; a path someone named must exist.
      if (!(code === 'ENOENT' && !explicit))
        throw new InvalidConfigError(path, `cannot read it (${code ?? String(err)})`, {
          cause: err,
        });
    }
    const binDir =
      source.binDir === undefined ? undefined : validateToolDir(source.binDir, 'NETUTILS_BIN_DIR');
    if (text === undefined) return new NetutilsPolicy(DEFAULT_RELEASE, 'hardened', binDir, [], []);
    const { parseNetutilsConfig } = await import('./config.ts');
    const config = parseNetutilsConfig(text, path);
    return new NetutilsPolicy(
      config.release,
      config.verdicts,
      binDir ?? config.binDir,
      config.vendorInterfacePatterns,
      config.vendorChainPatterns,
    );
  }

  /** The settings for `tool` (its directory is searched when none is configured). */
  settingsFor(tool: WrappedTool): ToolSettings {
    const toolDir = this.#binDir ?? findToolDir(tool) ?? DEFAULT_TOOL_DIRS[0]!;
    let ruleSet = this.#ruleSets.get(toolDir);
    if (ruleSet === undefined) {
      const isDefault =
        this.release === DEFAULT_RELEASE &&
        toolDir === DEFAULT_RULE_SET.toolDir &&
        this.#vendorInterfacePatterns.length === 0 &&
        this.#vendorChainPatterns.length === 0;
      ruleSet = isDefault
        ? DEFAULT_RULE_SET
        : RuleSet.build({
            release: this.release,
            toolDir,
            vendorInterfacePatterns: this.#vendorInterfacePatterns,
            vendorChainPatterns: this.#vendorChainPatterns,
          });
      this.#ruleSets.set(toolDir, ruleSet);
    }
    return { ruleSet, toolDir, verdicts: this.verdicts };
  }
}
