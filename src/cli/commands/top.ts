/**
 * `berth top nodes|pods`: CPU and memory use as the agents last reported it to the
 * leader, in kubectl's columns (`250m`, `64Mi`, percentages of allocatable).
 */
import type { UsageOut } from '../../client/client.ts';
import { bool, parseFlags, str } from '../flags.ts';
import { CliError } from '../output/errors.ts';
import { renderTable } from '../output/table.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, type Io } from './common.ts';

export const TOP_USAGE = `Display CPU and memory use of nodes or pods.

Usage:
  berth top nodes [NAME] [flags]
  berth top pods [NAME] [flags]

Examples:
  berth top nodes                  # every node, with percentages of allocatable
  berth top pods -A                # pods of every namespace
  berth top pods -l app=web --containers

Flags:
  -l, --selector SELECTOR   label selector (e.g. app=web)
  -A, --all-namespaces      pods of every namespace
      --containers          pods: one row per container
      --sort-by cpu|memory  largest first
      --no-headers          no header row
${GLOBAL_HELP}`;

/** kubectl's CPU column: millicores. */
export function formatCpu(milli: number): string {
  return `${Math.round(milli)}m`;
}

/** kubectl's memory column: mebibytes. */
export function formatMemory(bytes: number): string {
  return `${Math.floor(bytes / (1024 * 1024))}Mi`;
}

function percent(used: number, of: number): string {
  return of > 0 ? `${Math.floor((used * 100) / of)}%` : '<unknown>';
}

export function nodesTable(items: readonly UsageOut[], headers = true): string {
  const rows = items.map((u) => [u.name, formatCpu(u.cpuMillicores), percent(u.cpuMillicores, u.cpuAllocatableMillicores), formatMemory(u.memoryBytes), percent(u.memoryBytes, u.memoryAllocatableBytes)]);
  return renderTable(headers ? [['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%'], ...rows] : rows);
}

export function podsTable(items: readonly UsageOut[], opts: { allNamespaces?: boolean; containers?: boolean; headers?: boolean } = {}): string {
  const ns = opts.allNamespaces ? ['NAMESPACE'] : [];
  const rows: string[][] = [];
  for (const u of items) {
    const lead = opts.allNamespaces ? [u.namespace] : [];
    if (opts.containers) {
      for (const c of u.containers) rows.push([...lead, u.name, c.name, formatCpu(c.cpuMillicores), formatMemory(c.memoryBytes)]);
    } else {
      rows.push([...lead, u.name, formatCpu(u.cpuMillicores), formatMemory(u.memoryBytes)]);
    }
  }
  const header = opts.containers ? [...ns, 'POD', 'NAME', 'CPU(cores)', 'MEMORY(bytes)'] : [...ns, 'NAME', 'CPU(cores)', 'MEMORY(bytes)'];
  return renderTable(opts.headers === false ? rows : [header, ...rows]);
}

export async function runTop(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    selector: { type: 'string', short: 'l' },
    'all-namespaces': { type: 'bool', short: 'A' },
    containers: 'bool',
    'sort-by': 'string',
    'no-headers': 'bool',
  });
  if (bool(f, 'help')) {
    io.write(TOP_USAGE);
    return 0;
  }
  const what = (f._[0] ?? '').toLowerCase();
  const nodes = ['nodes', 'node', 'no'].includes(what);
  if (!nodes && !['pods', 'pod', 'po'].includes(what)) throw new CliError('berth top: expected "nodes" or "pods", e.g. berth top pods -A');
  if (f._.length > 2) throw new CliError(`unexpected arguments: ${f._.slice(2).join(' ')}`);
  const name = f._[1];
  const sortBy = str(f, 'sort-by');
  if (sortBy !== undefined && sortBy !== 'cpu' && sortBy !== 'memory') throw new CliError(`--sort-by: expected cpu or memory, got "${sortBy}"`);
  const allNs = bool(f, 'all-namespaces');
  const session = await connect(f, io);
  try {
    let items = await session.client.top(nodes ? 'nodes' : 'pods', {
      namespace: session.namespace,
      allNamespaces: allNs && !nodes,
      labelSelector: str(f, 'selector') ?? '',
    });
    if (name) items = items.filter((u) => u.name === name);
    if (sortBy === 'cpu') items = [...items].sort((a, b) => b.cpuMillicores - a.cpuMillicores);
    else if (sortBy === 'memory') items = [...items].sort((a, b) => b.memoryBytes - a.memoryBytes);
    if (items.length === 0) {
      if (name) throw new CliError(nodes ? `metrics not available for node ${name}` : `metrics not available for pod ${session.namespace}/${name}`);
      if (nodes) throw new CliError('metrics not available yet');
      io.error(allNs ? 'No resources found\n' : `No resources found in ${session.namespace} namespace.\n`);
      return 0;
    }
    const headers = !bool(f, 'no-headers');
    io.write(nodes ? nodesTable(items, headers) : podsTable(items, { allNamespaces: allNs, containers: bool(f, 'containers'), headers }));
    return 0;
  } finally {
    session.client.close();
  }
}
