/**
 * Hardened verdicts: an argument-aware second look at a command the allow-list admitted.
 *
 * Android's rules are regular expressions over the space-joined argv and are mostly not
 * anchored at the end, so text after the part a rule looks at is never examined: `tc -batch
 * FILE dev oem0` satisfies "tc … dev <vendor>", `iptables -w -I INPUT ! -i oem0 -j DROP`
 * satisfies "-i <vendor>". This module parses each tool's arguments with the grammar of the
 * tool's manual page (ip-address(8), ip-xfrm(8), tc(8) and its classifier/action pages,
 * iptables(8) with iptables-extensions(8), and netd's command table for ndc) and refuses:
 *
 * - global options that read files, run programs or change namespaces (`-batch`, `-force`,
 *   `-netns`, `-conf`, tc `exec`, iptables `--modprobe`), and any option outside the small set
 *   the tool's admitted commands need;
 * - any interface named anywhere (`dev X`, `indev X`, `-i X`, `--out-interface X`, `master X`,
 *   `ipfwd add IN OUT`, …) that is not a vendor interface (the whole name must match);
 * - negated interface, match, jump or goto (`! -i oem0`), which select everything else;
 * - tc programs and shared objects (BPF object files, `xt`/`ipt` actions, shared blocks,
 *   action indexes) and iptables matches/targets outside a reviewed list;
 * - iptables commands on framework chains other than adding, checking, inserting or deleting
 *   one rule confined to a vendor interface or jumping to a vendor chain.
 *
 * Pure: argv in, a refusal (or `undefined`) out. argv[0] is the tool path; the tool is its
 * basename. The check only ever narrows what the rules admitted.
 */
import { EreMatcher } from './ere_matcher.ts';
import {
  type NetutilsRelease,
  VENDOR_CHAIN_FRAGMENTS,
  VENDOR_INTERFACE_FRAGMENTS,
} from './patterns.ts';

/** The named hardening checks, as `explain` and the documentation call them. */
export type HardeningCheck =
  | 'global-option'
  | 'runs-program-or-reads-file'
  | 'foreign-interface'
  | 'negated-match'
  | 'foreign-chain'
  | 'shared-object'
  | 'unknown-argument';

/** One sentence per check, for `explain`. */
export const HARDENING_CHECKS: Readonly<Record<HardeningCheck, string>> = {
  'global-option':
    'a global option that reads a file, changes namespace or is not needed by an admitted command',
  'runs-program-or-reads-file': 'an argument that makes the tool run a program or load a file',
  'foreign-interface': 'an interface that is not a vendor interface',
  'negated-match': 'a negated interface, match, jump or goto, which selects everything else',
  'foreign-chain':
    'a command on a framework chain that is not confined to vendor interfaces or vendor chains',
  'shared-object': 'a tc object shared beyond one vendor interface (block, action index)',
  'unknown-argument': 'an argument the hardened grammar of this tool does not admit',
};

/** A refusal by the hardened check. */
export interface HardeningRefusal {
  readonly check: HardeningCheck;
  /** Index in argv (argv[0] = tool path) of the offending argument. */
  readonly argumentIndex: number;
  /** What exactly was refused, in a few words. */
  readonly detail: string;
}

/** Vendor interface and chain names, matched on the whole name. */
export class VendorNames {
  readonly #iface: { test(s: string): boolean };
  readonly #chain: { test(s: string): boolean };

