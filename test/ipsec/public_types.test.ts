/**
 * The public types as a consumer sees them: the declarations are emitted with the build's own
 * settings (tsconfig.build.json, `stripInternal`) into a temporary directory, and a strict
 * consumer (`skipLibCheck: false`) is type-checked against them. Lines marked `// ✗ TSnnnn` must
 * fail with that error and every other line must compile: typed events (a wrong `'message'`
 * listener, an unknown event), `Builder(manager: IpSecManager)`, no public constructor or
 * `@internal` factory of the objects the manager creates, typed statistics keys, `messages({
 * signal })`. The emitted `.d.ts` files are also searched for what `@internal` hides.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

const CONSUMER = `
import { once } from 'node:events';
import { ProtectedSocket, TypedEventEmitter } from 'tsnetd/datapath';
import {
  IpSecDatagramSocket,
  IpSecManager,
  IpSecTransform,
  SecurityParameterIndex,
  UdpEncapsulationSocket,
  type IpSecCounter,
} from 'tsnetd/ipsec';

const ipsec = await IpSecManager.create();
const socket = ipsec.createDatagramSocket('udp4');
socket.on('message', (msg, rinfo) => console.log(msg.length, rinfo.port, rinfo.family));
socket.once('close', () => undefined);
socket.on('error', (err) => console.log(err.message));
socket.on('message', (m) => m.nonexistent()); // ✗ TS2339
socket.on('mesage', () => undefined); // ✗ TS2345
socket.on('close', (x: number) => x); // ✗ TS2345
const [first] = await once(socket, 'message');
void first;
const encap = await ipsec.openUdpEncapsulationSocket();
encap.on('message', (message, rinfo) => console.log(message.byteLength, rinfo.address));
encap.on('message', (m) => m.nonexistent()); // ✗ TS2339
const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
new IpSecTransform.Builder(ipsec).setReplayWindowSize(64).setEsn(true);
new IpSecTransform.Builder({}); // ✗ TS2345
new IpSecTransform.Builder(); // ✗ TS2554
new IpSecDatagramSocket(); // ✗ TS2673
new UdpEncapsulationSocket(); // ✗ TS2673
new SecurityParameterIndex(); // ✗ TS2673
new IpSecTransform(); // ✗ TS2673
IpSecTransform.create; // ✗ TS2339
IpSecDatagramSocket.create; // ✗ TS2339
SecurityParameterIndex.create; // ✗ TS2339
const stats = ipsec.getStatistics();
const sent: number | undefined = stats['tx.esp.bytes'];
const notApplied: number | undefined = stats['drop.not-applied'];
const key: IpSecCounter = 'tx.drop.destination-mismatch';
void stats['drop.bad-inner-checksum']; // ✗ TS2551
void [sent, notApplied, key, spi];
for await (const { message, rinfo } of socket.messages({ signal: AbortSignal.timeout(1) })) {
  console.log(message.length, rinfo.port);
}
socket.messages({ signal: 1 }); // ✗ TS2322
socket.unref().ref();
encap.unref().ref();
class Clock extends TypedEventEmitter<{ tick: [count: number] }> {}
new Clock().on('tick', (count) => count.toFixed());
new Clock().emit('tick', 'one'); // ✗ TS2345
declare const protectedSocket: ProtectedSocket;
protectedSocket.on('refused', () => undefined);
protectedSocket.on('message', (msg) => msg.nonexistent()); // ✗ TS2339
`;

let dir: string;
let declarations: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsnetd-types-'));
  declarations = join(dir, 'decl');
  const emit = spawnSync(
    process.execPath,
    [
      TSC,
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--emitDeclarationOnly',
      '--outDir',
      declarations,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(emit.status, 0, emit.stdout + emit.stderr);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('a strict consumer compiles against the emitted declarations, except exactly the marked lines', () => {
  const consumerDir = join(dir, 'consumer');
  const file = join(consumerDir, 'consumer.ts');
  spawnSync('mkdir', ['-p', consumerDir]);
  writeFileSync(join(consumerDir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(file, CONSUMER);
  writeFileSync(
    join(consumerDir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        lib: ['ES2023', 'ESNext.Disposable'],
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
        paths: {
          'tsnetd/ipsec': [join(declarations, 'ipsec/mod.d.ts')],
          'tsnetd/datapath': [join(declarations, 'datapath/mod.d.ts')],
        },
      },
      files: ['consumer.ts'],
    }),
  );
  const r = spawnSync(process.execPath, [TSC, '-p', consumerDir], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const reported = new Set(
    [...r.stdout.matchAll(/consumer\.ts\((\d+),\d+\): error (TS\d+)/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    ),
  );
  const expected = new Set(
    CONSUMER.split('\n')
      .map((line, i) => ({ line: i + 1, code: /\/\/ ✗ (TS\d+)/.exec(line)?.[1] }))
      .filter((x) => x.code !== undefined)
      .map((x) => `${x.line} ${x.code}`),
  );
  assert.ok(expected.size >= 15);
  assert.deepEqual([...reported].sort(), [...expected].sort(), r.stdout);
  // Only consumer lines: the declarations themselves check cleanly with skipLibCheck off.
  assert.doesNotMatch(r.stdout, /decl\//);
});

test('the emitted declarations carry nothing marked @internal', () => {
  const ipsecDir = join(declarations, 'ipsec');
  const texts = readdirSync(ipsecDir)
    .filter((f) => f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => [f, readFileSync(join(ipsecDir, f), 'utf8')] as const);
  for (const [f, text] of texts) {
    assert.doesNotMatch(text, /@internal/, f);
    assert.doesNotMatch(text, /ManagerContext|backendSocketOf|trackTransformChange/, f);
  }
  const byName = new Map(texts);
  for (const f of [
    'ipsec_datagram_socket.d.ts',
    'udp_encapsulation_socket.d.ts',
    'security_parameter_index.d.ts',
    'ipsec_transform.d.ts',
  ]) {
    const text = byName.get(f) ?? '';
    assert.match(text, /private constructor\(\);/, f);
    assert.doesNotMatch(text, /static create\(/, f);
  }
});
