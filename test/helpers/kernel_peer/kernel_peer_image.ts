/**
 * Builds (once, cached) the boot files of the kernel-peer guest: the stock Debian kernel that
 * `linux-image-amd64` depends on, and a gzip'd initramfs holding busybox (static) as the shell,
 * the ESP/XFRM/crypto/virtio modules, iproute2's `ip`, the host's Debian python3 with only the
 * stdlib files the guest agent imports, and the agent itself. See shared/notes/kernel-peer.md.
 *
 * Cache: `<project>/.cache/kernel-peer/<linux-image package>/` keeps the .deb, the kernel and
 * one initramfs per recipe hash (agent + init script + module list + this builder's version).
 * A lock file serialises builders of concurrent test processes. Every tool runs with execFile
 * and an argv array; nothing goes through a shell.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type CpioEntry, writeCpio } from './cpio_writer.ts';

const execFileAsync = promisify(execFile);

/** Bump when the image layout changes in a way the recipe hash cannot see. */
const BUILDER_VERSION = '1';
const PROJECT_ROOT = resolve(import.meta.dirname, '../../..');
const CACHE_ROOT = join(PROJECT_ROOT, '.cache', 'kernel-peer');
const AGENT_SOURCE = join(import.meta.dirname, 'guest_agent.py');
const LOCK_STALE_MS = 10 * 60_000;
const LOCK_WAIT_MS = 10 * 60_000;
const TOOL_MAX_BUFFER = 64 * 1024 * 1024;

/** Guest TCP port the agent listens on (forwarded from a host port chosen at start). */
export const GUEST_CONTROL_PORT = 7000;
/** Line the agent prints on the serial console once it accepts commands. */
export const READY_MARKER = 'KERNEL-PEER-READY';
/** Line the init script prints if the agent ever exits. */
export const AGENT_EXITED_MARKER = 'KERNEL-PEER-AGENT-EXITED';

/**
 * Modules the guest loads at boot, in order (dependencies come from modules.dep). Built-in ones
 * (cbc, hmac, sha1, sha256, md5 and aes in Debian's 6.1 config) are skipped by the builder.
 * `aesni_intel` is left out on purpose: it fails under TCG and the generic AES is built in.
 */
export const GUEST_MODULES: readonly string[] = [
  'virtio_pci',
  'virtio_net',
  'xfrm_user',
  'esp4',
  'authenc',
  'authencesn',
  'cbc',
  'ctr',
  'gcm',
  'ghash_generic',
  'seqiv',
  'echainiv',
  'chacha_generic',
  'poly1305_generic',
  'chacha20poly1305',
  'hmac',
  'md5',
  'sha1_generic',
  'sha256_generic',
  'sha512_generic',
  'xcbc',
  'cmac',
];

/** Module folders copied whole so the kernel can auto-load any crypto template it asks for. */
const WHOLE_MODULE_DIRS: readonly string[] = ['kernel/crypto/'];

/** What {@link prepareKernelPeerImage} returns: absolute paths of the boot files. */
export interface KernelPeerImage {
  readonly kernelVersion: string;
  readonly kernelPath: string;
  readonly initrdPath: string;
  /** True when this call found everything in the cache. */
  readonly cached: boolean;
  readonly buildMs: number;
}

async function run(file: string, args: readonly string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, {
      maxBuffer: TOOL_MAX_BUFFER,
      env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      ...(cwd === undefined ? {} : { cwd }),
    });
    return stdout;
  } catch (error: unknown) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`Cannot run ${file} ${args.join(' ')}: ${stderr.trim() || String(error)}`, {
      cause: error,
    });
  }
}

/** Name of the package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-56-amd64`. */
async function resolveKernelPackage(): Promise<string | undefined> {
  const ask = async (): Promise<string | undefined> => {
    try {
      const out = await run('apt-cache', ['depends', 'linux-image-amd64']);
      return /Depends:\s*(linux-image-\S+)/.exec(out)?.[1];
    } catch {
      return undefined;
    }
  };
  const known = await ask();
  if (known !== undefined) return known;
  await run('apt-get', ['update', '-qq']);
  return ask();
}

function cachedPackages(): string[] {
  if (!existsSync(CACHE_ROOT)) return [];
  return readdirSync(CACHE_ROOT)
    .filter((name) => name.startsWith('linux-image-'))
    .sort();
}

async function withLock<T>(body: () => Promise<T>): Promise<T> {
  mkdirSync(CACHE_ROOT, { recursive: true });
  const lockPath = join(CACHE_ROOT, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockIsStale(lockPath)) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`Cannot build the kernel-peer image: lock ${lockPath} held too long`);
      }
      await sleep(250);
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