  /**
   * @param release the rule set's release (its `VENDOR_IFACE` alternatives).
   * @param extraInterfaces configured extra interface fragments.
   * @param extraChains configured extra chain fragments.
   */
  constructor(
    release: NetutilsRelease,
    extraInterfaces: readonly string[] = [],
    extraChains: readonly string[] = [],
  ) {
    const build = (fragments: readonly string[], extra: boolean): { test(s: string): boolean } => {
      const source = `^(${fragments.join('|')})$`;
      if (!extra) return new RegExp(source);
      const nfa = EreMatcher.compile(source);
      return { test: (s) => nfa.matches(s) };
    };
    this.#iface = build(
      [...VENDOR_INTERFACE_FRAGMENTS[release], ...extraInterfaces],
      extraInterfaces.length > 0,
    );
    this.#chain = build([...VENDOR_CHAIN_FRAGMENTS, ...extraChains], extraChains.length > 0);
  }

  /**
   * Whether `name` is a valid Linux interface name (1–15 bytes, no `/`, `:`, not `.`/`..`,
   * no iptables `+` wildcard) that a vendor fragment matches whole.
   */
  isInterface(name: string): boolean {
    if (name.length === 0 || Buffer.byteLength(name) > 15 || name === '.' || name === '..')
      return false;
    if (/[/:+]/.test(name)) return false;
    return this.#iface.test(name);
  }

  /** Whether `name` is a vendor chain (a vendor fragment matches it whole). */
  isChain(name: string): boolean {
    return name.length > 0 && name.length <= 28 && this.#chain.test(name);
  }
}

const refuse = (
  check: HardeningCheck,
  argumentIndex: number,
  detail: string,
): HardeningRefusal => ({ check, argumentIndex, detail });

/**
 * Runs the hardened check for the tool named by argv[0]'s basename.
 *
 * @param argv the admitted argv, argv[0] the tool path.
 * @param vendor vendor interface and chain names of the configuration.
 * @returns the first refusal, or `undefined` when the command passes.
 * @example
 * ```ts
 * const vendor = new VendorNames('15');
 * hardenCommand(['/usr/sbin/tc', '-batch', '/etc/shadow', 'dev', 'oem0'], vendor)?.check;
 * // 'global-option'
 * ```
 */
export function hardenCommand(
  argv: readonly string[],
  vendor: VendorNames,
): HardeningRefusal | undefined {
  const path = argv[0] ?? '';
  const tool = path.slice(path.lastIndexOf('/') + 1);
  switch (tool) {
    case 'ip':
      return hardenIp(argv, vendor);
    case 'tc':
      return hardenTc(argv, vendor);
    case 'iptables':
    case 'ip6tables':
      return hardenIptables(argv, vendor);
    case 'ndc':
      return hardenNdc(argv, vendor);
    default:
      return refuse('unknown-argument', 0, `unknown tool ${JSON.stringify(tool)}`);
  }
}

function interfaceAt(
  argv: readonly string[],
  i: number,
  vendor: VendorNames,
  what: string,
): HardeningRefusal | undefined {
  const name = argv[i];
  if (name === undefined) return refuse('unknown-argument', i - 1, `${what} without a name`);
  return vendor.isInterface(name)
    ? undefined
    : refuse('foreign-interface', i, `${what} ${JSON.stringify(name)}`);
}

// ---------------------------------------------------------------------------------------------
// ip (ip(8), ip-address(8), ip-xfrm(8))

/** ip global options that read files, run commands in or change namespaces. */
const IP_DANGEROUS_OPTIONS =
  /^-(b|ba|bat|batc|batch|force|n|ne|net|netn|netns|a|al|all)$|^-(N|Numeric)$/;
/** `ip addr add|del` keywords that take one value (ip-address(8)). */
const IP_ADDR_VALUE_KEYWORDS = new Set([
  'local',
  'peer',
  'broadcast',
  'brd',
  'anycast',
  'scope',
  'metric',
  'priority',
  'preference',
  'valid_lft',
  'preferred_lft',
  'to',
  'type',
  'proto',
]);
/** `ip addr` flags without a value (CONFFLAG-LIST and the flush FLAG-LIST). */
const IP_ADDR_FLAGS = new Set([
  'home',
  'mngtmpaddr',
  'nodad',
  'optimistic',
  'noprefixroute',
  'autojoin',
  'permanent',
  'dynamic',
  'secondary',
  'primary',
  'tentative',
  '-tentative',
  'deprecated',
  '-deprecated',
  'dadfailed',
  '-dadfailed',
  'temporary',
  'up',
  'nomaster',
]);
const ADDRESS_TOKEN = /^[0-9A-Fa-f.:]+(\/[0-9]{1,3})?$/;

