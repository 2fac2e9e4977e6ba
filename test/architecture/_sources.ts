/** Lists the TypeScript files below a folder, for the architecture tests. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every `.ts` file below `dir`, recursively, as paths joined onto `dir`. */
export function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(p));
    else if (entry.name.endsWith('.ts')) out.push(p);
  }
  return out;
}
