/**
 * Hardened verdicts (src/netutils/harden.ts): every upstream AOSP case keeps its verdict; each
 * attack the Android rules admit is refused by the named check; every admitted command shape
 * listed in docs/netutils.md passes; `explain` names the check; `"verdicts": "android"` keeps
 * AOSP's answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCommand } from '../../src/netutils/check.ts';
import { explainCommand, formatExplanation } from '../../src/netutils/explain.ts';
import { type HardeningCheck, hardenCommand, VendorNames } from '../../src/netutils/harden.ts';
import { DEFAULT_RULE_SET, RuleSet } from '../../src/netutils/rule_set.ts';
import { loadDerivedCases, loadUpstreamCases } from './_vectors.ts';

const B = '/system/bin';
const argv = (tool: string, line: string): string[] => [`${B}/${tool}`, ...line.split(' ')];

test('all 22 upstream cases keep their verdicts under hardened verdicts', () => {
  const cases = loadUpstreamCases();
  assert.equal(cases.length, 22);
  for (const c of cases) {
    const v = checkCommand(DEFAULT_RULE_SET, c.argv, { verdicts: 'hardened' });
    assert.equal(v.allowed, c.allowed, c.argv.join(' '));
  }
});

test('derived cases: refused stay refused; allowed stay allowed except the five that reach beyond vendor interfaces', () => {
  const narrowed: string[] = [];
  for (const c of loadDerivedCases()) {
    const rs = RuleSet.build({ release: c.release });
    const hardened = checkCommand(rs, c.argv, { verdicts: 'hardened' });
    if (!c.allowed) assert.equal(hardened.allowed, false, c.id);
    else if (!hardened.allowed)
      narrowed.push(
        `${c.id}: ${hardened.reason === 'hardening' ? hardened.check : hardened.reason}`,
      );
  }
  assert.deepEqual(narrowed, [
    'r2-trailing-after-digits: foreign-interface', // rmnet_data0xyz is not a vendor name as a whole
    'r3-route-any-iface: foreign-interface', // route on wlan0
    'r5-add-oem-in: foreign-interface', // ipfwd add oem1 wlan0
    'r5-add-rmnet-out: foreign-interface', // ipfwd remove wlan0 rmnet_data1
    'r11-anything-after: foreign-interface', // qdisc del dev root extra: only the exact AOSP form
  ]);
});

/** Commands Android admits that reach beyond vendor interfaces, and the check that refuses each. */
const ATTACKS: ReadonlyArray<[string, string, HardeningCheck, number]> = [
  ['tc', '-batch /tmp/cmds dev oem0', 'global-option', 1],
  ['tc', '-b /tmp/cmds dev oem0', 'global-option', 1],
  ['tc', '-force -batch /etc/shadow dev oem0', 'global-option', 1],
  ['tc', '-n other qdisc add dev oem0 root pfifo', 'global-option', 1],
  ['tc', '-netns other qdisc add dev oem0 root pfifo', 'global-option', 1],
  ['tc', '-cf /etc/shadow qdisc show dev oem0', 'global-option', 1],
  ['tc', 'exec bpf import /tmp/sock run /tmp/evil dev oem0', 'runs-program-or-reads-file', 1],
  [
    'tc',
    'filter add dev oem0 ingress bpf obj /tmp/prog.o sec x dev oem0',
    'runs-program-or-reads-file',
    6,
  ],
  [
    'tc',
    'filter add dev wlan0 ingress matchall action mirred egress redirect dev oem0',
    'foreign-interface',
    4,
  ],
  [
    'tc',
    'filter add dev oem0 ingress matchall action mirred egress redirect dev wlan0',
    'foreign-interface',
    12,
  ],
  [
    'tc',
    'filter add dev oem0 ingress matchall action xt -j LOG dev oem0',
    'runs-program-or-reads-file',
    8,
  ],
  ['tc', 'filter add block 1 matchall action drop dev oem0', 'shared-object', 3],
  [
    'tc',
    'qdisc add dev oem0 root netem distribution ../../etc/x dev oem0',
    'runs-program-or-reads-file',
    7,
  ],
  ['tc', 'qdisc add dev oem0+ root pfifo dev oem0', 'foreign-interface', 4],
  ['tc', 'monitor dev oem0', 'unknown-argument', 1],
  ['tc', 'qdisc del dev root dev wlan0 x dev oem0', 'foreign-interface', 4],
  ['iptables', '-w -I INPUT ! -i oem0 -j DROP', 'negated-match', 4],
  ['ip6tables', '-w -A OUTPUT ! -o rmnet_data0 -j DROP', 'negated-match', 4],
  ['iptables', '-w -A INPUT -i wlan0 -o oem0 -j DROP', 'foreign-interface', 5],
  ['iptables', '-w -A INPUT --in-interface wlan0 -i oem0 -j DROP', 'foreign-interface', 5],
  ['iptables', '-w -A INPUT -i oem0 -j DROP --modprobe=/tmp/evil', 'runs-program-or-reads-file', 8],
  ['iptables', '-w -M /tmp/evil -A INPUT -i oem0 -j DROP', 'runs-program-or-reads-file', 2],
  ['iptables', '-w -A INPUT -i oem0 -m physdev --physdev-in wlan0 -j DROP', 'unknown-argument', 7],
  ['iptables', '-w -A INPUT -i oem0 -m bpf --object-pinned /tmp/p -j DROP', 'unknown-argument', 7],
  ['iptables', '-w -A INPUT -i oem0 -j TEE --gateway 192.0.2.9', 'unknown-argument', 7],
  ['iptables', '-w -R INPUT 1 -i oem0 -j ACCEPT', 'foreign-chain', 2],
  ['iptables', '-w -D INPUT 1 -i oem0', 'foreign-chain', 3],
  ['iptables', '-w -P INPUT DROP -i oem0', 'foreign-chain', 2],
  ['iptables', '-w -F INPUT -j oem_x', 'foreign-chain', 2],
  ['iptables', '-w -i oem0 -F', 'unknown-argument', 2],
  ['iptables', '-w -A INPUT -i oem0+ -j DROP', 'foreign-interface', 5],
  ['iptables', '-w -X oem_a -i oem0', 'unknown-argument', 2],
  ['ip', '-6 addr flush dev oem0 vrf wlan0', 'foreign-interface', 7],
  ['ip', 'addr add 192.0.2.1/24 dev oem0 label wlan0:1', 'foreign-interface', 7],
  ['ip', 'addr flush dev oem0 master wlan0', 'foreign-interface', 6],
  ['ip', 'addr add 192.0.2.1/24 dev oem0 dev wlan0 dev oem0', 'foreign-interface', 7],
  ['ip', 'xfrm policy add dir out dev wlan0 tmpl proto esp', 'foreign-interface', 7],
  ['ip', 'xfrm monitor all-nsid', 'global-option', 3],
  [
    'ip',
    'xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 offload dev wlan0 dir out',
    'foreign-interface',
    14,
  ],
  ['ndc', 'network route add oem1 wlan0 0.0.0.0/0', 'foreign-interface', 5],
  ['ndc', 'ipfwd add wlan0 oem0', 'foreign-interface', 3],
  ['ndc', 'ipfwd add oem0 wlan0', 'foreign-interface', 4],
  ['ndc', 'network interface add oem1 oem0 wlan0', 'unknown-argument', 6],
  ['ndc', 'network interface add oem1 rmnet_data0xyz', 'foreign-interface', 5],
];