function hardenIp(argv: readonly string[], vendor: VendorNames): HardeningRefusal | undefined {
  let i = 1;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const option = argv[i]!;
    if (option === '-4' || option === '-6') {
      i += 1;
      continue;
    }
    return refuse(
      'global-option',
      i,
      IP_DANGEROUS_OPTIONS.test(option)
        ? `${option} reads a file or changes namespace`
        : `${option} is not admitted`,
    );
  }
  const object = argv[i];
  if (object === 'xfrm') return hardenIpXfrm(argv, i + 1, vendor);
  if (object === 'addr' || object === 'address') return hardenIpAddr(argv, i + 1, vendor);
  if (object === 'netns') return refuse('global-option', i, 'netns changes namespace');
  if (object === 'rule') return hardenIpRule(argv, i + 1, vendor);
  return refuse('unknown-argument', i, `ip object ${JSON.stringify(object ?? '')}`);
}

function hardenIpXfrm(
  argv: readonly string[],
  start: number,
  vendor: VendorNames,
): HardeningRefusal | undefined {
  for (let i = start; i < argv.length; i++) {
    const arg = argv[i]!;
    // SELECTOR `dev DEV` and `offload [crypto|packet] dev DEV dir DIR` name an interface.
    if (arg === 'dev') {
      const bad = interfaceAt(argv, i + 1, vendor, 'dev');
      if (bad !== undefined) return bad;
      i += 1;
    } else if (arg === 'all-nsid') {
      return refuse('global-option', i, 'all-nsid reads other namespaces');
    }
  }
  return undefined;
}

function hardenIpRule(
  argv: readonly string[],
  start: number,
  vendor: VendorNames,
): HardeningRefusal | undefined {
  for (let i = start; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === 'iif' || arg === 'oif' || arg === 'dev') {
      const bad = interfaceAt(argv, i + 1, vendor, arg);
      if (bad !== undefined) return bad;
      i += 1;
    } else if (arg === 'not') {
      return refuse('negated-match', i, 'not selects every other packet');
    }
  }
  return undefined;
}

function hardenIpAddr(
  argv: readonly string[],
  start: number,
  vendor: VendorNames,
): HardeningRefusal | undefined {
  const verb = argv[start];
  if (verb !== 'add' && verb !== 'del' && verb !== 'delete' && verb !== 'flush')
    return refuse('unknown-argument', start, `ip addr ${JSON.stringify(verb ?? '')}`);
  let device: string | undefined;
  let label: { value: string; index: number } | undefined;
  let positional = 0;
  for (let i = start + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === 'dev' || arg === 'master' || arg === 'vrf') {
      const bad = interfaceAt(argv, i + 1, vendor, arg);
      if (bad !== undefined) return bad;
      if (arg === 'dev') {
        if (device !== undefined) return refuse('unknown-argument', i, 'dev given twice');
        device = argv[i + 1];
      }
      i += 1;
    } else if (arg === 'label') {
      const value = argv[i + 1];
      if (value === undefined) return refuse('unknown-argument', i, 'label without a value');
      label = { value, index: i + 1 };
      i += 1;
    } else if (IP_ADDR_VALUE_KEYWORDS.has(arg)) {
      if (argv[i + 1] === undefined) return refuse('unknown-argument', i, `${arg} without a value`);
      i += 1;
    } else if (IP_ADDR_FLAGS.has(arg)) {
      // A flag: nothing to check.
    } else if (ADDRESS_TOKEN.test(arg) && positional === 0 && verb !== 'flush') {
      positional += 1;
    } else {
      return refuse('unknown-argument', i, `ip addr ${verb} does not take ${JSON.stringify(arg)}`);
    }
  }
  if (device === undefined) return refuse('foreign-interface', start, 'no dev <vendor interface>');
  // A label must be the device name or start with "<device>:" (ip-address(8)).
  if (label !== undefined && label.value !== device && !label.value.startsWith(`${device}:`))
    return refuse('foreign-interface', label.index, `label ${JSON.stringify(label.value)}`);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// tc (tc(8), tc-bpf(8), tc-actions(8), tc-mirred(8), tc-flower(8), tc-netem(8))

