/**
 * Label selectors: the string form users type (`app=web,tier!=db,env in (a,b),!legacy,track`)
 * and the LabelSelector objects in specs (matchLabels + matchExpressions) both
 * become one Selector with `matches(labels)`.
 *
 * Semantics follow `k8s.io/apimachinery/pkg/labels`: `!=` and `notin` also
 * match objects that lack the key; an empty selector matches everything; a
 * missing (null) LabelSelector object matches nothing.
 */

import type { LabelSelector, LabelSelectorRequirement } from './types.ts';
import { isQualifiedName, isValidLabelValue } from './names.ts';

export type SelectorOperator = 'Equals' | 'NotEquals' | 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

export interface Requirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** One value for Equals/NotEquals/Gt/Lt, one or more for In/NotIn, none otherwise. */
  readonly values: readonly string[];
}

export type Labels = Readonly<Record<string, string>>;

export class SelectorParseError extends Error {
  override readonly name = 'SelectorParseError';
  /** Offset in the selector text where the problem was found. */
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.position = position;
  }
}

export class Selector {
  readonly requirements: readonly Requirement[];
  /** True for the selector of a missing LabelSelector: it selects nothing. */
  readonly matchesNothing: boolean;

  constructor(requirements: readonly Requirement[], matchesNothing = false) {
    this.requirements = requirements;
    this.matchesNothing = matchesNothing;
  }

  static everything(): Selector {
    return new Selector([]);
  }

  static nothing(): Selector {
    return new Selector([], true);
  }

  /** True when the selector has no requirements (and so selects everything). */
  isEmpty(): boolean {
    return !this.matchesNothing && this.requirements.length === 0;
  }

  matches(labels: Labels | undefined | null): boolean {
    if (this.matchesNothing) return false;
    const set = labels ?? {};
    return this.requirements.every((r) => requirementMatches(r, set));
  }

  /** The canonical string form, parseable by `parseSelector`. */
  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }
}

function has(labels: Labels, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

function requirementMatches(r: Requirement, labels: Labels): boolean {
  const present = has(labels, r.key);
  const value = present ? labels[r.key]! : undefined;
  switch (r.operator) {
    case 'Equals':
    case 'In':
      return present && r.values.includes(value!);
    case 'NotEquals':
    case 'NotIn':
      return !present || !r.values.includes(value!);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    case 'Gt':
    case 'Lt': {
      if (!present || !/^-?[0-9]+$/.test(value!)) return false;
      const have = BigInt(value!);
      const want = BigInt(r.values[0]!);
      return r.operator === 'Gt' ? have > want : have < want;
    }
  }
}

function requirementString(r: Requirement): string {
  switch (r.operator) {
    case 'Equals':
      return `${r.key}=${r.values[0]}`;
    case 'NotEquals':
      return `${r.key}!=${r.values[0]}`;
    case 'In':
      return `${r.key} in (${r.values.join(',')})`;
    case 'NotIn':
      return `${r.key} notin (${r.values.join(',')})`;
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'Gt':
      return `${r.key}>${r.values[0]}`;
    case 'Lt':
      return `${r.key}<${r.values[0]}`;
  }
}

// ---- the string form ---------------------------------------------------------

type TokenKind =
  | 'identifier' | 'in' | 'notin' | '=' | '==' | '!=' | '!' | '>' | '<' | '(' | ')' | ',' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

const SPECIAL = new Set(['!', '=', '>', '<', '(', ')', ',']);

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === '!' && text[i + 1] === '=') {
      tokens.push({ kind: '!=', text: '!=', pos });
      i += 2;
    } else if (c === '=' && text[i + 1] === '=') {
      tokens.push({ kind: '==', text: '==', pos });
      i += 2;
    } else if (SPECIAL.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, pos });
      i++;
    } else {
      while (i < text.length && !SPECIAL.has(text[i]!) && !/\s/.test(text[i]!)) i++;
      const word = text.slice(pos, i);
      const kind: TokenKind = word === 'in' ? 'in' : word === 'notin' ? 'notin' : 'identifier';
      tokens.push({ kind, text: word, pos });
    }
  }
  tokens.push({ kind: 'end', text: '', pos: text.length });
  return tokens;
}

