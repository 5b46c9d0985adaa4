/**
 * kubectl's JSONPath templates (`-o jsonpath=...`, custom columns, `--sort-by`): text with
 * actions in braces. An action is a path — `.field`, `..field` (recursive), `.*`, `[n]`,
 * `[start:end:step]` (negative indices count from the end), `[*]`, `['a','b']`,
 * `[?(@.type=="Ready")]` — or a quoted string (`{"\n"}`); `{range PATH}...{end}` repeats
 * its body for every result. An action prints its results separated by spaces; maps and
 * lists print as compact JSON. Missing keys print nothing, as kubectl allows them.
 */

export class JsonPathError extends Error {
  override name = 'JsonPathError';
}

type Value = unknown;

type Step =
  | { t: 'field'; names: string[] }
  | { t: 'wildcard' }
  | { t: 'recursive' }
  | { t: 'index'; specs: IndexSpec[] }
  | { t: 'filter'; left: Step[]; op: string; right: Operand }
  | { t: 'identity' };

type IndexSpec = { all: true } | { all: false; start?: number; end?: number; step?: number; single: boolean };

type Operand = { t: 'path'; steps: Step[] } | { t: 'literal'; value: Value };

/** One piece of an action: a path, or a quoted text. */
type Expr = { t: 'path'; steps: Step[] } | { t: 'text'; text: string };

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; exprs: Expr[] }
  | { t: 'range'; steps: Step[]; body: Node[] };

export class JsonPath {
  private readonly nodes: Node[];

  /** Parses a template; throws JsonPathError (kubectl: `error parsing jsonpath ...`). */
  constructor(readonly template: string) {
    const { nodes, rest } = parseNodes(splitTemplate(template), 0, template);
    if (rest !== undefined) throw new JsonPathError(`error parsing jsonpath ${template}, not in range, nothing to end`);
    this.nodes = nodes;
  }

  /** The template's text for this data. */
  execute(data: Value): string {
    return executeNodes(this.nodes, data);
  }

  /** Every value the template's actions select (text pieces excluded), per action. */
  findResults(data: Value): Value[][] {
    const out: Value[][] = [];
    const walk = (nodes: Node[], cur: Value) => {
      for (const n of nodes) {
        if (n.t === 'action') for (const e of n.exprs) if (e.t === 'path') out.push(evalSteps(e.steps, [cur]));
        if (n.t === 'range') for (const v of evalSteps(n.steps, [cur])) walk(n.body, v);
      }
    };
    walk(this.nodes, data);
    return out;
  }
}

// ---- parsing -----------------------------------------------------------------------------

type Piece = { text: string } | { action: string };

/** The template cut into literal text and the insides of `{...}` actions. */
function splitTemplate(template: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let text = '';
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '{') {
      text += c;
      i++;
      continue;
    }
    if (text) pieces.push({ text });
    text = '';
    let j = i + 1;
    let quote: string | undefined;
    let depth = 0;
    for (; j < template.length; j++) {
      const d = template[j]!;
      if (quote) {
        if (d === '\\') j++;
        else if (d === quote) quote = undefined;
        continue;
      }
      if (d === '"' || d === "'") quote = d;
      else if (d === '[' || d === '(') depth++;
      else if (d === ']' || d === ')') depth--;
      else if (d === '}' && depth <= 0) break;
    }
    if (j >= template.length) throw new JsonPathError(`error parsing jsonpath ${template}, unclosed action`);
    pieces.push({ action: template.slice(i + 1, j) });
    i = j + 1;
  }
  if (text) pieces.push({ text });
  return pieces;
}

