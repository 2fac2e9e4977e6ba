// What a test file needs, read from its header comment (the first /** … */ block):
// - a line `@requires root` (network namespaces, iptables/tc, qemu, packet capture, capabilities)
//   or `@requires network` (reaches beyond loopback, e.g. the npm registry). A file with neither
//   runs in `npm run test:unit`, as any user, without the network;
// - a line `@runs-alone`: the file measures timing (event-loop delay, CPU share) that other test
//   files running at the same time would distort, so scripts/run-tests.mjs runs it after the
//   others, one file at a time.

/** The first `/** … *\/` block of a file's text, if the file starts with one. */
function header(text) {
  return /^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
}

/** The requirements (`'root'`, `'network'`) named in the header comment of a test file's text. */
export function requirements(text) {
  return [...header(text).matchAll(/^\s*\*\s*@requires\s+(root|network)\b/gm)].map((m) => m[1]);
}

/** Whether the header comment of a test file's text has a `@runs-alone` line. */
export function runsAlone(text) {
  return /^\s*\*\s*@runs-alone\b/m.test(header(text));
}