/** tc global options admitted: statistics and output format only. */
const TC_OPTIONS = new Set([
  '-s',
  '-stats',
  '-statistics',
  '-d',
  '-details',
  '-p',
  '-pretty',
  '-iec',
  '-j',
  '-json',
]);
/** tc global options that read files, run commands or change namespace. */
const TC_DANGEROUS_OPTIONS = new Set([
  '-b',
  '-batch',
  '-force',
  '-n',
  '-net',
  '-netns',
  '-cf',
  '-conf',
  '-nm',
  '-name',
  '-OK',
]);
const TC_OBJECTS = new Set(['qdisc', 'class', 'filter']);
const TC_VERBS = new Set([
  'add',
  'del',
  'delete',
  'change',
  'replace',
  'link',
  'show',
  'list',
  'ls',
  'get',
]);
/** Keywords that load a program or read a file. */
const TC_PROGRAM_KEYWORDS = new Set([
  'exec',
  'bpf',
  'ebpf',
  'obj',
  'object-file',
  'object-pinned',
  'pinned',
  'bytecode',
  'bytecode-file',
  'xt',
  'ipt',
  'distribution',
]);
/** Keywords that reach objects shared across interfaces. */
const TC_SHARED_KEYWORDS = new Set(['block', 'ingress_block', 'egress_block', 'blockid', 'index']);
/** Keywords followed by an interface name. */
const TC_INTERFACE_KEYWORDS = new Set(['dev', 'indev', 'fromif']);

function hardenTc(argv: readonly string[], vendor: VendorNames): HardeningRefusal | undefined {
  // AOSP rule 11 verbatim: `tc qdisc del dev root` (tc reads "root" as the device name).
  if (argv.length === 5 && argv.slice(1).join(' ') === 'qdisc del dev root') return undefined;
  let i = 1;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const option = argv[i]!;
    if (!TC_OPTIONS.has(option)) {
      return refuse(
        'global-option',
        i,
        TC_DANGEROUS_OPTIONS.has(option)
          ? `${option} reads a file, runs commands or changes namespace`
          : `${option} is not admitted`,
      );
    }
    i += 1;
  }
  const object = argv[i];
  if (object === 'exec') return refuse('runs-program-or-reads-file', i, 'tc exec runs a program');
  if (object === undefined || !TC_OBJECTS.has(object))
    return refuse('unknown-argument', i, `tc object ${JSON.stringify(object ?? '')}`);
  const verb = argv[i + 1];
  if (verb === undefined || !TC_VERBS.has(verb))
    return refuse('unknown-argument', i + 1, `tc ${object} ${JSON.stringify(verb ?? '')}`);
  let devices = 0;
  for (let j = i + 2; j < argv.length; j++) {
    const arg = argv[j]!;
    if (TC_INTERFACE_KEYWORDS.has(arg)) {
      const bad = interfaceAt(argv, j + 1, vendor, arg);
      if (bad !== undefined) return bad;
      if (arg === 'dev') devices += 1;
      j += 1;
    } else if (TC_PROGRAM_KEYWORDS.has(arg)) {
      return refuse('runs-program-or-reads-file', j, `${arg} loads a program or a file`);
    } else if (TC_SHARED_KEYWORDS.has(arg)) {
      return refuse('shared-object', j, `${arg} reaches an object shared between interfaces`);
    }
  }
  if (devices === 0) return refuse('foreign-interface', i, 'no dev <vendor interface>');
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// iptables / ip6tables (iptables(8), iptables-extensions(8))

/** Extension options (match or target) and how many values each takes. */
type OptionTable = Readonly<Record<string, 0 | 1 | 2>>;