for (const [tool, line, check, index] of ATTACKS) {
  test(`hardened: ${tool} ${line} → ${check} at argv[${index}]`, () => {
    const a = argv(tool, line);
    const android = checkCommand(DEFAULT_RULE_SET, a);
    assert.ok(android.allowed, `Android's rules admit it (${tool} ${line})`);
    const v = checkCommand(DEFAULT_RULE_SET, a, { verdicts: 'hardened' });
    assert.equal(v.allowed, false);
    assert.ok(!v.allowed && v.reason === 'hardening');
    assert.equal(v.check, check);
    assert.equal(v.argumentIndex, index, v.detail);
  });
}

/** Every command shape docs/netutils.md lists as admitted. */
const ADMITTED: ReadonlyArray<[string, string]> = [
  ['ip', 'xfrm state'],
  ['ip', 'xfrm policy'],
  ['ip', 'xfrm monitor'],
  ['ip', 'xfrm state flush'],
  [
    'ip',
    'xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x10 mode tunnel reqid 1 aead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128',
  ],
  [
    'ip',
    'xfrm policy add src 10.0.0.0/8 dst 10.1.0.0/16 dev oem0 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel',
  ],
  ['ip', 'addr add 192.0.2.1/24 dev oem0'],
  ['ip', '-6 addr add dev r_rmnet_data6 2001:db8::/64'],
  [
    'ip',
    '-4 address add 192.0.2.1/24 brd + dev oem0 label oem0:1 valid_lft 60 preferred_lft 30 noprefixroute',
  ],
  ['ip', 'addr add 192.0.2.1 peer 192.0.2.2/32 dev wwan3 scope link metric 10 nodad'],
  ['ip', 'addr del 192.0.2.1/24 dev oem0'],
  ['ip', 'addr delete 192.0.2.1/24 dev ccmni1'],
  ['ip', '-6 addr flush dev oem0 scope global dynamic -tentative'],
  ['ip', 'addr flush dev oem0 to 192.0.2.0/24 label oem0:*'],
  ['tc', 'qdisc del dev root'],
  ['tc', 'qdisc add dev rmnet_data0 root pfifo limit 100'],
  ['tc', 'qdisc replace dev oem0 root handle 1: htb default 10'],
  ['tc', 'class add dev oem0 parent 1: classid 1:10 htb rate 1mbit'],
  ['tc', '-s qdisc show dev oem0'],
  ['tc', '-s -d -j class show dev oem0'],
  ['tc', 'qdisc add dev oem0 clsact'],
  ['tc', 'filter add dev oem0 ingress matchall action mirred egress redirect dev v_oem2'],
  [
    'tc',
    'filter add dev oem0 parent 1: protocol ip prio 1 u32 match ip dst 192.0.2.0/24 flowid 1:10',
  ],
  ['tc', 'filter add dev oem0 ingress flower indev oem0 ip_proto tcp action drop'],
  ['tc', 'qdisc del dev oem0 root'],
  ['iptables', '-w -N oem_fw'],
  ['iptables', '-w -A oem_fw -i rmnet_data0 -j ACCEPT'],
  ['iptables', '-w -A oem_fw -p tcp --dport 22 ! -s 10.0.0.0/8 -j DROP'],
  ['iptables', '-w -A oem_fw -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT'],
  ['iptables', '-w -I oem_fw 2 -p udp --sport 53 -j RETURN'],
  ['iptables', '-w -D oem_fw 1'],
  ['iptables', '-w -C oem_fw -i rmnet_data0 -j ACCEPT'],
  ['iptables', '-w -F oem_fw'],
  ['iptables', '-w -X oem_fw'],
  ['iptables', '-w -A INPUT -j oem_fw'],
  ['iptables', '-w -t mangle -A POSTROUTING -o oem0 -j MARK --set-mark 0x10/0xff'],
  [
    'iptables',
    '-w -I INPUT 1 -i oem0 -p tcp -m multiport --dports 80,443 -j REJECT --reject-with tcp-reset',
  ],
  ['iptables', '-w -t nat -A POSTROUTING -o rmnet_data1 -j MASQUERADE'],
  ['iptables', '-w 5 -A FORWARD -i oem0 -o oem1 -j ACCEPT'],
  ['iptables', '-w -A INPUT -i oem0 -m comment --comment vendor -j LOG --log-prefix oem:'],
  ['iptables', '-w -t mangle -A PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT'],
  ['iptables', '-w -t mangle -D PREROUTING -m socket --nowildcard --restore-skmark -j ACCEPT'],
  ['ip6tables', '-w -A INPUT -i rmnet_data9 -j routectrl_MANGLE_INPUT'],
  ['ip6tables', '-w -A INPUT -j qcom_foo'],
  ['ip6tables', '-w -A oem_in -p icmpv6 --icmpv6-type echo-request -j ACCEPT'],
  ['ip6tables', '-w -F nm_pre_ip4'],
  ['ndc', 'network create oem1'],
  ['ndc', 'network destroy handle42966108894'],
  ['ndc', 'network interface add oem10'],
  ['ndc', 'network interface add oem10 v_oem9'],
  ['ndc', 'network interface remove oem1 wwan0'],
  ['ndc', 'network route add oem1 oem0 10.1.0.0/16'],
  ['ndc', 'network route add oem1 oem0 ::/0 throw'],
  ['ndc', 'network route remove oem1 rmnet_data0 0.0.0.0/0 192.0.2.1'],
  ['ndc', 'ipfwd enable vendor'],
  ['ndc', 'ipfwd disable vendor'],
  ['ndc', 'ipfwd add oem0 rmnet_data0'],
  ['ndc', 'ipfwd remove rmnet_data0 oem0'],
];

