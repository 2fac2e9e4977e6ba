/**
 * The userspace backend never loads the kernel layer: `import 'tsnetd/ipsec'` and a full
 * userspace exchange run in a child process whose module resolver refuses `src/kernel/`,
 * `src/xfrm/` and koffi. The control case shows the guard works: asking the same child for the
 * kernel backend trips it, because only then is the kernel layer imported.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '../..');
const MOD = pathToFileURL(join(REPO, 'src/ipsec/mod.ts')).href;

const HOOKS = `
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (/\\/src\\/(kernel|xfrm)\\//.test(result.url) || /\\/node_modules\\/koffi\\//.test(result.url)) {
    throw new Error('guard: loaded ' + result.url);
  }
  return result;
}`;

async function runGuarded(program: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tsnetd-lazy-'));
  try {
    await writeFile(join(dir, 'hooks.mjs'), HOOKS);
    await writeFile(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`,
    );
    const { stdout } = await run(
      process.execPath,
      [
        ...['--import', 'tsx', '--import', join(dir, 'register.mjs')],
        ...['--input-type=module', '-e', program],
      ],
      { cwd: REPO, timeout: 60_000 },
    );
    return stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the userspace backend works without loading src/kernel, src/xfrm or koffi', async () => {
  const out = await runGuarded(`
    import { randomBytes } from 'node:crypto';
    import { once } from 'node:events';
    const { IpSecAlgorithm, IpSecManager, IpSecTransform } = await import(${JSON.stringify(MOD)});
    const ipsec = await IpSecManager.create();
    const encap = await ipsec.openUdpEncapsulationSocket();
    const spi = await ipsec.allocateSecurityParameterIndex('127.0.0.1');
    const transform = await new IpSecTransform.Builder(ipsec)
      .setAuthenticatedEncryption(new IpSecAlgorithm(IpSecAlgorithm.AUTH_CRYPT_AES_GCM, randomBytes(20), 128))
      .setIpv4Encapsulation(encap, encap.getPort())
      .buildTransportModeTransform('127.0.0.1', spi);
    const rx = await ipsec.createDatagramSocket('udp4');
    const tx = await ipsec.createDatagramSocket('udp4');
    await rx.bind(0, '127.0.0.1');
    await ipsec.applyTransportModeTransform(rx, IpSecManager.DIRECTION_IN, transform);
    await ipsec.applyTransportModeTransform(tx, IpSecManager.DIRECTION_OUT, transform);
    const got = once(rx, 'message');
    await tx.send(Buffer.from('protected'), rx.address().port, '127.0.0.1');
    const [msg] = await got;
    console.log(String(msg));
    await ipsec.close();
  `);
  assert.equal(out, 'protected');
});

test('control: asking for the kernel backend is what loads the kernel layer', async () => {
  const out = await runGuarded(`
    const { IpSecManager } = await import(${JSON.stringify(MOD)});
    try { await IpSecManager.create({ backend: 'kernel' }); console.log('created'); }
    catch (e) { console.log(String(e.message).split('\\n')[0]); }
  `);
  assert.match(out, /^guard: loaded file:.*\/src\/kernel\/mod\.ts$/);
});
