/**
 * A small, strict flag parser: `--name value`, `--name=value`, boolean `--name`.
 * Unknown flags and bad values are errors that name the flag.
 */

export class FlagError extends Error {
  override name = 'FlagError';
}

export type FlagKind = 'string' | 'int' | 'bool' | 'duration';

export interface ParsedFlags {
  [name: string]: string | number | boolean | string[] | undefined;
  _: string[];
}

/** Parse `argv` against `spec`; positional arguments land in `_`. */
export function parseFlags(argv: string[], spec: Record<string, FlagKind>): ParsedFlags {
  const out: ParsedFlags = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      if (arg === '--') {
        out._.push(...argv.slice(i + 1));
        break;
      }
      out._.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const kind = spec[name];
    if (!kind) throw new FlagError(`unknown flag --${name}`);
    if (kind === 'bool') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new FlagError(`--${name}: expected true or false, got "${v}"`);
        out[name] = v === 'true';
      } else {
        out[name] = true;
      }
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new FlagError(`--${name}: missing value`);
      value = next;
      i++;
    }
    switch (kind) {
      case 'string':
        out[name] = value;
        break;
      case 'int': {
        if (!/^-?\d+$/.test(value)) throw new FlagError(`--${name}: expected an integer, got "${value}"`);
        out[name] = Number(value);
        break;
      }
      case 'duration':
        out[name] = parseDuration(value, `--${name}`);
        break;
    }
  }
  return out;
}

/** "250ms", "5s", "2m", "1h" or a bare number of milliseconds → milliseconds. */
export function parseDuration(s: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new FlagError(`${where}: expected a duration like 500ms, 30s or 2m, got "${s}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit]!;
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
