/**
 * `berth events`: the Events of a namespace (or every namespace, or about one object with
 * --for), oldest first, as kubectl events prints them — LAST SEEN, TYPE, REASON, OBJECT,
 * MESSAGE — and with -w the new ones as they come.
 */
import { kindInfo } from '../../api/index.ts';
import type { PlainObject } from '../../client/client.ts';
import { bool, parseFlags, str, strs } from '../flags.ts';
import { eventInterval, sortEvents } from '../output/describe.ts';
import { CliError, formatError } from '../output/errors.ts';
import { listOf, toJson, toYaml } from '../output/format.ts';
import { columnWidths, formatRow, renderTable } from '../output/table.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, resolveKind, type Io } from './common.ts';
import { rec } from './workloads.ts';

const EVENTS = kindInfo('Event')!;

export const EVENTS_USAGE = `List events, oldest first.

Usage:
  berth events [-n NS | -A] [--for TYPE/NAME] [--types Normal,Warning] [-w] [flags]

Examples:
  berth events                         # the current namespace
  berth events -A --types Warning      # warnings everywhere
  berth events --for deploy/web -w     # about one object, then as they come

Flags:
  -A, --all-namespaces         every namespace
      --for TYPE/NAME          only events about this object
      --types TYPES            only events of these types (Normal, Warning; comma separated)
  -w, --watch                  after listing, print new events as they come
  -o, --output FORMAT          json or yaml
      --no-headers             no header row
${GLOBAL_HELP}`;

const HEADERS = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];

/** One event's row (kubectl events: OBJECT is Kind/name). */
export function eventRow(e: PlainObject, now: number, allNs: boolean): string[] {
  const o = e as Record<string, unknown>;
  const inv = rec(o.involvedObject);
  const row = [eventInterval(o, now), String(o.type ?? ''), String(o.reason ?? ''), `${String(inv.kind ?? '')}/${String(inv.name ?? '')}`, String(o.message ?? '').trim()];
  return allNs ? [String(rec(o.metadata).namespace ?? ''), ...row] : row;
}

export async function runEvents(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    'all-namespaces': { type: 'bool', short: 'A' },
    for: 'string',
    types: { type: 'strings' },
    watch: { type: 'bool', short: 'w' },
    output: { type: 'string', short: 'o' },
    'no-headers': 'bool',
    'chunk-size': 'int',
  });
  if (bool(f, 'help')) {
    io.write(EVENTS_USAGE);
    return 0;
  }
  if (f._.length > 0) throw new CliError(`unexpected argument "${f._[0]}"; use --for TYPE/NAME for the events of one object`);
  const output = str(f, 'output') ?? '';
  if (!['', 'json', 'yaml'].includes(output)) throw new CliError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,yaml`);
  const types = strs(f, 'types').flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const wanted = new Set<string>();
  for (const t of types) {
    const canonical = t.toLowerCase() === 'normal' ? 'Normal' : t.toLowerCase() === 'warning' ? 'Warning' : '';
    if (!canonical) throw new CliError('valid --types are Normal or Warning');
    wanted.add(canonical);
  }
  const allNs = bool(f, 'all-namespaces');
  const fieldParts: string[] = [];
  const forArg = str(f, 'for');
  if (forArg) {
    const slash = forArg.indexOf('/');
    if (slash <= 0 || slash === forArg.length - 1) throw new CliError(`--for must be in resource/name form`);
    const info = resolveKind(forArg.slice(0, slash));
    fieldParts.push(`involvedObject.kind=${info.kind}`, `involvedObject.name=${forArg.slice(slash + 1)}`);
  }
  const fieldSelector = fieldParts.join(',');
  const keep = (e: PlainObject) => wanted.size === 0 || wanted.has(String((e as Record<string, unknown>).type ?? ''));

  const session = await connect(f, io);
  const namespace = allNs ? '' : session.namespace;
  try {
    let items: PlainObject[] = [];
    let resourceVersion = '';
    let cont = '';
    do {
      const page = await session.client.list('events', { namespace, fieldSelector, limit: 500, continue: cont });
      items.push(...page.items);
      if (!resourceVersion) resourceVersion = page.resourceVersion;
      cont = page.continue;
    } while (cont);
    items = sortEvents(items.filter(keep));
    const headers = allNs ? ['NAMESPACE', ...HEADERS] : HEADERS;
    if (output === 'json' || output === 'yaml') {
      const list = listOf(items);
      io.write(output === 'json' ? toJson(list) : toYaml(list));
    } else if (items.length === 0) {
      if (!bool(f, 'watch')) io.error(allNs ? 'No events found.\n' : `No events found in ${session.namespace} namespace.\n`);
    } else {
      const rows = items.map((e) => eventRow(e, io.now(), allNs));
      io.write(renderTable(bool(f, 'no-headers') ? rows : [headers, ...rows]));
    }
    if (!bool(f, 'watch')) return 0;
    let widths = columnWidths([headers, ...items.map((e) => eventRow(e, io.now(), allNs))]);
    let headerDone = items.length > 0 || bool(f, 'no-headers');
    return await new Promise<number>((resolve) => {
      const cancel = session.client.watch(
        'events',
        { namespace, fieldSelector, resourceVersion },
        (ev) => {
          if (!ev.object || (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') || !keep(ev.object)) return;
          if (output === 'json') return io.write(toJson(ev.object));
          if (output === 'yaml') return io.write(`---\n${toYaml(ev.object)}`);
          const row = eventRow(ev.object, io.now(), allNs);
          if (!headerDone) {
            widths = columnWidths([headers, row]);
            io.write(`${formatRow(headers, widths)}\n`);
            headerDone = true;
          }
          io.write(`${formatRow(row, widths)}\n`);
        },
        (err) => {
          process.off('SIGINT', stop);
          if (err) {
            io.error(formatError(err, { kind: EVENTS }));
            resolve(1);
          } else resolve(0);
        },
      );
      const stop = () => {
        cancel();
        resolve(0);
      };
      process.once('SIGINT', stop);
    });
  } finally {
    session.client.close();
  }
}