function parseNodes(pieces: Piece[], from: number, template: string): { nodes: Node[]; next: number; rest?: 'end' } {
  const nodes: Node[] = [];
  let i = from;
  while (i < pieces.length) {
    const p = pieces[i]!;
    if ('text' in p) {
      nodes.push({ t: 'text', text: p.text });
      i++;
      continue;
    }
    const inside = p.action.trim();
    // `end` closes the innermost range (outside one, the caller reports it).
    if (inside === 'end') return { nodes, next: i + 1, rest: 'end' };
    if (/^range\s/.test(inside)) {
      const steps = parsePath(inside.slice(5).trim(), template);
      const inner = parseNodes(pieces, i + 1, template);
      if (inner.rest !== 'end') throw new JsonPathError(`error parsing jsonpath ${template}, unclosed range`);
      nodes.push({ t: 'range', steps, body: inner.nodes });
      i = inner.next;
      continue;
    }
    nodes.push({ t: 'action', exprs: parseAction(inside, template) });
    i++;
  }
  return { nodes, next: i };
}

/** An action's pieces: quoted texts and paths, side by side. */
function parseAction(s: string, template: string): Expr[] {
  const exprs: Expr[] = [];
  let i = 0;
  while (i < s.length) {
    if (/\s/.test(s[i]!)) {
      i++;
      continue;
    }
    if (s[i] === '"') {
      const end = closingQuote(s, i);
      if (end < 0) throw new JsonPathError(`error parsing jsonpath ${template}, unterminated quoted string`);
      exprs.push({ t: 'text', text: unquote(s.slice(i, end + 1), template) });
      i = end + 1;
      continue;
    }
    let j = i;
    let depth = 0;
    let quote: string | undefined;
    for (; j < s.length; j++) {
      const c = s[j]!;
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = undefined;
        continue;
      }
      if (c === "'" || (c === '"' && depth > 0)) quote = c;
      else if (c === '[' || c === '(') depth++;
      else if (c === ']' || c === ')') depth--;
      else if (depth === 0 && (c === '"' || /\s/.test(c))) break;
    }
    exprs.push({ t: 'path', steps: parsePath(s.slice(i, j), template) });
    i = j;
  }
  return exprs;
}

function closingQuote(s: string, from: number): number {
  const q = s[from]!;
  for (let i = from + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === q) return i;
  }
  return -1;
}

function unquote(quoted: string, template: string): string {
  if (quoted.startsWith("'")) return quoted.slice(1, -1).replace(/\\(.)/g, '$1');
  try {
    return JSON.parse(quoted) as string;
  } catch {
    throw new JsonPathError(`error parsing jsonpath ${template}, invalid quoted string ${quoted}`);
  }
}

/** `$.a.b[0]..c[*]['d']` → steps. */
function parsePath(s: string, template: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonPathError(`error parsing jsonpath ${template}, ${what}`);
  };
  if (s[0] === '$' || s[0] === '@') i = 1;
  // A bare name (`metadata.name`) reads as `.metadata.name`.
  if (i < s.length && /[A-Za-z_]/.test(s[i]!)) s = `${s.slice(0, i)}.${s.slice(i)}`;
  if (i >= s.length) steps.push({ t: 'identity' });
  while (i < s.length) {
    const c = s[i]!;
    if (c === '.') {
      if (s[i + 1] === '.') {
        steps.push({ t: 'recursive' });
        i += 2;
        if (s[i] === '[') continue;
      } else {
        i++;
      }
      let name = '';
      while (i < s.length && s[i] !== '.' && s[i] !== '[') {
        if (s[i] === '\\' && i + 1 < s.length) {
          name += s[i + 1];
          i += 2;
        } else {
          name += s[i];
          i++;
        }
      }
      if (name === '*') steps.push({ t: 'wildcard' });
      else if (name === '') {
        if (i >= s.length && steps.length === 0) steps.push({ t: 'identity' });
        else if (i < s.length) fail(`invalid path near "${s.slice(i)}"`);
      } else steps.push({ t: 'field', names: [name] });
      continue;
    }
    if (c === '[') {
      const end = matchingBracket(s, i);
      if (end < 0) fail('unterminated array');
      steps.push(parseBracket(s.slice(i + 1, end).trim(), template));
      i = end + 1;
      continue;
    }
    if (c === '*') {
      steps.push({ t: 'wildcard' });
      i++;
      continue;
    }
    fail(`unrecognized character in action: ${JSON.stringify(c)}`);
  }
  return steps;
}

function matchingBracket(s: string, from: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return i;
  }
  return -1;
}

