/**
 * Runs Debian's tshark (Wireshark 4.0.17) on a pcap we wrote and returns the requested fields,
 * one row per frame. No shell: argv array only. Every run gets a fresh, private configuration
 * directory (HOME, XDG_CONFIG_HOME and WIRESHARK_CONFIG_DIR all point into a temp dir that is
 * removed afterwards), so no preference or `esp_sa` record leaks between runs or from the
 * machine's own profile.
 *
 * The tools are installed by `scripts/ensure-test-deps.sh` (run by `npm test`); if tshark is
 * missing this throws a clear error instead of skipping.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOracle } from './run_oracle.ts';

export const TSHARK = '/usr/bin/tshark';

/** Options of {@link runTsharkFields}. */
export interface RunTsharkOptions {
  /** The capture file contents (e.g. from `encodePcap`). */
  readonly pcap: Uint8Array;
  /** Fields to print (`-e`), in order. */
  readonly fields: readonly string[];
  /** Preferences (`-o name:value`), e.g. `esp.enable_encryption_decode:TRUE` or `uat:esp_sa:…`. */
  readonly preferences?: readonly string[];
  /** Lines of a private `esp_sa` UAT file written into the temp profile (alternative to `uat:`). */
  readonly espSaFileLines?: readonly string[];
  /** Extra arguments placed before `-T fields` (e.g. `-d`, `-Y`). */
  readonly extraArgs?: readonly string[];
  /** Milliseconds before tshark is killed. Default 30000. */
  readonly timeoutMs?: number;
}

/**
 * Runs tshark and splits its output: one array per frame, one string per field (several
 * occurrences of a field joined by `,`; empty string when absent).
 */
export async function runTsharkFields(options: RunTsharkOptions): Promise<string[][]> {
  const dir = await mkdtemp(join(tmpdir(), 'tsnetd-tshark-'));
  try {
    const configDir = join(dir, 'config', 'wireshark');
    await mkdir(configDir, { recursive: true, mode: 0o700 });
    if (options.espSaFileLines !== undefined) {
      await writeFile(join(configDir, 'esp_sa'), `${options.espSaFileLines.join('\n')}\n`, {
        mode: 0o600,
      });
    }
    const pcapPath = join(dir, 'capture.pcap');
    await writeFile(pcapPath, options.pcap);
    const args = ['-n', '-r', pcapPath];
    for (const p of options.preferences ?? []) args.push('-o', p);
    args.push(...(options.extraArgs ?? []));
    args.push('-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,');
    for (const f of options.fields) args.push('-e', f);
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, 'config'),
      WIRESHARK_CONFIG_DIR: configDir,
      LC_ALL: 'C',
    };
    const stdout = await runOracle(TSHARK, args, {
      env,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxBuffer: 64 * 1024 * 1024,
      what: 'tshark',
    });
    return stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