const PORT_OPTIONS: OptionTable = {
  '--sport': 1,
  '--source-port': 1,
  '--dport': 1,
  '--destination-port': 1,
};
/** Matches admitted with `-m NAME` (or implied by `-p tcp|udp|icmp|icmpv6`). */
const MATCHES: Readonly<Record<string, OptionTable>> = {
  tcp: { ...PORT_OPTIONS, '--tcp-flags': 2, '--syn': 0, '--tcp-option': 1 },
  udp: PORT_OPTIONS,
  icmp: { '--icmp-type': 1 },
  icmp6: { '--icmpv6-type': 1 },
  multiport: {
    '--sports': 1,
    '--source-ports': 1,
    '--dports': 1,
    '--destination-ports': 1,
    '--ports': 1,
  },
  conntrack: {
    '--ctstate': 1,
    '--ctproto': 1,
    '--ctorigsrc': 1,
    '--ctorigdst': 1,
    '--ctreplsrc': 1,
    '--ctrepldst': 1,
    '--ctorigsrcport': 1,
    '--ctorigdstport': 1,
    '--ctreplsrcport': 1,
    '--ctrepldstport': 1,
    '--ctstatus': 1,
    '--ctexpire': 1,
    '--ctdir': 1,
  },
  state: { '--state': 1 },
  mark: { '--mark': 1 },
  connmark: { '--mark': 1 },
  comment: { '--comment': 1 },
  limit: { '--limit': 1, '--limit-burst': 1 },
  length: { '--length': 1 },
  pkttype: { '--pkt-type': 1 },
  addrtype: { '--src-type': 1, '--dst-type': 1, '--limit-iface-in': 0, '--limit-iface-out': 0 },
  iprange: { '--src-range': 1, '--dst-range': 1 },
  dscp: { '--dscp': 1, '--dscp-class': 1 },
  tos: { '--tos': 1 },
  socket: { '--transparent': 0, '--nowildcard': 0, '--restore-skmark': 0 },
  owner: { '--uid-owner': 1, '--gid-owner': 1, '--socket-exists': 0, '--suppl-groups': 0 },
  mac: { '--mac-source': 1 },
  policy: {
    '--dir': 1,
    '--pol': 1,
    '--strict': 0,
    '--reqid': 1,
    '--spi': 1,
    '--proto': 1,
    '--mode': 1,
    '--tunnel-src': 1,
    '--tunnel-dst': 1,
    '--next': 0,
  },
  esp: { '--espspi': 1 },
  ah: { '--ahspi': 1 },
};
const MARK_OPTIONS: OptionTable = {
  '--set-xmark': 1,
  '--set-mark': 1,
  '--and-mark': 1,
  '--or-mark': 1,
  '--xor-mark': 1,
};
/** Targets (extensions, all upper case) admitted with `-j`; any other upper-case name is refused. */
const TARGETS: Readonly<Record<string, OptionTable>> = {
  ACCEPT: {},
  DROP: {},
  RETURN: {},
  REJECT: { '--reject-with': 1 },
  LOG: {
    '--log-level': 1,
    '--log-prefix': 1,
    '--log-tcp-sequence': 0,
    '--log-tcp-options': 0,
    '--log-ip-options': 0,
    '--log-uid': 0,
  },
  MARK: MARK_OPTIONS,
  CONNMARK: {
    ...MARK_OPTIONS,
    '--save-mark': 0,
    '--restore-mark': 0,
    '--nfmask': 1,
    '--ctmask': 1,
    '--mask': 1,
  },
  DSCP: { '--set-dscp': 1, '--set-dscp-class': 1 },
  TCPMSS: { '--set-mss': 1, '--clamp-mss-to-pmtu': 0 },
  CLASSIFY: { '--set-class': 1 },
  NOTRACK: {},
  MASQUERADE: { '--to-ports': 1, '--random': 0, '--random-fully': 0 },
  SNAT: { '--to-source': 1, '--random': 0, '--random-fully': 0, '--persistent': 0 },
  DNAT: { '--to-destination': 1, '--random': 0, '--persistent': 0 },
  REDIRECT: { '--to-ports': 1, '--random': 0 },
};
const PROTOCOL_MATCH: Readonly<Record<string, string>> = {
  tcp: 'tcp',
  '6': 'tcp',
  udp: 'udp',
  '17': 'udp',
  icmp: 'icmp',
  '1': 'icmp',
  icmpv6: 'icmp6',
  'ipv6-icmp': 'icmp6',
  '58': 'icmp6',
};
const TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