function lockIsStale(lockPath: string): boolean {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    if (Date.now() - statSync(lockPath).mtimeMs > LOCK_STALE_MS) return true;
    if (!Number.isInteger(pid) || pid <= 0) return false; // being written right now
    process.kill(pid, 0);
    return false;
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function initScript(modules: readonly string[]): string {
  return `#!/bin/sh
# kernel-peer guest init (generated by test/helpers/kernel_peer/kernel_peer_image.ts)
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu
export PYTHONHOME=/usr PYTHONUTF8=1 PYTHONDONTWRITEBYTECODE=1 LC_ALL=C
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
for m in ${modules.join(' ')}; do
  /sbin/modprobe "$m" || echo "kernel-peer: modprobe $m failed"
done
/sbin/ip link set lo up
/sbin/ip link set eth0 up
/sbin/ip addr add 10.0.2.15/24 dev eth0
/sbin/ip route add default via 10.0.2.2
echo "kernel-peer: modules loaded, starting the agent"
/usr/bin/python3 -S -I -u /agent.py ${GUEST_CONTROL_PORT}
echo "${AGENT_EXITED_MARKER} $?"
/bin/busybox poweroff -f
`;
}

/** Parses modules.dep into module name (underscored) → [path, ...dependency paths]. */
function parseModulesDep(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon);
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter((d) => d.length > 0);
    const name = basename(path)
      .replace(/\.ko(\.[a-z]+)?$/, '')
      .replaceAll('-', '_');
    out.set(name, [path, ...deps]);
  }
  return out;
}

/** Shared libraries (absolute paths) that `ldd` lists for the given executables. */
async function sharedLibraries(executables: readonly string[]): Promise<Set<string>> {
  const libs = new Set<string>();
  for (const exe of executables) {
    const out = await run('ldd', [exe]);
    for (const line of out.split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      if (m?.[1] !== undefined) libs.add(m[1]);
    }
  }
  return libs;
}

interface ImageBuilder {
  readonly entries: Map<string, CpioEntry>;
  addDirs(path: string): void;
  addHostFile(guestPath: string, hostPath: string, mode?: number): void;
  add(entry: CpioEntry): void;
}

function imageBuilder(): ImageBuilder {
  const entries = new Map<string, CpioEntry>();
  const addDirs = (path: string): void => {
    const parts = path.split('/').filter((p) => p.length > 0);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!entries.has(dir)) entries.set(dir, { type: 'dir', path: dir });
    }
  };
  const add = (entry: CpioEntry): void => {
    addDirs(dirname(entry.path) === '.' ? '' : dirname(entry.path));
    entries.set(entry.path, entry);
  };
  const addHostFile = (guestPath: string, hostPath: string, mode?: number): void => {
    const st = statSync(hostPath);
    add({
      type: 'file',
      path: guestPath.replace(/^\/+/, ''),
      data: readFileSync(hostPath),
      mode: mode ?? st.mode & 0o7777,
      mtimeSeconds: Math.floor(st.mtimeMs / 1000),
    });
  };
  return { entries, addDirs, addHostFile, add };
}

