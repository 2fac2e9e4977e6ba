/**
 * Oracle check of the data path's wire format: run the product demo with `--pcap`, then let
 * tshark (Wireshark's ESP dissector, not written here) decrypt every packet with the written
 * esp_sa table and verify each ICV.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

test('demo --pcap: tshark decrypts every ESP packet with icv_good and finds the messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnetd-demo-'));
  try {
    const pcap = join(dir, 'demo.pcap');
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/demo.ts'), '--pcap', pcap],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.match(out, /plaintext found on the wire: no/);
    const lines = readFileSync(`${pcap}.esp_sa`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('"'));
    assert.equal(lines.length, 2);
    const ports = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'udp.srcport'], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    const decode = [...new Set(ports)].flatMap((p) => ['-d', `udp.port==${p},udpencap`]);
    const fields = execFileSync(
      'tshark',
      [
        '-r',
        pcap,
        ...decode,
        '-o',
        'esp.enable_encryption_decode:TRUE',
        '-o',
        'esp.enable_authentication_check:TRUE',
        ...lines.flatMap((l) => ['-o', `uat:esp_sa:${l}`]),
        '-T',
        'fields',
        '-e',
        'esp.sequence',
        '-e',
        'esp.icv_good',
        '-e',
        'data.data',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    assert.equal(fields.length, 10);
    for (const [, icvGood] of fields) assert.equal(icvGood, '1');
    const texts = fields.map(([, , data]) => Buffer.from(data ?? '', 'hex').toString());
    assert.ok(texts.includes('secret message #1 from alice'));
    assert.ok(texts.includes('ack secret message #5 from alice'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
