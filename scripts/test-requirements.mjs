// Which environment a test file needs, read from its header comment (the first /** … */ block):
// a line `@requires root` (network namespaces, iptables/tc, qemu, packet capture, capabilities)
// or `@requires network` (reaches beyond loopback, e.g. the npm registry). A file with neither runs
// in `npm run test:unit`, as any user, without the network.

/** The requirements (`'root'`, `'network'`) named in the header comment of a test file's text. */
export function requirements(text) {
  const header = /^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
  return [...header.matchAll(/^\s*\*\s*@requires\s+(root|network)\b/gm)].map((m) => m[1]);
}
