/**
 * The `hostRoot` variant of the kernel-peer image: the base initramfs (kernel_peer_image.ts) with
 * a second gzip'd cpio archive appended — Linux unpacks concatenated initramfs archives in order —
 * holding the modules the guest needs to see the host's root file system over virtio-9p (`9p`,
 * `9pnet_virtio` and their dependencies) and IPv6 ESP (`esp6`) and virtual Ethernet pairs between network namespaces (`veth`). With it the guest can run the
 * host's own Node.js (chroot into /host) against its kernel, which has ESP.
 *
 * Cached next to the base image as `initrd-hostroot-<base hash>-<recipe>.gz`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type CpioEntry, writeCpio } from './cpio_writer.ts';
import type { KernelPeerImage } from './kernel_peer_image.ts';

const run = promisify(execFile);

/** Modules (with their dependency closure) added for `hostRoot`, loaded in this order. */
export const HOST_ROOT_MODULES: readonly string[] = ['9pnet_virtio', '9p', 'esp6', 'veth'];
const RECIPE_VERSION = '1';

function moduleName(path: string): string {
  return basename(path)
    .replace(/\.ko(\.[a-z]+)?$/, '')
    .replaceAll('-', '_');
}

/**
 * Returns `image` with `initrdPath` replaced by the base initramfs plus the hostRoot modules.
 *
 * @example
 * const image = await prepareHostRootImage(await prepareKernelPeerImage());
 */
export async function prepareHostRootImage(image: KernelPeerImage): Promise<KernelPeerImage> {
  const started = Date.now();
  const dir = dirname(image.initrdPath);
  const base = basename(image.initrdPath)
    .replace(/^initrd-/, '')
    .replace(/\.gz$/, '');
  const recipe = createHash('sha256')
    .update(RECIPE_VERSION)
    .update(HOST_ROOT_MODULES.join(','))
    .digest('hex')
    .slice(0, 8);
  const out = join(dir, `initrd-hostroot-${base}-${recipe}.gz`);
  const result = (cached: boolean): KernelPeerImage => ({
    ...image,
    initrdPath: out,
    cached,
    buildMs: image.buildMs + Date.now() - started,
  });
  if (existsSync(out)) return result(true);
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (deb === undefined) throw new Error(`Cannot prepare the hostRoot image: no .deb in ${dir}`);
  const root = mkdtempSync(join(tmpdir(), 'tsnetd-hostroot-'));
  try {
    await run('dpkg-deb', ['-x', join(dir, deb), root]);
    await run('depmod', ['-b', root, image.kernelVersion]);
    const modRoot = join(root, 'lib', 'modules', image.kernelVersion);
    const deps = new Map<string, string[]>();
    for (const line of readFileSync(join(modRoot, 'modules.dep'), 'utf8').split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const path = line.slice(0, colon);
      const rest = line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter((d) => d.length > 0);
      deps.set(moduleName(path), [path, ...rest]);
    }
    const wanted = new Set<string>();
    for (const name of HOST_ROOT_MODULES) {
      const closure = deps.get(name);
      if (closure === undefined) throw new Error(`Cannot prepare the hostRoot image: no ${name}`);
      for (const p of closure) wanted.add(p);
    }
    const entries: CpioEntry[] = [];
    const dirs = new Set<string>();
    for (const rel of [...wanted].sort()) {
      const guestPath = `lib/modules/${image.kernelVersion}/${rel}`;
      const parts = guestPath.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
      entries.push({ type: 'file', path: guestPath, data: readFileSync(join(modRoot, rel)) });
    }
    for (const d of [...dirs].sort().reverse()) entries.unshift({ type: 'dir', path: d });
    entries.sort((a, b) => (a.path < b.path ? -1 : 1));
    const extra = gzipSync(writeCpio(entries), { level: 6 });
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, Buffer.concat([readFileSync(image.initrdPath), extra]));
    // rename is atomic; a concurrent builder writes the same bytes.
    renameSync(tmp, out);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return result(false);
}
