/**
 * Writes a cpio archive in the "newc" format (SVR4, no CRC) that the Linux kernel unpacks as an
 * initramfs (Documentation/driver-api/early-userspace/buffer-format.rst). Directories, regular
 * files, symbolic links and character devices; mtimes are kept so Python's .pyc caches stay valid
 * (the kernel restores them with CONFIG_INITRAMFS_PRESERVE_MTIME).
 */

const NEWC_MAGIC = '070701';
const NEWC_FIELD_COUNT = 13;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER_NAME = 'TRAILER!!!';

/** One member of the archive. Paths are relative to the archive root, without a leading slash. */
export type CpioEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode?: number }
  | {
      readonly type: 'file';
      readonly path: string;
      readonly data: Uint8Array;
      readonly mode?: number;
      readonly mtimeSeconds?: number;
    }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | {
      readonly type: 'chardev';
      readonly path: string;
      readonly major: number;
      readonly minor: number;
      readonly mode?: number;
    };

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

/**
 * Serialises entries into one newc archive (the caller orders parents before children).
 *
 * @example
 * const archive = writeCpio([{ type: 'dir', path: 'bin' }, { type: 'symlink', path: 'bin/sh', target: 'busybox' }]);
 */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let inode = 1;
  const push = (
    name: string,
    mode: number,
    data: Uint8Array,
    mtime: number,
    rdevMajor: number,
    rdevMinor: number,
  ): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const fields = [
      inode++,
      mode,
      0, // uid
      0, // gid
      1, // nlink
      mtime,
      data.length,
      0, // devmajor
      0, // devminor
      rdevMajor,
      rdevMinor,
      nameBytes.length,
      0, // check
    ];
    if (fields.length !== NEWC_FIELD_COUNT)
      throw new Error('Cannot write cpio header: bad field count');
    const header = Buffer.from(NEWC_MAGIC + fields.map(hex8).join(''), 'ascii');
    chunks.push(header, nameBytes, new Uint8Array(pad4(header.length + nameBytes.length)));
    chunks.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const entry of entries) {
    switch (entry.type) {
      case 'dir':
        push(entry.path, S_IFDIR | (entry.mode ?? 0o755), new Uint8Array(0), 0, 0, 0);
        break;
      case 'file':
        push(
          entry.path,
          S_IFREG | (entry.mode ?? 0o644),
          entry.data,
          entry.mtimeSeconds ?? 0,
          0,
          0,
        );
        break;
      case 'symlink':
        push(entry.path, S_IFLNK | 0o777, Buffer.from(entry.target, 'utf8'), 0, 0, 0);
        break;
      case 'chardev':
        push(
          entry.path,
          S_IFCHR | (entry.mode ?? 0o600),
          new Uint8Array(0),
          0,
          entry.major,
          entry.minor,
        );
        break;
    }
  }
  push(TRAILER_NAME, 0, new Uint8Array(0), 0, 0, 0);
  return Buffer.concat(chunks);
}