type IptCommand = 'A' | 'C' | 'D' | 'I' | 'R' | 'L' | 'S' | 'F' | 'Z' | 'N' | 'X' | 'P' | 'E';
const COMMANDS: Readonly<Record<string, IptCommand>> = {
  '-A': 'A',
  '--append': 'A',
  '-C': 'C',
  '--check': 'C',
  '-D': 'D',
  '--delete': 'D',
  '-I': 'I',
  '--insert': 'I',
  '-R': 'R',
  '--replace': 'R',
  '-L': 'L',
  '--list': 'L',
  '-S': 'S',
  '--list-rules': 'S',
  '-F': 'F',
  '--flush': 'F',
  '-Z': 'Z',
  '--zero': 'Z',
  '-N': 'N',
  '--new-chain': 'N',
  '-X': 'X',
  '--delete-chain': 'X',
  '-P': 'P',
  '--policy': 'P',
  '-E': 'E',
  '--rename-chain': 'E',
};
const RULE_COMMANDS = new Set<IptCommand>(['A', 'C', 'D', 'I', 'R']);
/** Commands AOSP rule 6 lets vendors use on their own chains. */
const VENDOR_CHAIN_COMMANDS = new Set<IptCommand>(['A', 'C', 'D', 'F', 'I', 'N', 'X']);
const VALUE_PARAMETERS: Readonly<Record<string, string>> = {
  '-p': 'protocol',
  '--protocol': 'protocol',
  '-s': 'source',
  '--source': 'source',
  '--src': 'source',
  '-d': 'destination',
  '--destination': 'destination',
  '--dst': 'destination',
};
const INTERFACE_PARAMETERS = new Set(['-i', '--in-interface', '-o', '--out-interface']);
/** Exactly AOSP rule 13's rule specification (mangle PREROUTING, -A or -D). */
const RULE13_SPEC = '-m socket --nowildcard --restore-skmark -j ACCEPT';

interface IptParse {
  table: string;
  command?: IptCommand;
  commandIndex: number;
  chain?: string;
  chainIndex: number;
  hasRuleNumber: boolean;
  vendorInterface: boolean;
  jump?: string;
  ruleSpec: string[];
}

