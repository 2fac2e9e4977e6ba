/**
 * Golden transcripts (test/fixtures/netd/*.txt) run against the pure protocol layer:
 * ProtocolSession + Netd over the in-memory Linux double. Format in the fixture headers.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { MemoryLinuxNet } from '../../../src/netd/memory_linux_net.ts';
import { Netd } from '../../../src/netd/netd.ts';
import { ProtocolSession } from '../../../src/netd/protocol/session.ts';

const FIXTURES = resolve(import.meta.dirname, '../../fixtures/netd');

interface Step {
  readonly line: number;
  readonly send: Buffer;
  readonly expect: string[];
}

function parseTranscript(text: string): { interfaces: string[]; steps: Step[] } {
  const steps: Step[] = [];
  let interfaces: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const ifaces = /^# interfaces: (.*)$/.exec(raw);
    if (ifaces?.[1] !== undefined) interfaces = ifaces[1].split(' ');
    if (raw.startsWith('#') || raw === '') return;
    if (raw.startsWith('>raw ')) {
      steps.push({
        line: index + 1,
        send: Buffer.from(JSON.parse(raw.slice(5)) as string, 'latin1'),
        expect: [],
      });
    } else if (raw.startsWith('> ') || raw === '>') {
      steps.push({ line: index + 1, send: Buffer.from(`${raw.slice(2)}\0`, 'latin1'), expect: [] });
    } else if (raw.startsWith('< ')) {
      const step = steps.at(-1);
      if (step === undefined) throw new Error(`reply before request at line ${index + 1}`);
      step.expect.push(raw.slice(2));
    } else {
      throw new Error(`bad transcript line ${index + 1}: ${raw}`);
    }
  });
  return { interfaces, steps };
}

const files = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('there are golden transcripts', () => {
  assert.ok(files.length >= 3);
});

for (const file of files) {
  test(`ProtocolSession reproduces the golden transcript ${file}`, async () => {
    const { interfaces, steps } = parseTranscript(readFileSync(join(FIXTURES, file), 'latin1'));
    const net = new MemoryLinuxNet({ interfaces });
    const hostRules = net.rules(4);
    const netd = await Netd.start(net);
    const session = new ProtocolSession((argv) => netd.execute(argv));
    for (const step of steps) {
      const got: string[] = [];
      for (const frame of session.push(step.send)) got.push(...(await session.handle(frame)));
      assert.deepEqual(got, step.expect, `${file}:${step.line}`);
    }
    await netd.shutdown();
    assert.equal(netd.context.routes.installedCount, 0, 'shutdown leaves nothing installed');
    assert.deepEqual(net.rules(4), hostRules, 'rules back to the start');
    assert.deepEqual(net.iptablesState, []);
  });
}
