/**
 * `berth config ...`: view and edit the client configuration ($BERTH_CONFIG or
 * ~/.berth/config): contexts naming API endpoints, and which one is current.
 */
import {
  configDocument,
  configPath,
  deleteContext,
  loadConfig,
  parseServers,
  saveConfig,
  setContext,
  useContext,
} from '../config.ts';
import { bool, parseFlags, str } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import { renderTable } from '../output/table.ts';
import { stringify } from 'yaml';
import type { Io } from './common.ts';

export const CONFIG_USAGE = `View and edit the client configuration ($BERTH_CONFIG, else ~/.berth/config).

Usage:
  berth config view [-o yaml|json]
  berth config get-contexts [--no-headers]
  berth config current-context
  berth config use-context NAME
  berth config set-context NAME [--server HOST:PORT[,HOST:PORT...]] [--namespace NS]
  berth config set-context --current --namespace NS
  berth config delete-context NAME
`;

export async function runConfig(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    server: { type: 'string', short: 's' },
    namespace: { type: 'string', short: 'n' },
    current: 'bool',
    output: { type: 'string', short: 'o' },
    'no-headers': 'bool',
    help: { type: 'bool', short: 'h' },
  });
  const [sub, ...args] = f._;
  if (bool(f, 'help') || sub === undefined || sub === 'help') {
    io.write(CONFIG_USAGE);
    return sub === undefined && !bool(f, 'help') ? 1 : 0;
  }
  const path = configPath(io.env);
  const cfg = await loadConfig(path);
  const one = (usage: string): string => {
    if (args.length !== 1) throw new CliError(`expected one argument; usage: berth config ${usage}`);
    return args[0]!;
  };
  switch (sub) {
    case 'view': {
      const output = str(f, 'output') ?? 'yaml';
      if (output === 'json') io.write(`${JSON.stringify(configDocument(cfg), null, 2)}\n`);
      else if (output === 'yaml') io.write(stringify(configDocument(cfg), { indentSeq: false, lineWidth: 0 }));
      else throw new CliError(`--output must be 'yaml' or 'json'`);
      return 0;
    }
    case 'get-contexts': {
      const wanted = args.length > 0 ? new Set(args) : undefined;
      const rows = cfg.contexts
        .filter((c) => !wanted || wanted.has(c.name))
        .map((c) => [c.name === cfg.currentContext ? '*' : '', c.name, c.servers.join(','), c.namespace ?? '']);
      for (const name of wanted ?? []) {
        if (!cfg.contexts.some((c) => c.name === name)) throw new CliError(`context ${name} not found`);
      }
      io.write(renderTable(bool(f, 'no-headers') ? rows : [['CURRENT', 'NAME', 'SERVERS', 'NAMESPACE'], ...rows]));
      return 0;
    }
    case 'current-context': {
      if (!cfg.currentContext) throw new CliError('current-context is not set');
      io.write(`${cfg.currentContext}\n`);
      return 0;
    }
    case 'use-context': {
      const name = one('use-context NAME');
      await saveConfig(path, useContext(cfg, name));
      io.write(`Switched to context "${name}".\n`);
      return 0;
    }
    case 'set-context': {
      let name: string;
      if (bool(f, 'current')) {
        if (args.length > 0) throw new CliError('you cannot specify both a context name and --current');
        if (!cfg.currentContext) throw new CliError('no current context is set');
        name = cfg.currentContext;
      } else name = one('set-context NAME [--server ...] [--namespace ...]');
      const server = str(f, 'server');
      const namespace = str(f, 'namespace');
      const { config, created } = setContext(cfg, name, {
        ...(server !== undefined ? { servers: parseServers(server, '--server') } : {}),
        ...(namespace !== undefined ? { namespace } : {}),
      });
      await saveConfig(path, config);
      io.write(`Context "${name}" ${created ? 'created' : 'modified'}.\n`);
      return 0;
    }
    case 'delete-context': {
      const name = one('delete-context NAME');
      await saveConfig(path, deleteContext(cfg, name));
      io.write(`deleted context ${name} from ${path}\n`);
      return 0;
    }
    default:
      throw new CliError(`unknown command "${sub}" for "berth config"\nRun 'berth config --help' for usage.`);
  }
}
