/**
 * Scans this process's readable-writable memory (`/proc/self/maps` + `/proc/self/mem`) for a
 * byte string — native heaps included, where OpenSSL keeps key schedules. The needle is given
 * as two halves and never assembled, so the scanner cannot find its own copy.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const CHUNK = 1 << 20;

/**
 * Counts the places where `first` is immediately followed by `second`.
 *
 * @param first first half of the needle (at least 8 bytes)
 * @param second second half
 */
export function countInProcessMemory(first: Uint8Array, second: Uint8Array): number {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
  const fd = openSync('/proc/self/mem', 'r');
  const buffer = Buffer.alloc(CHUNK + 64);
  const firstBuffer = Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  let hits = 0;
  try {
    for (const line of maps) {
      const match = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line);
      if (match === null || line.includes('[vvar') || line.includes('[vsyscall')) continue;
      const start = Number.parseInt(match[1]!, 16);
      const end = Number.parseInt(match[2]!, 16);
      for (let at = start; at < end; at += CHUNK) {
        const length = Math.min(CHUNK + 64, end - at);
        let read = 0;
        try {
          read = readSync(fd, buffer, 0, length, at);
        } catch {
          continue; // a region that vanished or cannot be read
        }
        let i = buffer.indexOf(firstBuffer, 0);
        while (i !== -1 && i < Math.min(read, CHUNK)) {
          let same = i + first.length + second.length <= read;
          for (let j = 0; same && j < second.length; j++) {
            if (buffer[i + first.length + j] !== second[j]) same = false;
          }
          if (same) hits++;
          i = buffer.indexOf(firstBuffer, i + 1);
        }
      }
    }
  } finally {
    buffer.fill(0);
    closeSync(fd);
  }
  return hits;
}