function parseBracket(inner: string, template: string): Step {
  const fail = (): never => {
    throw new JsonPathError(`error parsing jsonpath ${template}, invalid array index ${inner}`);
  };
  if (inner.startsWith('?')) {
    const m = /^\?\s*\((.*)\)$/s.exec(inner);
    if (!m) throw new JsonPathError(`error parsing jsonpath ${template}, invalid filter ${inner}`);
    return parseFilter(m[1]!.trim(), template);
  }
  if (inner === '*') return { t: 'wildcard' };
  const parts = splitTop(inner, ',');
  if (parts.every((p) => /^['"]/.test(p.trim()))) {
    return { t: 'field', names: parts.map((p) => unquote(p.trim(), template)) };
  }
  const specs: IndexSpec[] = parts.map((p) => {
    const text = p.trim();
    if (text === '*') return { all: true };
    const nums = text.split(':');
    if (nums.length > 3) fail();
    const parsed = nums.map((x) => {
      const t = x.trim();
      if (t === '') return undefined;
      if (!/^-?\d+$/.test(t)) fail();
      return Number(t);
    });
    if (nums.length === 1) {
      if (parsed[0] === undefined) fail();
      return { all: false, start: parsed[0], single: true };
    }
    return { all: false, ...(parsed[0] !== undefined ? { start: parsed[0] } : {}), ...(parsed[1] !== undefined ? { end: parsed[1] } : {}), ...(parsed[2] !== undefined ? { step: parsed[2] } : {}), single: false };
  });
  return { t: 'index', specs };
}

function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let quote: string | undefined;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const OPS = ['==', '!=', '<=', '>=', '<', '>', '=~'];

function parseFilter(expr: string, template: string): Step {
  // Find the operator outside quotes.
  let quote: string | undefined;
  let at = -1;
  let op = '';
  for (let i = 0; i < expr.length && at < 0; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    for (const o of OPS) {
      if (expr.startsWith(o, i)) {
        at = i;
        op = o;
        break;
      }
    }
  }
  const operand = (text: string): Operand => {
    const t = text.trim();
    if (t.startsWith('@') || t.startsWith('$') || t.startsWith('.')) return { t: 'path', steps: parsePath(t, template) };
    if (/^['"]/.test(t)) return { t: 'literal', value: unquote(t, template) };
    if (t === 'true' || t === 'false') return { t: 'literal', value: t === 'true' };
    if (t !== '' && !Number.isNaN(Number(t))) return { t: 'literal', value: Number(t) };
    throw new JsonPathError(`error parsing jsonpath ${template}, unrecognized filter operand ${t}`);
  };
  if (at < 0) {
    const left = operand(expr);
    if (left.t !== 'path') throw new JsonPathError(`error parsing jsonpath ${template}, invalid filter ${expr}`);
    return { t: 'filter', left: left.steps, op: 'exists', right: { t: 'literal', value: true } };
  }
  const left = operand(expr.slice(0, at));
  if (left.t !== 'path') throw new JsonPathError(`error parsing jsonpath ${template}, the left side of a filter must be a path`);
  return { t: 'filter', left: left.steps, op, right: operand(expr.slice(at + op.length)) };
}

// ---- evaluation --------------------------------------------------------------------------

function isObject(v: Value): v is Record<string, Value> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function evalSteps(steps: Step[], input: Value[]): Value[] {
  let cur = input;
  for (const step of steps) cur = evalStep(step, cur);
  return cur;
}

function evalStep(step: Step, input: Value[]): Value[] {
  const out: Value[] = [];
  switch (step.t) {
    case 'identity':
      return input;
    case 'field':
      for (const v of input) {
        if (!isObject(v)) continue;
        for (const name of step.names) if (name in v && v[name] !== undefined) out.push(v[name]);
      }
      return out;
    case 'wildcard':
      for (const v of input) {
        if (Array.isArray(v)) out.push(...v);
        else if (isObject(v)) for (const k of Object.keys(v).sort()) out.push(v[k]);
      }
      return out;
    case 'recursive': {
      const walk = (v: Value) => {
        out.push(v);
        if (Array.isArray(v)) v.forEach(walk);
        else if (isObject(v)) for (const k of Object.keys(v).sort()) walk(v[k]);
      };
      input.forEach(walk);
      return out;
    }
    case 'index':
      for (const v of input) {
        if (!Array.isArray(v)) continue;
        for (const spec of step.specs) out.push(...indexArray(v, spec));
      }
      return out;
    case 'filter':
      for (const v of input) {
        const items = Array.isArray(v) ? v : [v];
        for (const item of items) if (filterMatches(step, item)) out.push(item);
      }
      return out;
  }
}

function indexArray(a: Value[], spec: IndexSpec): Value[] {
  if (spec.all) return a;
  const len = a.length;
  const norm = (n: number) => (n < 0 ? n + len : n);
  if (spec.single) {
    const i = norm(spec.start!);
    return i >= 0 && i < len ? [a[i]] : [];
  }
  const step = spec.step ?? 1;
  if (step === 0) return [];
  const clamp = (n: number) => Math.max(0, Math.min(len, n));
  const start = clamp(spec.start === undefined ? 0 : norm(spec.start));
  const end = clamp(spec.end === undefined ? len : norm(spec.end));
  const out: Value[] = [];
  if (step > 0) for (let i = start; i < end; i += step) out.push(a[i]);
  else for (let i = end - 1; i >= start; i += step) out.push(a[i]);
  return out;
}

function filterMatches(f: Extract<Step, { t: 'filter' }>, item: Value): boolean {
  const lefts = evalSteps(f.left, [item]);
  if (f.op === 'exists') return lefts.length > 0 && lefts[0] !== null && lefts[0] !== false;
  const rights = f.right.t === 'literal' ? [f.right.value] : evalSteps(f.right.steps, [item]);
  if (lefts.length === 0 || rights.length === 0) return false;
  const l = lefts[0];
  const r = rights[0];
  switch (f.op) {
    case '==':
      return looseEqual(l, r);
    case '!=':
      return !looseEqual(l, r);
    case '=~':
      try {
        return new RegExp(String(r)).test(String(l));
      } catch {
        return false;
      }
    default: {
      const ln = typeof l === 'number' ? l : Number(l);
      const rn = typeof r === 'number' ? r : Number(r);
      const numeric = !Number.isNaN(ln) && !Number.isNaN(rn) && (typeof l === 'number' || typeof r === 'number');
      const a = numeric ? ln : String(l);
      const b = numeric ? rn : String(r);
      if (f.op === '<') return a < b;
      if (f.op === '>') return a > b;
      if (f.op === '<=') return a <= b;
      return a >= b;
    }
  }
}

function looseEqual(a: Value, b: Value): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Number(a) === Number(b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return String(a) === String(b);
  return typeof a === typeof b ? JSON.stringify(a) === JSON.stringify(b) : false;
}

function executeNodes(nodes: Node[], data: Value): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.text;
    else if (n.t === 'action') {
      for (const e of n.exprs) out += e.t === 'text' ? e.text : evalSteps(e.steps, [data]).map(valueText).join(' ');
    } else {
      for (const v of evalSteps(n.steps, [data])) out += executeNodes(n.body, v);
    }
  }
  return out;
}

/** Compact JSON with sorted keys, as Go marshals maps. */
export function compactJson(v: Value): string {
  return JSON.stringify(sortedCopy(v));
}

function sortedCopy(v: Value): Value {
  if (Array.isArray(v)) return v.map(sortedCopy);
  if (isObject(v)) {
    const o: Record<string, Value> = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortedCopy(v[k]);
    return o;
  }
  return v;
}

/** How a jsonpath action prints one value. */
export function valueText(v: Value): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return compactJson(v);
  return String(v);
}

/** Go's `%v` of an unstructured value: `map[a:1 b:2]`, `[x y]`, `<nil>`. */
export function goValue(v: Value): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (isObject(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goValue(v[k])}`).join(' ')}]`;
  return String(v);
}

/**
 * `.metadata.name`, `metadata.name`, `{.metadata.name}` → `{.metadata.name}` (kubectl's
 * relaxed field paths of custom columns and --sort-by).
 */
export function relaxedJsonPath(expr: string): string {
  if (expr === '') return expr;
  const m = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(expr);
  if (!m) throw new JsonPathError("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'");
  return `{.${m[1] ?? m[2]}}`;
}

// ---- custom columns ----------------------------------------------------------------------

export interface CustomColumn {
  header: string;
  path: JsonPath;
}

/** `NAME:.metadata.name,IMAGE:.spec.containers[*].image` → columns. */
export function parseCustomColumns(spec: string): CustomColumn[] {
  if (spec.trim() === '') throw new JsonPathError('custom-columns format specified but no custom columns given');
  return spec.split(',').map((part) => {
    const colon = part.indexOf(':');
    if (colon < 0) throw new JsonPathError(`unexpected custom-columns spec: ${part}, expected <header>:<json-path-expr>`);
    return { header: part.slice(0, colon), path: new JsonPath(relaxedJsonPath(part.slice(colon + 1))) };
  });
}

/** A custom-columns file: a line of headers, then a line of paths, whitespace separated. */
export function parseCustomColumnsFile(text: string): CustomColumn[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length !== 2) throw new JsonPathError(`unexpected custom-columns template: expected two lines, got ${lines.length}`);
  const headers = lines[0]!.split(/\s+/);
  const paths = lines[1]!.split(/\s+/);
  if (headers.length !== paths.length) {
    throw new JsonPathError(`number of headers (${headers.length}) does not match the number of paths (${paths.length})`);
  }
  return headers.map((header, i) => ({ header, path: new JsonPath(relaxedJsonPath(paths[i]!)) }));
}

