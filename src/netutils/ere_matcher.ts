/**
 * A small POSIX extended regular expression (ERE) engine for the dialect the netutils
 * allow-list uses (AOSP compiles its rules with `regcomp(REG_EXTENDED)`): literals, `.`, bracket
 * expressions, groups, `|`, `?`, `*`, `+`, `{m}`, `{m,}`, `{m,n}`, `^`, `$` and backslash-escaped
 * punctuation.
 *
 * It exists for two jobs the JavaScript `RegExp` cannot do:
 * 1. validate config-file fragments strictly: only syntax whose meaning is the same in POSIX
 *    ERE (what Android runs) and in JavaScript (what tsnetd runs) is accepted — no `\d`,
 *    no back-references, no `[[:alpha:]]`, no backslash inside brackets, no lookaround;
 * 2. explain a verdict: a Thompson NFA is simulated over the input, so it can tell how long a
 *    prefix of the command is still consistent with a rule and what the rule expected next.
 *
 * Matching is a search (`std::regex_search`): a match may start anywhere unless `^` anchors it.
 * `^` and `$` match only at the ends of the input (no REG_NEWLINE); `.` matches any character,
 * newline included (the POSIX behaviour, the `s` flag in JavaScript).
 */

/** Longest pattern the engine accepts, in characters (an implementation limit). */
export const MAX_ERE_LENGTH = 4096;
/** Largest repetition bound accepted in `{m,n}` (an implementation limit). */
export const MAX_ERE_REPEAT = 255;
/** Most NFA states a compiled pattern may have (an implementation limit). */
export const MAX_ERE_STATES = 65536;

type EreNode =
  | { readonly kind: 'char'; readonly label: string; readonly test: (c: string) => boolean }
  | { readonly kind: 'seq'; readonly items: readonly EreNode[] }
  | { readonly kind: 'alt'; readonly options: readonly EreNode[] }
  | { readonly kind: 'repeat'; readonly node: EreNode; readonly min: number; readonly max: number }
  | { readonly kind: 'bol' }
  | { readonly kind: 'eol' };

type NfaState =
  | { kind: 'char'; label: string; test: (c: string) => boolean; next: number }
  | { kind: 'split'; next: number; alt: number }
  | { kind: 'bol'; next: number }
  | { kind: 'eol'; next: number }
  | { kind: 'match' };

/** Characters that may follow a backslash (they stand for themselves). */
const ESCAPABLE = '.[]()*+?{}|^$\\/-';

/** What {@link EreMatcher.analyze} reports about one input. */
export interface EreAnalysis {
  /** Whether the pattern matches somewhere in the input (search semantics). */
  readonly matched: boolean;
  /**
   * Length of the longest input prefix that an anchored match attempt from offset 0 could
   * still extend into a match. Equal to the input length when the whole input is such a prefix.
   */
  readonly viablePrefixLength: number;
  /** Descriptions of the characters the rule would have accepted at `viablePrefixLength`. */
  readonly expected: readonly string[];
  /** Whether the rule could have ended at `viablePrefixLength` if the input ended there. */
  readonly endExpected: boolean;
  /**
   * Where the anchored attempt came closest to a match: the last input offset at which the
   * fewest further characters would have completed it. Wildcards (`.*`) keep an attempt alive
   * long after it stopped making progress; this offset is where the progress stopped.
   */
  readonly closestOffset: number;
  /** How many more characters the attempt needed at `closestOffset`. */
  readonly closestDistance: number;
  /** The shortest text (as pattern labels, e.g. `oem[0-9]`) that would have completed it there. */
  readonly completion: string;
}

class EreParser {
  readonly #src: string;
  #pos = 0;
  /** Whether `^` or `$` occurred. */
  sawAnchor = false;

  constructor(src: string) {
    this.#src = src;
  }

  parse(): EreNode {
    const node = this.#alternation();
    if (this.#pos < this.#src.length) {
      this.#fail(`unexpected ${JSON.stringify(this.#src[this.#pos])}`);
    }
    return node;
  }

