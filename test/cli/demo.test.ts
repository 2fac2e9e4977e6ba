/**
 * The demo's command line and its key file: `--help` and unknown options (exit codes, which
 * stream), `--pcap FILE` and `--pcap=FILE`, port labels that name the relay, a printed tshark
 * command that really decrypts the capture (run through bash as printed), and a key file that is
 * always a new file of mode 0600 owned by the demo's user — also when the path held a 0666 file of
 * another user or a symlink, which must be replaced, never written through.
 *
 * @requires root (a key file owned by uid 65534 is planted with chown)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO = join(ROOT, 'src/cli/demo.ts');

function runDemo(args: readonly string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', DEMO, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function withDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-demo-cli-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The two lines of the printed bash snippet, run as printed plus a field selection. */
function decryptAsPrinted(stdout: string, cwd: string): string[] {
  const lines = stdout.split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith('mapfile -t sa'));
  assert.ok(i >= 0, 'no tshark snippet printed');
  const snippet = `${lines[i]}\n${lines[i + 1]} -T fields -e data.data`;
  assert.doesNotMatch(snippet, /<line|<pcap>|<file>/i, 'placeholder in the command');
  const r = spawnSync('/bin/bash', ['-c', snippet], { cwd, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((hex) => Buffer.from(hex, 'hex').toString());
}

test('--help prints the usage on stdout, exits 0 and writes nothing', () => {
  withDir((dir) => {
    for (const flag of ['--help', '-h']) {
      const r = runDemo([flag, '--pcap', join(dir, 'x.pcap')]);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^Usage: .*--pcap FILE/);
      assert.equal(r.stderr, '');
    }
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('an unknown option or a missing file name prints the usage on stderr and exits 2', () => {
  withDir((dir) => {
    for (const args of [['--bogus'], ['--pcap'], ['--pcap='], ['stray']]) {
      const r = runDemo(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, /Usage: /, args.join(' '));
    }
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('--pcap=FILE over a 0666 key file of uid 65534: replaced by a new 0600 file of ours; labels name the relay; the printed tshark command decrypts', () => {
  withDir((dir) => {
    const pcap = join(dir, 'capture.pcap');
    const saFile = `${pcap}.esp_sa`;
    writeFileSync(saFile, 'planted by another user\n');
    chmodSync(saFile, 0o666);
    chownSync(saFile, 65534, 65534);
    const before = lstatSync(saFile);
    const r = runDemo([`--pcap=${pcap}`]);
    assert.equal(r.status, 0, r.stderr);
    const after = lstatSync(saFile);
    assert.ok(after.isFile());
    assert.equal(after.mode & 0o777, 0o600);
    assert.equal(after.uid, process.getuid?.());
    assert.notEqual(after.ino, before.ino, 'the old file was written through');
    assert.doesNotMatch(readFileSync(saFile, 'utf8'), /planted/);
    assert.deepEqual(readdirSync(dir).sort(), ['capture.pcap', 'capture.pcap.esp_sa']);
    // Every transform sends to the relay, and says so.
    const relay = /seen by the relay on udp (\d+)/.exec(r.stdout)?.[1];
    assert.ok(relay !== undefined, r.stdout);
    const remotes = [...r.stdout.matchAll(/to relay port (\d+)/g)].map((m) => m[1]);
    assert.equal(remotes.length, 4);
    assert.ok(remotes.every((p) => p === relay));
    const texts = decryptAsPrinted(r.stdout, dir);
    assert.ok(texts.includes('secret message #1 from alice'), texts.join('|'));
    assert.ok(texts.includes('ack secret message #5 from alice'), texts.join('|'));
  });
});

test('--pcap FILE with symlinks at FILE and FILE.esp_sa: the links are replaced, their target untouched', () => {
  withDir((dir) => {
    const pcap = join(dir, 'capture.pcap');
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'do not overwrite\n');
    chmodSync(victim, 0o644);
    symlinkSync(victim, `${pcap}.esp_sa`);
    symlinkSync(victim, pcap);
    const r = runDemo(['--pcap', pcap]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(victim, 'utf8'), 'do not overwrite\n');
    assert.ok(lstatSync(pcap).isFile(), 'the capture went through the symlink');
    assert.equal(lstatSync(victim).mode & 0o777, 0o644);
    const sa = lstatSync(`${pcap}.esp_sa`);
    assert.ok(sa.isFile() && !sa.isSymbolicLink());
    assert.equal(sa.mode & 0o777, 0o600);
    assert.match(readFileSync(`${pcap}.esp_sa`, 'utf8'), /CONTAINS THE ESP KEYS/);
  });
});
