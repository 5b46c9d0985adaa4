/**
 * A small, strict flag parser in the style of kubectl (cobra/pflag):
 *
 *   --name value   --name=value   --bool   --bool=false
 *   -n value       -n=value       -nvalue  -A
 *
 * Flags may come before, between or after positional arguments; `--` ends flags. A flag
 * of kind 'strings' may be given several times and collects every value, in order. A flag
 * with `noValue` (kubectl's NoOptDefVal, e.g. `--dry-run`) takes a value only as
 * `--flag=value`; bare `--flag` means `noValue`. Unknown flags and bad values are errors
 * that name the flag. A lone `-` is a positional argument (stdin).
 */

export class FlagError extends Error {
  override name = 'FlagError';
}

export type FlagKind = 'string' | 'strings' | 'int' | 'bool' | 'duration';

export interface FlagSpec {
  type: FlagKind;
  /** One-letter alias: `n` for `-n`. */
  short?: string;
  /** Value of a bare `--flag` (then a value must be attached with `=`). */
  noValue?: string;
}

export type FlagSpecs = Record<string, FlagKind | FlagSpec>;

export interface ParsedFlags {
  [name: string]: string | number | boolean | string[] | undefined;
  _: string[];
}

function specOf(s: FlagKind | FlagSpec): FlagSpec {
  return typeof s === 'string' ? { type: s } : s;
}

/** Parse `argv` against `spec`; positional arguments land in `_`. */
export function parseFlags(argv: string[], spec: FlagSpecs): ParsedFlags {
  const out: ParsedFlags = { _: [] };
  const shorts = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) {
    const short = specOf(s).short;
    if (short) shorts.set(short, name);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out._.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let attached: string | undefined;
    let display: string;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      attached = eq >= 0 ? arg.slice(eq + 1) : undefined;
      display = `--${name}`;
      if (!spec[name]) throw new FlagError(`unknown flag: --${name}`);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      const letter = arg[1]!;
      const long = shorts.get(letter);
      if (!long) throw new FlagError(`unknown shorthand flag: '${letter}' in ${arg}`);
      name = long;
      display = `-${letter}`;
      const rest = arg.slice(2);
      if (rest === '') attached = undefined;
      else attached = rest.startsWith('=') ? rest.slice(1) : rest;
    } else {
      out._.push(arg);
      continue;
    }
    const s = specOf(spec[name]!);
    if (s.type === 'bool') {
      if (attached === undefined) out[name] = true;
      else if (attached === 'true' || attached === 'false') out[name] = attached === 'true';
      else throw new FlagError(`invalid argument "${attached}" for "${display}" flag: expected true or false`);
      continue;
    }
    let value: string;
    if (attached !== undefined) value = attached;
    else if (s.noValue !== undefined) value = s.noValue;
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new FlagError(`flag needs an argument: ${display}`);
      value = next;
      i++;
    }
    switch (s.type) {
      case 'string':
        out[name] = value;
        break;
      case 'strings': {
        const prev = out[name];
        out[name] = [...(Array.isArray(prev) ? prev : []), value];
        break;
      }
      case 'int': {
        if (!/^-?\d+$/.test(value)) throw new FlagError(`invalid argument "${value}" for "${display}" flag: expected an integer`);
        out[name] = Number(value);
        break;
      }
      case 'duration':
        out[name] = parseDuration(value, display);
        break;
    }
  }
  return out;
}

/** "250ms", "5s", "2m", "1h", "1m30s" or a bare number of milliseconds → milliseconds. */
export function parseDuration(s: string, where: string): number {
  const text = s.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== text.length) throw new FlagError(`${where}: expected a duration like 500ms, 30s or 2m, got "${s}"`);
  return total;
}

/** "1=127.0.0.1:7001,2=127.0.0.1:7002" → Map(1 → "127.0.0.1:7001", ...). */
export function parsePeers(s: string): Map<number, string> {
  const peers = new Map<number, string>();
  for (const part of s.split(',').filter(Boolean)) {
    const m = /^(\d+)=(.+:\d+)$/.exec(part.trim());
    if (!m) throw new FlagError(`--peers: "${part}" is not id=host:port`);
    const id = Number(m[1]);
    if (id <= 0) throw new FlagError(`--peers: id in "${part}" must be positive`);
    if (peers.has(id)) throw new FlagError(`--peers: id ${id} is listed twice`);
    peers.set(id, m[2]!);
  }
  if (peers.size === 0) throw new FlagError('--peers: empty');
  return peers;
}

/** Typed accessors for parsed flags (undefined when absent). */
export function str(f: ParsedFlags, name: string): string | undefined {
  const v = f[name];
  return typeof v === 'string' ? v : undefined;
}

export function int(f: ParsedFlags, name: string): number | undefined {
  const v = f[name];
  return typeof v === 'number' ? v : undefined;
}

export function bool(f: ParsedFlags, name: string): boolean {
  return f[name] === true;
}

export function strs(f: ParsedFlags, name: string): string[] {
  const v = f[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