for (const [tool, line] of ADMITTED) {
  test(`hardened admits: ${tool} ${line}`, () => {
    const v = checkCommand(DEFAULT_RULE_SET, argv(tool, line), { verdicts: 'hardened' });
    assert.ok(v.allowed, JSON.stringify(v));
  });
}

test('configured vendor fragments count as vendor interfaces and chains, matched whole', () => {
  const rs = RuleSet.build({
    vendorInterfacePatterns: ['vnd[0-9]+'],
    vendorChainPatterns: ['vnd_.*'],
  });
  const ok = checkCommand(rs, argv('tc', 'qdisc add dev vnd3 root pfifo'), {
    verdicts: 'hardened',
  });
  assert.ok(ok.allowed);
  const jump = checkCommand(rs, argv('iptables', '-w -A INPUT -j vnd_x'), { verdicts: 'hardened' });
  assert.ok(jump.allowed);
  const names = new VendorNames('15', ['vnd[0-9]+']);
  assert.equal(names.isInterface('vnd3'), true);
  assert.equal(names.isInterface('vnd3x'), false);
  assert.equal(names.isInterface('xvnd3'), false);
  assert.equal(names.isInterface('oem0'), true);
  assert.equal(names.isInterface('rmnet0'), false);
  assert.equal(names.isInterface('a_very_long_oem0'), false, 'longer than 15 bytes');
});