async function buildInitramfs(
  root: string,
  kernelVersion: string,
  modules: readonly string[],
  agentModuleFiles: readonly string[],
  outPath: string,
): Promise<void> {
  const img = imageBuilder();
  for (const dir of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root']) {
    img.addDirs(dir);
  }
  img.add({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  img.add({ type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  img.addHostFile('bin/busybox', '/bin/busybox', 0o755);
  img.add({ type: 'symlink', path: 'bin/sh', target: 'busybox' });
  img.add({ type: 'symlink', path: 'sbin/modprobe', target: '/bin/busybox' });
  img.add({ type: 'file', path: 'init', data: Buffer.from(initScript(modules)), mode: 0o755 });
  img.addHostFile('agent.py', AGENT_SOURCE, 0o644);
  img.addHostFile('etc/protocols', '/etc/protocols');

  const ipPath = '/usr/sbin/ip';
  const pythonPath = '/usr/bin/python3';
  img.addHostFile('sbin/ip', ipPath, 0o755);
  img.addHostFile('usr/bin/python3', pythonPath, 0o755);
  const dynamic = agentModuleFiles.filter((f) => f.endsWith('.so'));
  for (const lib of await sharedLibraries([ipPath, pythonPath, ...dynamic])) {
    img.addHostFile(lib, lib, 0o755);
  }
  img.addDirs('usr/lib/python3.11/lib-dynload');
  for (const file of agentModuleFiles) img.addHostFile(file, file);

  // Kernel modules: the closure of GUEST_MODULES plus whole folders, and the modules.* indexes.
  const modRoot = join(root, 'lib', 'modules', kernelVersion);
  const dep = parseModulesDep(readFileSync(join(modRoot, 'modules.dep'), 'utf8'));
  const wanted = new Set<string>();
  for (const name of modules) for (const p of dep.get(name) ?? []) wanted.add(p);
  for (const deps of dep.values()) {
    if (WHOLE_MODULE_DIRS.some((d) => deps[0]?.startsWith(d))) for (const p of deps) wanted.add(p);
  }
  for (const rel of wanted)
    img.addHostFile(`lib/modules/${kernelVersion}/${rel}`, join(modRoot, rel));
  for (const name of readdirSync(modRoot)) {
    if (name.startsWith('modules.') && !name.endsWith('.bin')) {
      img.addHostFile(`lib/modules/${kernelVersion}/${name}`, join(modRoot, name));
    }
  }

  const ordered = [...img.entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  const archive = gzipSync(writeCpio(ordered), { level: 6 });
  const tmp = `${outPath}.tmp-${process.pid}`;
  writeFileSync(tmp, archive);
  renameSync(tmp, outPath);
}

async function agentModuleFiles(): Promise<string[]> {
  const { stdout } = await execFileAsync(
    '/usr/bin/python3',
    ['-S', '-I', AGENT_SOURCE, '--print-modules'],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', PYTHONUTF8: '1' } },
  );
  return stdout.split('\n').filter((line) => line.startsWith('/'));
}

/**
 * Returns the kernel and initramfs of the kernel-peer guest, building them on the first call
 * (downloads ~70 MB from the Debian mirror apt is configured with) and reusing the cache after.
 *
 * @throws Error when apt cannot name or fetch the kernel package and nothing is cached
 * @example
 * const image = await prepareKernelPeerImage();
 * console.log(image.kernelVersion, image.cached);
 */
export async function prepareKernelPeerImage(): Promise<KernelPeerImage> {
  const started = Date.now();
  const agentFiles = await agentModuleFiles();
  const recipe = createHash('sha256')
    .update(BUILDER_VERSION)
    .update(readFileSync(AGENT_SOURCE))
    .update(initScript(GUEST_MODULES))
    .update(agentFiles.join('\n'))
    .digest('hex')
    .slice(0, 16);

  let pkg = await resolveKernelPackage();
  if (pkg === undefined) pkg = cachedPackages().at(-1);
  if (pkg === undefined) {
    throw new Error('Cannot prepare the kernel peer: apt knows no linux-image-amd64 dependency');
  }
  const dir = join(CACHE_ROOT, pkg);
  const initrdPath = join(dir, `initrd-${recipe}.gz`);
  const kernelInfo = join(dir, 'kernel-version');
  const done = (cached: boolean): KernelPeerImage => {
    const kernelVersion = readFileSync(kernelInfo, 'utf8').trim();
    return {
      kernelVersion,
      kernelPath: join(dir, `vmlinuz-${kernelVersion}`),
      initrdPath,
      cached,
      buildMs: Date.now() - started,
    };
  };
  if (existsSync(initrdPath) && existsSync(kernelInfo)) return done(true);

  return withLock(async () => {
    if (existsSync(initrdPath) && existsSync(kernelInfo)) return done(true);
    mkdirSync(dir, { recursive: true });
    let deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
    if (deb === undefined) {
      await run('apt-get', ['download', '-qq', pkg], dir);
      deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
      if (deb === undefined) throw new Error(`Cannot download ${pkg}: apt-get left no .deb`);
    }
    const root = join(dir, `root-${process.pid}`);
    rmSync(root, { recursive: true, force: true });
    try {
      await run('dpkg-deb', ['-x', join(dir, deb), root]);
      const versions = readdirSync(join(root, 'lib', 'modules'));
      const kernelVersion = versions[0];
      if (versions.length !== 1 || kernelVersion === undefined) {
        throw new Error(
          `Cannot prepare ${pkg}: expected one module tree, found ${versions.length}`,
        );
      }
      await run('depmod', ['-b', root, kernelVersion]);
      const dep = parseModulesDep(
        readFileSync(join(root, 'lib', 'modules', kernelVersion, 'modules.dep'), 'utf8'),
      );
      const loadable = GUEST_MODULES.filter((m) => dep.has(m));
      if (!loadable.includes('esp4') || !loadable.includes('xfrm_user')) {
        throw new Error(`Cannot prepare ${pkg}: esp4 or xfrm_user is not a module of it`);
      }
      // The recipe hash covers GUEST_MODULES; the filtered list is a function of it and the deb.
      await buildInitramfs(root, kernelVersion, loadable, agentFiles, initrdPath);
      copyFileSync(
        join(root, 'boot', `vmlinuz-${kernelVersion}`),
        join(dir, `vmlinuz-${kernelVersion}`),
      );
      writeFileSync(kernelInfo, `${kernelVersion}\n`);
      for (const stale of readdirSync(dir)) {
        if (stale.startsWith('initrd-') && join(dir, stale) !== initrdPath) {
          rmSync(join(dir, stale), { force: true });
        }
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    return done(false);
  });
}