/** One object's cells: values joined with commas, `<none>` when the path finds nothing. */
export function customColumnCells(columns: readonly CustomColumn[], obj: Value): string[] {
  return columns.map((c) => {
    const values = c.path.findResults(obj).flat();
    return values.length === 0 ? '<none>' : values.map(goValue).join(',');
  });
}

// ---- sorting -----------------------------------------------------------------------------

/** Natural order: digit runs compare as numbers (`pod-9` < `pod-10`). */
export function naturalLess(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a[i]!;
    const cb = b[j]!;
    const da = ca >= '0' && ca <= '9';
    const db = cb >= '0' && cb <= '9';
    if (da && db) {
      let ei = i;
      while (ei < a.length && a[ei]! >= '0' && a[ei]! <= '9') ei++;
      let ej = j;
      while (ej < b.length && b[ej]! >= '0' && b[ej]! <= '9') ej++;
      const na = a.slice(i, ei).replace(/^0+/, '');
      const nb = b.slice(j, ej).replace(/^0+/, '');
      if (na.length !== nb.length) return na.length < nb.length;
      if (na !== nb) return na < nb;
      if (ei - i !== ej - j) return ei - i < ej - j;
      i = ei;
      j = ej;
      continue;
    }
    if (ca !== cb) return ca < cb;
    i++;
    j++;
  }
  return a.length - i < b.length - j;
}

function compareValues(a: Value, b: Value): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = typeof a === 'object' ? compactJson(a) : String(a);
  const sb = typeof b === 'object' ? compactJson(b) : String(b);
  if (sa === sb) return 0;
  return naturalLess(sa, sb) ? -1 : 1;
}

/**
 * Objects sorted by the value a field path selects (`--sort-by`), stably; objects without
 * the field come first. Throws when no object has the field.
 */
export function sortByField<T>(objects: readonly T[], fieldSpec: string): T[] {
  const expr = relaxedJsonPath(fieldSpec);
  const path = new JsonPath(expr);
  const keyed = objects.map((o, i) => ({ o, i, v: path.findResults(o).flat()[0] }));
  if (objects.length > 0 && keyed.every((k) => k.v === undefined)) {
    throw new JsonPathError(`couldn't find any field with path "${expr}" in the list of objects`);
  }
  keyed.sort((x, y) => compareValues(x.v, y.v) || x.i - y.i);
  return keyed.map((k) => k.o);
}
