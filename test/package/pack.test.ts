/**
 * The npm package as a user gets it: `npm pack` of the built checkout (`dist/` from `npm run
 * build`; scripts are not run here so the checkout's `dist/` is never rebuilt under other tests),
 * installed from the tarball into an empty folder (koffi comes from the registry), then:
 * - the tarball holds LICENSE, README, docs and the built code, and no source map or source;
 * - a strict consumer (`strict`, `skipLibCheck: false`, NodeNext) of the public API type-checks;
 * - each line that must NOT compile is compiled on its own and must fail: a `'message'` listener
 *   using a property a datagram does not have, and an `IpSecTransform.Builder` given `{}`;
 * - `tsnetd --help`, `ndc --help` and `netutils-wrapper-1.0 --help` from `node_modules/.bin` exit 0
 *   with their usage on stdout; `ndc` without arguments keeps its usage error (stderr, exit 1);
 *   `ip-wrapper-1.0 --help` is not help: the allow-list check refuses it (exit 1).
 *
 * @requires network (the registry, for koffi)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const NPM_TIMEOUT_MS = 240_000;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

const dir = mkdtempSync(join(tmpdir(), 'tsnetd-pack-'));
const consumer = join(dir, 'consumer');
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  file: string,
  args: readonly string[],
  cwd: string,
  timeout = 60_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      file,
      args,
      { cwd, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20, env },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown }) | null;
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : -1;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

let packedFiles: string[] = [];

before(async () => {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const pack = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
    ROOT,
    NPM_TIMEOUT_MS,
    env,
  );
  assert.equal(pack.code, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  packedFiles = info!.files.map((f) => f.path);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const install = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, info!.filename)],
    consumer,
    NPM_TIMEOUT_MS,
    env,
  );
  assert.equal(install.code, 0, install.stderr);
});

test('the tarball ships LICENSE, README, docs and built code, and no source map or source', () => {
  for (const f of ['LICENSE', 'README.md', 'package.json', 'docs/ipsec.md', 'docs/two-peers.md']) {
    assert.ok(packedFiles.includes(f), `${f} is not in the package`);
  }
  assert.ok(
    packedFiles.includes('dist/ipsec/mod.js') && packedFiles.includes('dist/ipsec/mod.d.ts'),
  );
  assert.deepEqual(
    packedFiles.filter((f) => f.endsWith('.map') || f.startsWith('src/') || f.startsWith('test/')),
    [],
  );
  assert.match(
    readFileSync(join(ROOT, 'LICENSE'), 'utf8'),
    /Apache License\s+Version 2\.0, January 2004/,
  );
  // Every relative link of the README points at a file the package ships.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(((?!https?:|#)[^)#]+)(#[^)]*)?\)/g)) {
    assert.ok(packedFiles.includes(target!), `README links ${target}, which the package lacks`);
  }
});

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    skipLibCheck: false,
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    lib: ['ES2023', 'ESNext.Disposable'],
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
    noEmit: true,
  },
};

const GOOD = `import { randomBytes } from 'node:crypto';
import { EspInboundSa, EspOutboundSa, ESP_NEXT_HEADER } from 'tsnetd/esp';
import { IpSecAlgorithm, IpSecManager, IpSecTransform } from 'tsnetd/ipsec';
import { checkCommand, DEFAULT_RULE_SET } from 'tsnetd/netutils';

export async function good(): Promise<string> {
  const ipsec = await IpSecManager.create();
  try {
    const encap = await ipsec.openUdpEncapsulationSocket();
    const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
    const transform = await new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(
        new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(36), 128),
      )
      .setIpv4Encapsulation(encap, encap.getPort())
      .buildTransportModeTransform('127.0.0.1', spi);
    const sock = ipsec.createDatagramSocket('udp4');
    await sock.bind(0, '127.0.0.1');
    await ipsec.applyTransportModeTransform(sock, IpSecManager.DIRECTION_OUT, transform);
    const state = await transform.requestIpSecTransformState();
    const tx = new EspOutboundSa({ spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } });
    const rx = new EspInboundSa({ spi: 0x1234, aead: { name: 'rfc4106(gcm(aes))', key: randomBytes(20), icvLengthBits: 128 } });
    const opened = rx.open(tx.seal(new Uint8Array(8), ESP_NEXT_HEADER.UDP));
    const verdict = checkCommand(DEFAULT_RULE_SET, ['/system/bin/ip', 'link']);
    return \`\${state.getTxHighestSequenceNumber()} \${opened.ok} \${verdict.allowed}\`;
  } finally {
    await ipsec.close();
  }
}
`;

/** Lines that must not compile, each in its own file, after a shared prelude. */
const MUST_NOT_COMPILE: Readonly<Record<string, string>> = {
  'wrong-message-listener': `const ipsec = await IpSecManager.create();
const sock = ipsec.createDatagramSocket('udp4');
sock.on('message', (m) => m.nonexistent());`,
  'builder-of-plain-object': 'new IpSecTransform.Builder({});',
};
const PRELUDE =
  "import { IpSecManager, IpSecTransform } from 'tsnetd/ipsec';\nvoid IpSecManager;\nvoid IpSecTransform;\nexport {};\n";

let diagnostics: string | undefined;

test('a strict consumer (skipLibCheck: false) type-checks against the installed package', async () => {
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  writeFileSync(join(consumer, 'good.ts'), GOOD);
  for (const [name, body] of Object.entries(MUST_NOT_COMPILE)) {
    writeFileSync(join(consumer, `bad-${name}.ts`), `${PRELUDE}${body}\n`);
  }
  // One compiler run; the diagnostics are attributed to each file separately below.
  const r = await run(process.execPath, [TSC, '-p', '.', '--pretty', 'false'], consumer, 120_000);
  diagnostics = r.stdout + r.stderr;
  const foreign = diagnostics.split('\n').filter((l) => /error TS/.test(l) && !/^bad-/.test(l));
  assert.deepEqual(foreign, [], 'the consumer or the package declarations do not type-check');
});

for (const name of Object.keys(MUST_NOT_COMPILE)) {
  test(`must not compile: ${name}`, () => {
    assert.ok(diagnostics !== undefined, 'the consumer was not compiled');
    const own = diagnostics.split('\n').filter((l) => l.startsWith(`bad-${name}.ts(`));
    assert.ok(own.length > 0, `bad-${name}.ts compiled without error:\n${MUST_NOT_COMPILE[name]}`);
  });
}

const bin = (name: string) => join(consumer, 'node_modules', '.bin', name);

test('tsnetd --help, ndc --help and netutils-wrapper-1.0 --help print their usage and exit 0', async () => {
  for (const [name, usage] of [
    ['tsnetd', /^Usage: tsnetd /],
    ['ndc', /^Usage: ndc /],
    ['netutils-wrapper-1.0', /^Usage: netutils-wrapper-1\.0 /],
  ] as const) {
    const r = await run(bin(name), ['--help'], consumer);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, usage, name);
  }
});

test('ndc without arguments keeps its usage error; a tool name passes --help to the check', async () => {
  const ndc = await run(bin('ndc'), [], consumer);
  assert.equal(ndc.code, 1);
  assert.equal(ndc.stdout, '');
  assert.match(ndc.stderr, /^Usage: ndc /);
  const ip = await run(bin('ip-wrapper-1.0'), ['--help'], consumer);
  assert.equal(ip.code, 1);
  assert.equal(ip.stdout, '');
  assert.match(ip.stderr, /^NetUtilsWrapper: Unexpected command: \S*\/ip --help$/m);
});