  #fail(reason: string): never {
    throw new SyntaxError(
      `Cannot parse pattern ${JSON.stringify(this.#src)}: ${reason} at offset ${this.#pos}`,
    );
  }

  #alternation(): EreNode {
    const options = [this.#sequence()];
    while (this.#src[this.#pos] === '|') {
      this.#pos++;
      options.push(this.#sequence());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  #sequence(): EreNode {
    const items: EreNode[] = [];
    while (this.#pos < this.#src.length) {
      const c = this.#src[this.#pos];
      if (c === '|' || c === ')') break;
      items.push(this.#piece());
    }
    if (items.length === 0) this.#fail('empty alternative');
    return items.length === 1 ? items[0]! : { kind: 'seq', items };
  }

  #piece(): EreNode {
    let node = this.#atom();
    for (;;) {
      const c = this.#src[this.#pos];
      if (c === '*' || c === '+' || c === '?') {
        if (node.kind === 'bol' || node.kind === 'eol') this.#fail('repeated anchor');
        this.#pos++;
        node = { kind: 'repeat', node, min: c === '+' ? 1 : 0, max: c === '?' ? 1 : Infinity };
      } else if (c === '{') {
        if (node.kind === 'bol' || node.kind === 'eol') this.#fail('repeated anchor');
        node = this.#bounds(node);
      } else {
        return node;
      }
    }
  }

  #bounds(node: EreNode): EreNode {
    const m = /^\{([0-9]+)(,([0-9]*))?\}/.exec(this.#src.slice(this.#pos));
    if (m === null) this.#fail('malformed repetition bound');
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    if (min > MAX_ERE_REPEAT || (max !== Infinity && max > MAX_ERE_REPEAT)) {
      this.#fail(`repetition bound above ${MAX_ERE_REPEAT}`);
    }
    if (max < min) this.#fail('repetition bounds out of order');
    this.#pos += m[0].length;
    return { kind: 'repeat', node, min, max };
  }

  #atom(): EreNode {
    const c = this.#src[this.#pos]!;
    this.#pos++;
    switch (c) {
      case '(': {
        if (this.#src[this.#pos] === '?') this.#fail('"(?" is not POSIX ERE');
        const inner = this.#alternation();
        if (this.#src[this.#pos] !== ')') this.#fail('missing ")"');
        this.#pos++;
        return inner;
      }
      case ')':
        return this.#fail('unmatched ")"');
      case '*':
      case '+':
      case '?':
      case '{':
        return this.#fail(`nothing to repeat before ${JSON.stringify(c)}`);
      case '.':
        return { kind: 'char', label: '.', test: anyChar };
      case '^':
        this.sawAnchor = true;
        return { kind: 'bol' };
      case '$':
        this.sawAnchor = true;
        return { kind: 'eol' };
      case '[':
        return this.#bracket();
      case '\\': {
        const e = this.#src[this.#pos];
        if (e === undefined || !ESCAPABLE.includes(e)) {
          this.#fail(`unsupported escape "\\${e ?? ''}"`);
        }
        this.#pos++;
        return literal(e);
      }
      default:
        return literal(c);
    }
  }

  #bracket(): EreNode {
    const start = this.#pos - 1;
    let negated = false;
    if (this.#src[this.#pos] === '^') {
      negated = true;
      this.#pos++;
    }
    const ranges: Array<readonly [number, number]> = [];
    let first = true;
    for (;;) {
      const c = this.#src[this.#pos];
      if (c === undefined) this.#fail('missing "]"');
      if (c === ']' && !first) break;
      if (c === '\\') this.#fail('backslash inside a bracket expression is not portable');
      if (c === '[' && /^\[[:.=]/.test(this.#src.slice(this.#pos))) {
        this.#fail('character classes and collating elements are not supported');
      }
      first = false;
      this.#pos++;
      const lo = c.charCodeAt(0);
      if (this.#src[this.#pos] === '-' && this.#src[this.#pos + 1] !== ']') {
        const hiChar = this.#src[this.#pos + 1];
        if (hiChar === undefined) this.#fail('missing "]"');
        if (hiChar === '\\') this.#fail('backslash inside a bracket expression is not portable');
        const hi = hiChar.charCodeAt(0);
        if (hi < lo) this.#fail('bracket range out of order');
        ranges.push([lo, hi]);
        this.#pos += 2;
      } else {
        ranges.push([lo, lo]);
      }
    }
    this.#pos++;
    const label = this.#src.slice(start, this.#pos);
    const inSet = (ch: string): boolean => {
      const code = ch.charCodeAt(0);
      for (const [lo, hi] of ranges) if (code >= lo && code <= hi) return true;
      return false;
    };
    return { kind: 'char', label, test: negated ? (ch) => !inSet(ch) : inSet };
  }
}

function anyChar(): boolean {
  return true;
}

function literal(c: string): EreNode {
  return { kind: 'char', label: JSON.stringify(c), test: (ch) => ch === c };
}

/** Thompson construction, continuation style: compile `node` so that it continues at `next`. */
class NfaBuilder {
  readonly states: NfaState[] = [];

  add(state: NfaState): number {
    if (this.states.length >= MAX_ERE_STATES) {
      throw new SyntaxError(`Cannot compile pattern: more than ${MAX_ERE_STATES} states`);
    }
    this.states.push(state);
    return this.states.length - 1;
  }

  compile(node: EreNode, next: number): number {
    switch (node.kind) {
      case 'char':
        return this.add({ kind: 'char', label: node.label, test: node.test, next });
      case 'bol':
        return this.add({ kind: 'bol', next });
      case 'eol':
        return this.add({ kind: 'eol', next });
      case 'seq': {
        let at = next;
        for (let i = node.items.length - 1; i >= 0; i--) at = this.compile(node.items[i]!, at);
        return at;
      }
      case 'alt': {
        let at = this.compile(node.options[node.options.length - 1]!, next);
        for (let i = node.options.length - 2; i >= 0; i--) {
          at = this.add({ kind: 'split', next: this.compile(node.options[i]!, next), alt: at });
        }
        return at;
      }
      case 'repeat': {
        let at = next;
        if (node.max === Infinity) {
          const loop = this.add({ kind: 'split', next: -1, alt: next });
          const body = this.compile(node.node, loop);
          (this.states[loop] as { next: number }).next = body;
          at = loop;
        } else {
          for (let i = node.min; i < node.max; i++) {
            at = this.add({ kind: 'split', next: this.compile(node.node, at), alt: next });
          }
        }
        for (let i = 0; i < node.min; i++) at = this.compile(node.node, at);
        return at;
      }
    }
  }
}

/** Fewest characters from each state to the match state (a fixed point over the NFA). */
function distancesToMatch(states: readonly NfaState[]): number[] {
  const distance = states.map((st) => (st.kind === 'match' ? 0 : Infinity));
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < states.length; i++) {
      const st = states[i]!;
      let d = distance[i]!;
      if (st.kind === 'char') d = Math.min(d, 1 + distance[st.next]!);
      else if (st.kind === 'split') d = Math.min(d, distance[st.next]!, distance[st.alt]!);
      else if (st.kind !== 'match') d = Math.min(d, distance[st.next]!);
      if (d < distance[i]!) {
        distance[i] = d;
        changed = true;
      }
    }
  }
  return distance;
}

/**
 * A compiled ERE (the netutils dialect) with search and prefix analysis.
 *
 * @example
 * ```ts
 * const m = EreMatcher.compile('^/system/bin/ip xfrm .*');
 * m.matches('/system/bin/ip xfrm state'); // true
 * m.analyze('/system/bin/ip link show').viablePrefixLength; // 15 ("/system/bin/ip ")
 * ```
 */
export class EreMatcher {
  /** The pattern source, as given. */
  readonly source: string;
  /** Whether the pattern uses `^` or `$`. */
  readonly hasAnchors: boolean;
  readonly #states: readonly NfaState[];
  readonly #start: number;
  /** Per state: fewest characters still needed to reach the match state. */
  readonly #distance: readonly number[];

  private constructor(
    source: string,
    hasAnchors: boolean,
    states: readonly NfaState[],
    start: number,
  ) {
    this.source = source;
    this.hasAnchors = hasAnchors;
    this.#states = states;
    this.#start = start;
    this.#distance = distancesToMatch(states);
  }

  /**
   * Parses and compiles `pattern`.
   *
   * @param pattern ERE source in the netutils dialect.
   * @returns the compiled matcher.
   * @throws {SyntaxError} when the pattern is not in the dialect or exceeds a limit.
   */
  static compile(pattern: string): EreMatcher {
    if (pattern.length > MAX_ERE_LENGTH) {
      throw new SyntaxError(`Cannot parse pattern: longer than ${MAX_ERE_LENGTH} characters`);
    }
    const parser = new EreParser(pattern);
    const ast = parser.parse();
    const builder = new NfaBuilder();
    const accept = builder.add({ kind: 'match' });
    const start = builder.compile(ast, accept);
    return new EreMatcher(pattern, parser.sawAnchor, builder.states, start);
  }

  /** Whether the pattern matches anywhere in `input` (`std::regex_search`). */
  matches(input: string): boolean {
    return this.analyze(input).matched;
  }

  /** Whether the pattern can match the empty string. */
  matchesEmpty(): boolean {
    return this.matches('');
  }

  /**
   * Runs the NFA over `input` and reports the verdict and how far an anchored attempt from
   * offset 0 stayed alive.
   */
  analyze(input: string): EreAnalysis {
    let matched = false;
    // Search: `active` includes attempts started at every offset; `anchored` only the one from 0.
    let active = new Set<number>();
    let anchored = new Set<number>();
    let viable = 0;
    let lastAnchored = new Set<number>();
    let closestOffset = 0;
    let closestDistance = Infinity;
    let closestSet = new Set<number>();
    for (let pos = 0; pos <= input.length; pos++) {
      this.#close(this.#start, pos, input.length, active);
      if (pos === 0) this.#close(this.#start, 0, input.length, anchored);
      for (const s of active) if (this.#states[s]!.kind === 'match') matched = true;
      if (anchored.size > 0) {
        viable = pos;
        lastAnchored = anchored;
        let d = Infinity;
        for (const s of anchored) d = Math.min(d, this.#distance[s]!);
        if (d <= closestDistance) {
          closestDistance = d;
          closestOffset = pos;
          closestSet = anchored;
        }
      }
      if (pos === input.length) break;
      const c = input[pos]!;
      active = this.#step(active, c, pos + 1, input.length);
      anchored = this.#step(anchored, c, pos + 1, input.length);
    }
    const expected: string[] = [];
    let endExpected = false;
    // Re-close the last live set as if the input ended there, to see whether `$`/match fit.
    const atEnd = new Set<number>();
    for (const s of lastAnchored) this.#close(s, viable, viable, atEnd);
    for (const s of atEnd) if (this.#states[s]!.kind === 'match') endExpected = true;
    for (const s of lastAnchored) {
      const st = this.#states[s]!;
      if (st.kind === 'char' && !expected.includes(st.label)) expected.push(st.label);
    }
    const completion = this.#completion(closestSet);
    return {
      matched,
      viablePrefixLength: viable,
      expected,
      endExpected,
      closestOffset,
      closestDistance,
      completion,
    };
  }

  /** The labels along a shortest path from the best state of `set` to the match state. */
  #completion(set: ReadonlySet<number>): string {
    let best = -1;
    for (const s of set) {
      if (best === -1 || this.#distance[s]! < this.#distance[best]!) best = s;
    }
    if (best === -1 || this.#distance[best] === Infinity) return '';
    let out = '';
    let at = best;
    for (;;) {
      const st = this.#states[at]!;
      if (st.kind === 'match') return out;
      if (st.kind === 'char') {
        out += st.label.startsWith('"') ? (JSON.parse(st.label) as string) : st.label;
        at = st.next;
      } else if (st.kind === 'split') {
        at = this.#distance[st.next]! <= this.#distance[st.alt]! ? st.next : st.alt;
      } else {
        at = st.next;
      }
    }
  }

  #step(set: Set<number>, c: string, pos: number, length: number): Set<number> {
    const out = new Set<number>();
    for (const s of set) {
      const st = this.#states[s]!;
      if (st.kind === 'char' && st.test(c)) this.#close(st.next, pos, length, out);
    }
    return out;
  }

  /** Adds `s` and everything reachable from it without consuming input at offset `pos`. */
  #close(s: number, pos: number, length: number, out: Set<number>): void {
    const stack = [s];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (out.has(i)) continue;
      const st = this.#states[i]!;
      out.add(i);
      if (st.kind === 'split') stack.push(st.alt, st.next);
      else if (st.kind === 'bol' && pos === 0) stack.push(st.next);
      else if (st.kind === 'eol' && pos === length) stack.push(st.next);
    }
  }
}