test('ip global options are refused by the rules already, and by the hardened check', () => {
  for (const line of [
    '-batch /tmp/cmds addr add 192.0.2.1/24 dev oem0',
    '-force addr add 192.0.2.1/24 dev oem0',
    '-n other addr add 192.0.2.1/24 dev oem0',
  ]) {
    assert.equal(checkCommand(DEFAULT_RULE_SET, argv('ip', line)).allowed, false, line);
    // The hardened check alone (as if a rule had admitted it):
    const rs = RuleSet.build();
    const h = hardenCommand(argv('ip', line), rs.vendorNames);
    assert.equal(h?.check, 'global-option', line);
    assert.equal(h?.argumentIndex, 1, line);
  }
});

test('"android" verdicts keep AOSP answers for the attacks', () => {
  for (const [tool, line] of ATTACKS) {
    const v = checkCommand(DEFAULT_RULE_SET, argv(tool, line), { verdicts: 'android' });
    assert.ok(v.allowed, `${tool} ${line}`);
  }
});

test('explain names the hardening check that refused, and the rule that matched', () => {
  const a = argv('iptables', '-w -I INPUT ! -i oem0 -j DROP');
  const e = explainCommand(DEFAULT_RULE_SET, a, { verdicts: 'hardened' });
  assert.equal(e.allowed, false);
  const text = formatExplanation(e);
  assert.match(text, /^blocked: \/system\/bin\/iptables -w -I INPUT ! -i oem0 -j DROP\n/);
  assert.match(text, /rule R7 matches, but the hardened check "negated-match" refuses it/);
  assert.match(text, /argv\[4\] "!": ! -i/);
  const android = explainCommand(DEFAULT_RULE_SET, a, { verdicts: 'android' });
  assert.equal(android.allowed, true);
});
