/**
 * The rtnetlink codec against its oracle: every request type netd sends is compared byte for
 * byte with what iproute2 sends for the same `ip rule` / `ip route` / `ip link` command, captured
 * live under `strace -e trace=sendmsg,sendto -e write=all` in a scratch namespace (the XFRM
 * fixtures' approach; strace decodes rtnetlink structures even with `-X raw`, so the bytes come
 * from its hex dump of the data sent). `nlmsg_seq` and `nlmsg_pid` are zeroed on both sides.
 * Requests that iproute2 sends without `NLM_F_ACK` (its link lookup, its flush deletes) are
 * compared without the flags word: netd's socket always asks for the ACK.
 *
 * @requires root (network namespaces, iproute2 under strace)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RouteSpec, RuleSpec } from '../../src/netd/linux_net.ts';
import { routeArgs, ruleArgs } from '../../src/netd/linux_net.ts';
import {
  decodeRoute,
  decodeRule,
  encodeDeleteDumpedRoute,
  encodeDeleteDumpedRule,
  encodeLinkRequest,
  encodeRouteDumpRequest,
  encodeRouteRequest,
  encodeRuleDumpRequest,
  encodeRuleRequest,
} from '../../src/netd/rtnetlink.ts';
import { decodeNetlinkMessages } from '../../src/sys/netlink/message.ts';

/** The netlink messages in strace's `-e write=all` hex dumps (one dump per datagram sent). */
function parseStraceHexDumps(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let bytes: number[] = [];
  const flush = (): void => {
    // A datagram may hold several messages, and iproute2 sends some requests from a larger
    // zeroed buffer: stop at a length that cannot be a message.
    const data = Uint8Array.from(bytes);
    const dv = new DataView(data.buffer);
    let offset = 0;
    while (offset + 16 <= data.length) {
      const length = dv.getUint32(offset, true);
      if (length < 16 || offset + length > data.length) break;
      out.push(data.slice(offset, offset + length));
      offset += (length + 3) & ~3;
    }
    bytes = [];
  };
  for (const line of text.split('\n')) {
    const m = /^ \| [0-9a-f]{5} {2}((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line);
    if (m === null) {
      flush();
      continue;
    }
    for (const h of (m[1] ?? '').trim().split(/\s+/)) bytes.push(Number.parseInt(h, 16));
  }
  flush();
  return out;
}

const ns = `tsnetd-rtnl-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'tsnetd-rtnl-'));
const NAMES = ['oem0', 'wg~home', 'tun#1', 'a"b'];
const index = new Map<string, number>();

function ip(args: readonly string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

before(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  ip(['link', 'set', 'lo', 'up']);
  NAMES.forEach((name, i) => {
    ip(['link', 'add', name, 'type', 'veth', 'peer', 'name', `peer${i}`]);
    ip(['link', 'set', name, 'up']);
    const m = /^(\d+):/.exec(ip(['-o', 'link', 'show', 'dev', name]));
    index.set(name, Number(m?.[1]));
  });
});
after(() => {
  execFileSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `ip <args>` in the namespace under strace; returns the rtnetlink requests it sent. */
function capture(args: readonly string[]): Uint8Array[] {
  const trace = join(dir, `trace-${randomBytes(3).toString('hex')}.txt`);
  try {
    execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'strace',
        '-f',
        '-e',
        'trace=sendmsg,sendto',
        '-e',
        'signal=none',
        '-e',
        'write=all',
        '-s',
        '0',
        '-o',
        trace,
        'ip',
        ...args,
      ],
      { stdio: 'ignore' },
    );
  } catch {
    // A refused request was still sent; the bytes are what matter.
  }
  return parseStraceHexDumps(readFileSync(trace, 'utf8'));
}

function typeOf(m: Uint8Array): number {
  return new DataView(m.buffer, m.byteOffset).getUint16(4, true);
}

function hex(m: Uint8Array, withoutFlags = false): string {
  const copy = Uint8Array.from(m);
  const dv = new DataView(copy.buffer);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, 0, true);
  if (withoutFlags) dv.setUint16(6, 0, true);
  return Buffer.from(copy).toString('hex');
}

function only(messages: Uint8Array[], type: number): Uint8Array {
  const matching = messages.filter((m) => typeOf(m) === type);
  assert.equal(matching.length, 1, `one message of type ${type}`);
  return matching[0] as Uint8Array;
}

const RULES: Array<[4 | 6, RuleSpec]> = [
  [4, { priority: 14000, action: 'lookup', table: 1002, iif: 'lo', oif: 'oem0' }],
  [
    6,
    {
      priority: 10500,
      action: 'lookup',
      table: 1002,
      fwmark: { mark: 0xc0000, mask: 0xc0000 },
      iif: 'lo',
      oif: 'wg~home',
      uidRange: { start: 0, end: 0 },
    },
  ],
  [4, { priority: 15000, action: 'lookup', table: 99, fwmark: { mark: 0, mask: 0x10000 } }],
  [6, { priority: 32000, action: 'unreachable', fwmark: { mark: 2, mask: 0xffff } }],
  [4, { priority: 18000, action: 'lookup', table: 1003, iif: 'tun#1' }],
  [
    4,
    {
      priority: 19000,
      action: 'lookup',
      table: 1004,
      fwmark: { mark: 2, mask: 0x1ffff },
      iif: 'a"b',
    },
  ],
];

test('rule add and del: byte for byte what `ip rule add|del` sends', () => {
  for (const [family, rule] of RULES) {
    for (const op of ['add', 'del'] as const) {
      const sent = only(
        capture([`-${family}`, 'rule', op, ...ruleArgs(rule)]),
        op === 'add' ? 32 : 33,
      );
      assert.equal(
        hex(encodeRuleRequest(op, family, rule)),
        hex(sent),
        `ip -${family} rule ${op} ${ruleArgs(rule).join(' ')}`,
      );
    }
  }
});

test('route add and del: byte for byte what `ip route add|del` sends', () => {
  const routes: RouteSpec[] = [
    {
      family: 4,
      table: 1002,
      destination: '10.1.0.0/16',
      type: 'unicast',
      dev: 'oem0',
      scope: 'link',
    },
    {
      family: 4,
      table: 1002,
      destination: '10.2.0.0/16',
      type: 'unicast',
      dev: 'tun#1',
      gateway: '192.0.2.1',
      scope: 'global',
    },
    {
      family: 4,
      table: 97,
      destination: '0.0.0.0/0',
      type: 'throw',
      scope: 'link',
      metric: 100000,
    },
    { family: 4, table: 1002, destination: '10.3.0.0/16', type: 'unreachable', scope: 'link' },
    {
      family: 6,
      table: 1002,
      destination: '2001:db8:1::/48',
      type: 'unicast',
      dev: 'wg~home',
      scope: 'link',
    },
    {
      family: 6,
      table: 1002,
      destination: '2001:db8:2::/48',
      type: 'unicast',
      dev: 'oem0',
      gateway: 'fe80::1',
      scope: 'global',
    },
    { family: 6, table: 98, destination: '::/0', type: 'throw', scope: 'link', metric: 100000 },
    {
      family: 6,
      table: 1002,
      destination: '::ffff:192.0.2.0/120',
      type: 'unreachable',
      scope: 'link',
    },
  ];
  for (const route of routes) {
    for (const op of ['add', 'del'] as const) {
      const sent = only(
        capture([`-${route.family}`, 'route', op, ...routeArgs(route)]),
        op === 'add' ? 24 : 25,
      );
      const ifindex = route.dev === undefined ? undefined : index.get(route.dev);
      assert.equal(
        hex(encodeRouteRequest(op, route, ifindex)),
        hex(sent),
        `ip -${route.family} route ${op} ${routeArgs(route).join(' ')}`,
      );
    }
  }
});

test('dumps and link lookup: byte for byte what `ip rule show`, `ip route show table`, `ip link show dev` send', () => {
  for (const family of [4, 6] as const) {
    const rules = only(capture([`-${family}`, 'rule', 'show']), 34);
    // The socket stamps NLM_F_REQUEST | NLM_F_DUMP, as iproute2 does.
    const ours = Uint8Array.from(encodeRuleDumpRequest(family));
    new DataView(ours.buffer).setUint16(6, 0x301, true);
    assert.equal(hex(ours), hex(rules));
    const routes = only(capture([`-${family}`, 'route', 'show', 'table', '1002']), 26);
    const oursRoute = Uint8Array.from(encodeRouteDumpRequest(family, 1002));
    new DataView(oursRoute.buffer).setUint16(6, 0x301, true);
    assert.equal(hex(oursRoute), hex(routes));
  }
  for (const name of NAMES) {
    // The first request is the lookup by name (later ones fetch details).
    const sent = capture(['link', 'show', 'dev', name]).find((m) => typeOf(m) === 18);
    assert.ok(sent !== undefined);
    assert.equal(hex(encodeLinkRequest(name), true), hex(sent, true), name);
  }
});

test('flush deletes: each dumped rule and route is sent back as `ip rule|route flush` does', () => {
  ip(['-4', 'route', 'add', '10.7.0.0/16', 'dev', 'oem0', 'table', '1007', 'proto', 'static']);
  ip(['-6', 'route', 'add', 'unreachable', '2001:db8:7::/48', 'table', '1007', 'proto', 'static']);
  ip(['-4', 'rule', 'add', 'pref', '18000', 'iif', 'tun#1', 'table', '1007']);
  const dumped = (args: string[], type: number) =>
    // `ip route save` / `ip rule save` print a 4-byte magic, then the kernel's dump messages.
    decodeNetlinkMessages(
      new Uint8Array(execFileSync('ip', ['-n', ns, ...args], { encoding: 'buffer' }).subarray(4)),
    ).filter((m) => m.type === type);
  const v4routes = dumped(['-4', 'route', 'save', 'table', '1007'], 24).map((m) => decodeRoute(m));
  const rules = dumped(['-4', 'rule', 'save'], 32)
    .map((m) => decodeRule(m))
    .filter((r) => r?.priority === 18000);
  assert.equal(v4routes.length, 1);
  assert.equal(rules.length, 1);
  const routeDel = only(capture(['-4', 'route', 'flush', 'table', '1007']), 25);
  assert.equal(
    hex(encodeDeleteDumpedRoute(v4routes[0] as NonNullable<(typeof v4routes)[0]>), true),
    hex(routeDel, true),
  );
  const ruleDels = capture(['-4', 'rule', 'flush']).filter((m) => typeOf(m) === 33);
  const ours = hex(encodeDeleteDumpedRule(rules[0] as NonNullable<(typeof rules)[0]>), true);
  assert.ok(
    ruleDels.some((m) => hex(m, true) === ours),
    'iproute2 sent the same RTM_DELRULE for the 18000 rule',
  );
});
