/**
 * `berth api-resources`: the kinds the API serves, as kubectl lists them.
 */
import { KINDS } from '../../api/index.ts';
import { bool, parseFlags, str } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import { renderTable } from '../output/table.ts';
import type { Io } from './common.ts';

export async function runApiResources(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { output: { type: 'string', short: 'o' }, namespaced: 'string', 'no-headers': 'bool', help: { type: 'bool', short: 'h' } });
  if (bool(f, 'help')) {
    io.write('Usage: berth api-resources [-o name] [--namespaced=true|false] [--no-headers]\n');
    return 0;
  }
  const output = str(f, 'output') ?? '';
  if (output !== '' && output !== 'name') throw new CliError(`--output must be 'name'`);
  const ns = str(f, 'namespaced');
  const kinds = KINDS.filter((k) => ns === undefined || String(k.namespaced) === ns);
  if (output === 'name') {
    for (const k of kinds) io.write(`${k.group ? `${k.plural}.${k.group}` : k.plural}\n`);
    return 0;
  }
  const rows = kinds.map((k) => [k.plural, k.shortNames.join(','), k.apiVersion, String(k.namespaced), k.kind]);
  io.write(renderTable(bool(f, 'no-headers') ? rows : [['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND'], ...rows]));
  return 0;
}