function hardenIptables(
  argv: readonly string[],
  vendor: VendorNames,
): HardeningRefusal | undefined {
  const p: IptParse = {
    table: 'filter',
    commandIndex: -1,
    chainIndex: -1,
    hasRuleNumber: false,
    vendorInterface: false,
    ruleSpec: [],
  };
  /** Option tables of the matches and target loaded so far, newest last. */
  const extensions: OptionTable[] = [];
  let negated = -1;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '!') {
      if (negated !== -1) return refuse('unknown-argument', i, 'two "!" in a row');
      negated = i;
      continue;
    }
    const wasNegated = negated;
    negated = -1;
    const inRule = p.command !== undefined;
    if (arg === '-w' || arg === '--wait' || arg === '-W' || arg === '--wait-interval') {
      if (/^[0-9]+$/.test(argv[i + 1] ?? '')) i += 1;
      else if (arg === '-W' || arg === '--wait-interval')
        return refuse('unknown-argument', i, `${arg} without a number`);
      continue;
    }
    if (arg === '--modprobe' || arg.startsWith('--modprobe=') || arg === '-M')
      return refuse('runs-program-or-reads-file', i, `${arg} runs a program`);
    if (arg === '-t' || arg === '--table') {
      const table = argv[i + 1];
      if (table === undefined || !TABLES.has(table))
        return refuse('unknown-argument', i + 1, `table ${JSON.stringify(table ?? '')}`);
      p.table = table;
      i += 1;
      continue;
    }
    const command = COMMANDS[arg];
    if (command !== undefined) {
      if (p.command !== undefined) return refuse('unknown-argument', i, 'a second command');
      p.command = command;
      p.commandIndex = i;
      // Positional arguments of the command (iptables(8) COMMANDS).
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        p.chain = next;
        p.chainIndex = i + 1;
        i += 1;
        const after = argv[i + 1];
        if (after !== undefined && /^[0-9]+$/.test(after) && 'DIRZ'.includes(command)) {
          p.hasRuleNumber = true;
          i += 1;
        } else if (after !== undefined && !after.startsWith('-') && 'PE'.includes(command)) {
          i += 1;
        }
      }
      continue;
    }
    if (!inRule) return refuse('unknown-argument', i, `${arg} before the command`);
    p.ruleSpec.push(arg);
    if (INTERFACE_PARAMETERS.has(arg)) {
      if (wasNegated !== -1) return refuse('negated-match', wasNegated, `! ${arg}`);
      const bad = interfaceAt(argv, i + 1, vendor, arg);
      if (bad !== undefined) return bad;
      p.vendorInterface = true;
      p.ruleSpec.push(argv[i + 1]!);
      i += 1;
      continue;
    }
    if (arg === '-j' || arg === '--jump' || arg === '-g' || arg === '--goto') {
      if (wasNegated !== -1) return refuse('negated-match', wasNegated, `! ${arg}`);
      const target = argv[i + 1];
      if (target === undefined || target.startsWith('-'))
        return refuse('unknown-argument', i, `${arg} without a target`);
      if (p.jump !== undefined) return refuse('unknown-argument', i, 'a second jump');
      const isExtension = /^[A-Z0-9_]+$/.test(target);
      if (isExtension) {
        const options = TARGETS[target];
        if (options === undefined || arg === '-g' || arg === '--goto')
          return refuse('unknown-argument', i + 1, `target ${target} is not admitted`);
        extensions.push(options);
      }
      p.jump = target;
      p.ruleSpec.push(target);
      i += 1;
      continue;
    }
    if (arg === '-m' || arg === '--match') {
      if (wasNegated !== -1) return refuse('negated-match', wasNegated, `! ${arg}`);
      const name = argv[i + 1] ?? '';
      const options = MATCHES[name];
      if (options === undefined)
        return refuse('unknown-argument', i + 1, `match ${JSON.stringify(name)} is not admitted`);
      extensions.push(options);
      p.ruleSpec.push(name);
      i += 1;
      continue;
    }
    const valueParameter = VALUE_PARAMETERS[arg];
    if (valueParameter !== undefined) {
      const value = argv[i + 1];
      if (value === undefined) return refuse('unknown-argument', i, `${arg} without a value`);
      if (valueParameter === 'protocol') {
        const implied = PROTOCOL_MATCH[value.toLowerCase()];
        if (implied !== undefined) extensions.push(MATCHES[implied]!);
      }
      p.ruleSpec.push(value);
      i += 1;
      continue;
    }
    if (arg === '-f' || arg === '--fragment' || arg === '-v' || arg === '--verbose') continue;
    if (arg === '-n' || arg === '--numeric' || arg === '-x' || arg === '--exact') continue;
    if (arg === '--line-numbers' || arg === '-4' || arg === '--ipv4' || arg === '-6') continue;
    if (arg === '-c' || arg === '--set-counters') {
      if (!/^[0-9]+$/.test(argv[i + 1] ?? '') || !/^[0-9]+$/.test(argv[i + 2] ?? ''))
        return refuse('unknown-argument', i, `${arg} needs two numbers`);
      i += 2;
      continue;
    }
    if (arg.startsWith('--')) {
      const arity = extensions.findLast((table) => Object.hasOwn(table, arg))?.[arg];
      if (arity === undefined)
        return refuse('unknown-argument', i, `${arg} belongs to no admitted match or target`);
      for (let k = 1; k <= arity; k++) {
        const value = argv[i + k];
        if (value === undefined) return refuse('unknown-argument', i, `${arg} without a value`);
        p.ruleSpec.push(value);
      }
      i += arity;
      continue;
    }
    return refuse('unknown-argument', i, `${JSON.stringify(arg)} is not an admitted parameter`);
  }
  if (negated !== -1) return refuse('unknown-argument', negated, '"!" at the end');
  return judgeIptablesShape(p, argv, vendor);
}