class SelectorParser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private fail(tok: Token, expected: string): never {
    const found = tok.kind === 'end' ? 'end of selector' : `'${tok.text}'`;
    throw new SelectorParseError(`unable to parse requirement: found ${found} at position ${tok.pos}, expected: ${expected}`, tok.pos);
  }

  parse(): Requirement[] {
    const out: Requirement[] = [];
    if (this.peek().kind === 'end') return out;
    for (;;) {
      out.push(this.requirement());
      const t = this.next();
      if (t.kind === 'end') return out;
      if (t.kind !== ',') this.fail(t, "',' or end of selector");
    }
  }

  private requirement(): Requirement {
    let t = this.next();
    if (t.kind === '!') {
      t = this.next();
      if (t.kind !== 'identifier') this.fail(t, 'a label key after \'!\'');
      return { key: this.key(t), operator: 'DoesNotExist', values: [] };
    }
    if (t.kind !== 'identifier') this.fail(t, 'a label key');
    const key = this.key(t);
    const op = this.peek();
    switch (op.kind) {
      case ',':
      case 'end':
        return { key, operator: 'Exists', values: [] };
      case '=':
      case '==':
      case '!=': {
        this.next();
        const v = this.peek();
        let value = '';
        if (v.kind === 'identifier') {
          this.next();
          value = v.text;
        } else if (v.kind !== ',' && v.kind !== 'end') this.fail(v, 'a label value');
        this.checkValue(value, v.pos);
        return { key, operator: op.kind === '!=' ? 'NotEquals' : 'Equals', values: [value] };
      }
      case 'in':
      case 'notin': {
        this.next();
        const open = this.next();
        if (open.kind !== '(') this.fail(open, "'('");
        if (this.peek().kind === ')') {
          throw new SelectorParseError(`for '${op.kind}' operator, values set can't be empty (at position ${open.pos})`, open.pos);
        }
        const values: string[] = [];
        for (;;) {
          // A value slot: a word, or nothing between separators (the empty value).
          const v = this.peek();
          let value = '';
          if (v.kind === 'identifier') {
            this.next();
            value = v.text;
          } else if (v.kind !== ',' && v.kind !== ')') this.fail(v, 'a label value');
          this.checkValue(value, v.pos);
          values.push(value);
          const sep = this.next();
          if (sep.kind === ')') break;
          if (sep.kind !== ',') this.fail(sep, "',' or ')'");
        }
        return { key, operator: op.kind === 'in' ? 'In' : 'NotIn', values: uniqueSorted(values) };
      }
      case '>':
      case '<': {
        this.next();
        const v = this.next();
        if (v.kind !== 'identifier') this.fail(v, 'an integer');
        if (!/^-?[0-9]+$/.test(v.text)) {
          throw new SelectorParseError(
            `for 'Gt', 'Lt' operators, the value must be an integer: '${v.text}' at position ${v.pos}`,
            v.pos,
          );
        }
        return { key, operator: op.kind === '>' ? 'Gt' : 'Lt', values: [v.text] };
      }
      default:
        return this.fail(op, "'=', '==', '!=', 'in', 'notin', '>', '<', ',' or end of selector");
    }
  }

  private key(t: Token): string {
    const errs = isQualifiedName(t.text);
    if (errs.length) throw new SelectorParseError(`invalid label key "${t.text}" at position ${t.pos}: ${errs.join('; ')}`, t.pos);
    return t.text;
  }

  private checkValue(value: string, pos: number): void {
    const errs = isValidLabelValue(value);
    if (errs.length) throw new SelectorParseError(`invalid label value "${value}" at position ${pos}: ${errs.join('; ')}`, pos);
  }
}

function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort();
}

/**
 * Parses the string form of a label selector. The empty string selects
 * everything. Throws SelectorParseError naming the position of the problem.
 */
export function parseSelector(text: string): Selector {
  return new Selector(new SelectorParser(lex(text)).parse());
}

/** A selector that requires every label of `set` (how Services select Pods). */
export function selectorFromSet(set: Labels | undefined | null): Selector {
  if (!set) return Selector.everything();
  return new Selector(
    Object.keys(set)
      .sort()
      .map((key) => ({ key, operator: 'Equals' as const, values: [set[key]!] })),
  );
}

/**
 * Converts a LabelSelector object. A missing selector (undefined or null)
 * selects nothing; an empty one selects everything. Throws SelectorParseError
 * for an unknown operator or a values list that does not fit it.
 */
export function selectorFromLabelSelector(ls: LabelSelector | undefined | null): Selector {
  if (ls === undefined || ls === null) return Selector.nothing();
  const reqs: Requirement[] = [];
  for (const key of Object.keys(ls.matchLabels ?? {}).sort()) {
    reqs.push({ key, operator: 'Equals', values: [ls.matchLabels![key]!] });
  }
  for (const expr of ls.matchExpressions ?? []) reqs.push(requirementFromExpression(expr));
  return new Selector(reqs);
}

function requirementFromExpression(expr: LabelSelectorRequirement): Requirement {
  const values = expr.values ?? [];
  switch (expr.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) {
        throw new SelectorParseError(`for '${expr.operator}' operator, values set can't be empty (key "${expr.key}")`, 0);
      }
      return { key: expr.key, operator: expr.operator, values: uniqueSorted([...values]) };
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) {
        throw new SelectorParseError(`values set must be empty for exists and does not exist (key "${expr.key}")`, 0);
      }
      return { key: expr.key, operator: expr.operator, values: [] };
    default:
      throw new SelectorParseError(`"${String(expr.operator)}" is not a valid label selector operator`, 0);
  }
}

/** `kubectl describe`'s rendering of a LabelSelector: `app=web,tier in (a,b)`; `<none>` when missing. */
export function formatLabelSelector(ls: LabelSelector | undefined | null): string {
  if (ls === undefined || ls === null) return '<none>';
  try {
    const s = selectorFromLabelSelector(ls).toString();
    return s === '' ? '<none>' : s;
  } catch {
    return '<error>';
  }
}

/** True when every key of `subset` is in `labels` with the same value. */
export function labelsContain(labels: Labels | undefined | null, subset: Labels | undefined | null): boolean {
  return selectorFromSet(subset).matches(labels);
}
