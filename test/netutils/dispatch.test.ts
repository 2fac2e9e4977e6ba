import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  INVOCATION_NAMES,
  invocationBasename,
  selectTool,
  toolArgv,
  WRAPPED_TOOLS,
  WRAPPER_NAME,
} from '../../src/netutils/dispatch.ts';

/** AOSP's dispatch loop: first list entry the basename starts with. */
function aospSelect(basename: string): string | undefined {
  return ['ip6tables', 'iptables', 'ndc', 'tc', 'ip'].find((n) => basename.startsWith(n));
}

test('selectTool() maps each installed name to its tool and the wrapper name to nothing', () => {
  for (const tool of WRAPPED_TOOLS) assert.equal(selectTool(INVOCATION_NAMES[tool]), tool);
  assert.equal(selectTool(WRAPPER_NAME), undefined);
  assert.equal(selectTool('netutils_wrapper.js'), undefined);
  assert.equal(selectTool(''), undefined);
});

test('selectTool() gives the same answer as the AOSP prefix loop, quirks included', () => {
  const names = [
    ...Object.values(INVOCATION_NAMES),
    WRAPPER_NAME,
    'ipsec',
    'tcfoo',
    'ip',
    'ip6',
    'ip6tables',
    'ip6tablesx',
    'iptables-restore',
    'ndcx',
    'nd',
    't',
    'i',
    'IP-wrapper-1.0',
    'x-ip-wrapper-1.0',
  ];
  for (const name of names) assert.equal(selectTool(name), aospSelect(name), name);
});

test('invocationBasename() takes the text after the last slash without resolving anything', () => {
  assert.equal(invocationBasename('/tmp/x/ip-wrapper-1.0'), 'ip-wrapper-1.0');
  assert.equal(invocationBasename('ip-wrapper-1.0'), 'ip-wrapper-1.0');
  assert.equal(invocationBasename('/a/'), '');
});

test('toolArgv() rewrites argv[0] to <tool dir>/<tool> and keeps the rest', () => {
  assert.deepEqual(toolArgv('/usr/sbin', 'tc', ['qdisc', 'show']), [
    '/usr/sbin/tc',
    'qdisc',
    'show',
  ]);
  assert.deepEqual(toolArgv('/', 'ip', []), ['/ip']);
});