function judgeIptablesShape(
  p: IptParse,
  argv: readonly string[],
  vendor: VendorNames,
): HardeningRefusal | undefined {
  const command = p.command;
  if (command === undefined) return refuse('unknown-argument', argv.length - 1, 'no command');
  const chain = p.chain;
  if (chain !== undefined && vendor.isChain(chain)) {
    if (VENDOR_CHAIN_COMMANDS.has(command)) {
      if (!RULE_COMMANDS.has(command) && p.ruleSpec.length > 0)
        return refuse('unknown-argument', p.commandIndex, `-${command} takes no rule`);
      return undefined;
    }
    return refuse('foreign-chain', p.commandIndex, `-${command} is not admitted on a chain`);
  }
  const where = chain === undefined ? 'every chain' : `chain ${JSON.stringify(chain)}`;
  const index = chain === undefined ? p.commandIndex : p.chainIndex;
  if (!RULE_COMMANDS.has(command) || command === 'R')
    return refuse('foreign-chain', p.commandIndex, `-${command} on ${where}`);
  if (chain === undefined) return refuse('unknown-argument', p.commandIndex, 'no chain');
  if (command === 'D' && p.hasRuleNumber)
    return refuse('foreign-chain', index, `-D by rule number on ${where}`);
  if (p.vendorInterface) return undefined;
  if (p.jump !== undefined && vendor.isChain(p.jump)) return undefined;
  if (
    p.table === 'mangle' &&
    chain === 'PREROUTING' &&
    (command === 'A' || command === 'D') &&
    !p.hasRuleNumber &&
    p.ruleSpec.join(' ') === RULE13_SPEC
  )
    return undefined;
  return refuse(
    'foreign-chain',
    index,
    `a rule on ${where} that names no vendor interface and jumps to no vendor chain`,
  );
}

// ---------------------------------------------------------------------------------------------
// ndc (netd's command table: network, ipfwd)

function hardenNdc(argv: readonly string[], vendor: VendorNames): HardeningRefusal | undefined {
  const words = argv.slice(1);
  const [group, verb] = words;
  const extra = (from: number): HardeningRefusal | undefined =>
    argv.length > from ? refuse('unknown-argument', from, 'extra arguments') : undefined;
  if (group === 'network' && (verb === 'create' || verb === 'destroy')) return undefined;
  if (group === 'network' && verb === 'interface') {
    // network interface add|remove <netId> [<iface>]
    if (argv.length <= 5) return undefined;
    return interfaceAt(argv, 5, vendor, 'interface') ?? extra(6);
  }
  if (group === 'network' && verb === 'route') {
    // network route add|remove <netId> <iface> <dst> [<nexthop>|unreachable|throw]
    return interfaceAt(argv, 5, vendor, 'interface') ?? extra(8);
  }
  if (group === 'ipfwd' && (verb === 'enable' || verb === 'disable')) return extra(4);
  if (group === 'ipfwd' && (verb === 'add' || verb === 'remove')) {
    return (
      interfaceAt(argv, 3, vendor, 'input interface') ??
      interfaceAt(argv, 4, vendor, 'output interface') ??
      extra(5)
    );
  }
  return refuse('unknown-argument', 1, `ndc ${words.slice(0, 2).join(' ')}`);
}
