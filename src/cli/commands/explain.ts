/**
 * `berth explain TYPE[.field.path]`: what a kind or one of its fields is, with its
 * fields (`--recursive`: the whole tree of field names and types), as kubectl explain.
 */
import { explain, ExplainError, lookupKind, schemaFor, typeLabel, type FieldSchema } from '../../api/index.ts';
import { bool, parseFlags } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import type { Io } from './common.ts';

export const EXPLAIN_USAGE = `Describe the fields of a kind, or of one field.

Usage:
  berth explain TYPE[.FIELD[.FIELD...]] [--recursive]

Examples:
  berth explain pods
  berth explain deployment.spec.strategy
  berth explain pod.spec.containers --recursive

Flags:
      --recursive              every field below, as a tree of names and types
`;

export async function runExplain(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { recursive: 'bool', 'api-version': 'string', help: { type: 'bool', short: 'h' }, namespace: { type: 'string', short: 'n' }, context: 'string', server: { type: 'string', short: 's' } });
  if (bool(f, 'help')) {
    io.write(EXPLAIN_USAGE);
    return 0;
  }
  if (f._.length === 0) {
    throw new CliError('You must specify the type of resource to explain. Use "berth api-resources" for a complete list of supported resources.');
  }
  if (f._.length > 1) throw new CliError(`We accept only this format: explain RESOURCE`);
  try {
    const text = explain(f._[0]!);
    if (!bool(f, 'recursive')) {
      io.write(text);
      return 0;
    }
    io.write(recursiveText(f._[0]!, text));
    return 0;
  } catch (e) {
    if (e instanceof ExplainError) throw new CliError(e.message);
    throw e;
  }
}

/** The explain text with its FIELDS section replaced by the whole tree below. */
function recursiveText(resource: string, text: string): string {
  const parts = resource.split('.');
  let n = parts.length;
  while (n > 0 && !lookupKind(parts.slice(0, n).join('.'))) n--;
  const info = lookupKind(parts.slice(0, n).join('.'))!;
  let target: FieldSchema | undefined = schemaFor(info.apiVersion, info.kind);
  for (const step of parts.slice(n).filter(Boolean)) target = fieldsOf(target)?.[step];
  const head = text.split('\nFIELDS:\n')[0]!.replace(/\n+$/, '');
  const lines: string[] = [];
  const walk = (s: FieldSchema | undefined, depth: number) => {
    for (const [name, fs] of Object.entries(fieldsOf(s) ?? {})) {
      lines.push(`${'  '.repeat(depth)}${name}\t<${typeLabel(fs)}>${fs.required ? ' -required-' : ''}`);
      walk(fs, depth + 1);
    }
  };
  walk(target, 1);
  return lines.length === 0 ? `${head}\n` : `${head}\n\nFIELDS:\n${lines.join('\n')}\n`;
}

function fieldsOf(s: FieldSchema | undefined): Readonly<Record<string, FieldSchema>> | undefined {
  let cur = s;
  while (cur && (cur.type === 'list' || cur.type === 'map')) cur = cur.type === 'list' ? cur.items : cur.values;
  return cur?.type === 'object' ? cur.fields : undefined;
}
