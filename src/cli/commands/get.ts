/**
 * `berth get`: objects as kubectl prints them — per-kind tables (`-o wide` for more),
 * `-o yaml|json` (one object, or a List), `-o name` — from one namespace, every
 * namespace (-A), or cluster-scoped kinds; by name, by label and field selector; lists
 * are fetched in chunks of 500 as kubectl does. `-w` keeps printing changes.
 */
import { status } from '@grpc/grpc-js';
import type { KindInfo } from '../../api/index.ts';
import { ApiCallError, type BerthClient, type PlainObject } from '../../client/client.ts';
import { bool, int, parseFlags, str, strs } from '../flags.ts';
import { tableHeaders, tableRow, tableRows } from '../output/columns.ts';
import { CliError, formatError } from '../output/errors.ts';
import { listOf, objectRef, toJson, toYaml } from '../output/format.ts';
import { readFileSync } from 'node:fs';
import {
  customColumnCells,
  JsonPath,
  JsonPathError,
  parseCustomColumns,
  parseCustomColumnsFile,
  sortByField,
  type CustomColumn,
} from '../output/jsonpath.ts';
import { columnWidths, formatRow, renderTable } from '../output/table.ts';
import { connect, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, type Io, type ResourceArg, type Session } from './common.ts';

export const GET_USAGE = `Display one or many objects.

Usage:
  berth get TYPE[,TYPE...] [NAME...] [flags]
  berth get TYPE/NAME [TYPE/NAME...] [flags]

Examples:
  berth get pods                       # pods of the current namespace
  berth get deploy web -o yaml         # one object as YAML
  berth get cm,secrets -A              # two kinds, every namespace
  berth get po -l app=web -o wide      # by label, with more columns

Flags:
  -o, --output FORMAT          wide, yaml, json, name, jsonpath=TEMPLATE, jsonpath-file=FILE,
                               jsonpath-as-json=TEMPLATE, custom-columns=NAME:PATH[,...],
                               custom-columns-file=FILE
  -l, --selector SELECTOR      label selector (e.g. app=web,tier!=db)
      --field-selector SEL     field selector (e.g. status.phase=Running)
  -A, --all-namespaces         every namespace
  -L, --label-columns KEY      a column with each object's value of label KEY (repeatable)
      --show-labels            a LABELS column
      --show-kind              names as TYPE/NAME even for one kind
      --no-headers             no header row
      --sort-by PATH           sort by the value of a field (e.g. .metadata.creationTimestamp)
      --chunk-size N           list in pages of N objects (default 500; 0: one page)
      --ignore-not-found       no error for objects that do not exist
  -w, --watch                  after listing, print every change (one kind only)
      --watch-only             print changes without listing first
${GLOBAL_HELP}`;

const OUTPUTS = ['wide', 'yaml', 'json', 'name'];
const ALL_FORMATS = 'custom-columns,custom-columns-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,wide,yaml';

/** A `-o` printer that needs parsing: a JSONPath template or custom columns. */
export type Printer = { t: 'jsonpath'; path: JsonPath; asJson: boolean } | { t: 'columns'; columns: CustomColumn[] } | undefined;

/** Parses `-o jsonpath=...`, `-o custom-columns=...` and their file forms; undefined for the plain formats. */
export function parsePrinter(output: string): Printer {
  const eq = output.indexOf('=');
  const name = eq < 0 ? output : output.slice(0, eq);
  const arg = eq < 0 ? undefined : output.slice(eq + 1);
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      throw new CliError(`error reading template ${file}: no such file or directory`);
    }
  };
  try {
    switch (name) {
      case 'jsonpath':
      case 'jsonpath-as-json':
      case 'jsonpath-file': {
        if (!arg) throw new CliError('template format specified but no template given');
        const template = name === 'jsonpath-file' ? read(arg) : arg;
        return { t: 'jsonpath', path: new JsonPath(template), asJson: name === 'jsonpath-as-json' };
      }
      case 'custom-columns':
        if (!arg) throw new CliError('custom-columns format specified but no custom columns given');
        return { t: 'columns', columns: parseCustomColumns(arg) };
      case 'custom-columns-file':
        if (!arg) throw new CliError('custom-columns-file format specified but no file given');
        return { t: 'columns', columns: parseCustomColumnsFile(read(arg)) };
    }
  } catch (e) {
    if (e instanceof JsonPathError) throw new CliError(e.message);
    throw e;
  }
  if (output !== '' && !OUTPUTS.includes(output)) {
    throw new CliError(`unable to match a printer suitable for the output format "${output}", allowed formats are: ${ALL_FORMATS}`);
  }
  return undefined;
}

/** The text of a JSONPath printer for a value (as JSON: the results as an indented array). */
function jsonPathText(p: Extract<Printer, { t: 'jsonpath' }>, value: unknown): string {
  if (p.asJson) return `${JSON.stringify(p.path.findResults(value).flat(), null, 4)}\n`;
  return p.path.execute(value);
}

interface Found {
  info: KindInfo;
  objects: PlainObject[];
  resourceVersion: string;
}

export async function runGet(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    output: { type: 'string', short: 'o' },
    selector: { type: 'string', short: 'l' },
    'field-selector': 'string',
    'all-namespaces': { type: 'bool', short: 'A' },
    'label-columns': { type: 'strings', short: 'L' },
    'show-labels': 'bool',
    'show-kind': 'bool',
    'no-headers': 'bool',
    'sort-by': 'string',
    'chunk-size': 'int',
    'ignore-not-found': 'bool',
    watch: { type: 'bool', short: 'w' },
    'watch-only': 'bool',
  });
  if (bool(f, 'help')) {
    io.write(GET_USAGE);
    return 0;
  }
  const output = str(f, 'output') ?? '';
  const printer = parsePrinter(output);
  const sortBy = str(f, 'sort-by') ?? '';
  if (f._.length === 0) {
    throw new CliError(
      'You must specify the type of resource to get. Use "berth api-resources" for a complete list of supported resources.\n\nerror: Required resource not specified.',
    );
  }
  const requests = parseResourceArgs(f._);
  const allNs = bool(f, 'all-namespaces');
  const selector = str(f, 'selector') ?? '';
  const fieldSelector = str(f, 'field-selector') ?? '';
  const named = requests.some((r) => r.name !== undefined);
  if (named && allNs) throw new CliError('a resource cannot be retrieved by name across all namespaces');
  if (named && (selector || fieldSelector)) throw new CliError('selectors cannot be used when passing resource/name arguments');
  const watching = bool(f, 'watch') || bool(f, 'watch-only');
  if (watching && new Set(requests.map((r) => r.info)).size > 1) throw new CliError('you may only specify a single resource type');
  const chunk = int(f, 'chunk-size') ?? 500;
  if (chunk < 0) throw new CliError('--chunk-size: must be >= 0');

  const session = await connect(f, io);
  try {
    const errors: string[] = [];
    const found: Found[] = [];
    const nsOf = (info: KindInfo) => (info.namespaced && !allNs ? session.namespace : '');
    const watchOnly = bool(f, 'watch-only');
    {
      // --watch-only still lists, for the resourceVersion to watch from.
      for (const r of requests) {
        try {
          found.push(await fetch(session.client, r, nsOf(r.info), { selector, fieldSelector, chunk }));
        } catch (e) {
          if (bool(f, 'ignore-not-found') && e instanceof ApiCallError && e.code === status.NOT_FOUND) continue;
          errors.push(formatError(e, { kind: r.info, endpoints: session.client.endpoints }));
          if (e instanceof ApiCallError && e.code === status.UNAVAILABLE) break;
        }
      }
    }
    const singleItem = requests.length === 1 && requests[0]!.name !== undefined;
    const kinds = new Set(requests.map((r) => r.info));
    if (sortBy) {
      try {
        for (const x of found) x.objects = sortByField(x.objects, sortBy);
      } catch (e) {
        if (e instanceof JsonPathError) throw new CliError(e.message);
        throw e;
      }
    }
    const printed = print(io, watchOnly ? [] : found, {
      output,
      printer,
      singleItem,
      hadErrors: errors.length > 0,
      withKind: kinds.size > 1 || bool(f, 'show-kind'),
      allNs,
      showLabels: bool(f, 'show-labels'),
      labelColumns: strs(f, 'label-columns'),
      noHeaders: bool(f, 'no-headers'),
      now: io.now(),
    });
    for (const e of errors) io.error(e);
    if (!printed && errors.length === 0 && !bool(f, 'ignore-not-found') && !watching && (output === '' || output === 'wide' || output === 'name')) {
      const allNamespaced = [...kinds].every((k) => k.namespaced);
      io.error(allNamespaced && !allNs ? `No resources found in ${session.namespace} namespace.\n` : 'No resources found\n');
    }
    if (errors.length > 0) return 1;
    if (watching) {
      const r = requests[0]!;
      const from = found[0]?.resourceVersion ?? '';
      return await watch(session, r, nsOf(r.info), from, {
        output,
        printer,
        selector,
        fieldSelector: r.name !== undefined ? `metadata.name=${r.name}` : fieldSelector,
        allNs,
        showLabels: bool(f, 'show-labels'),
        labelColumns: strs(f, 'label-columns'),
        noHeaders: bool(f, 'no-headers') || printed,
        widthsFrom: watchOnly ? [] : (found[0]?.objects ?? []),
        io,
      });
    }
    return 0;
  } finally {
    session.client.close();
  }
}

async function fetch(
  client: BerthClient,
  r: ResourceArg,
  namespace: string,
  q: { selector: string; fieldSelector: string; chunk: number },
): Promise<Found> {
  if (r.name !== undefined) {
    const o = await client.get(r.info.plural, namespace, r.name);
    return { info: r.info, objects: [o], resourceVersion: String((o.metadata as Record<string, unknown> | undefined)?.resourceVersion ?? '') };
  }
  const objects: PlainObject[] = [];
  let cont = '';
  let resourceVersion = '';
  do {
    const page = await client.list(r.info.plural, {
      namespace,
      labelSelector: q.selector,
      fieldSelector: q.fieldSelector,
      limit: q.chunk,
      continue: cont,
    });
    objects.push(...page.items);
    if (!resourceVersion) resourceVersion = page.resourceVersion;
    cont = page.continue;
  } while (cont);
  return { info: r.info, objects, resourceVersion };
}

interface PrintOptions {
  output: string;
  printer: Printer;
  singleItem: boolean;
  hadErrors: boolean;
  withKind: boolean;
  allNs: boolean;
  showLabels: boolean;
  labelColumns: string[];
  noHeaders: boolean;
  now: number;
}

/** Prints what was found; returns whether anything was printed. */
function print(io: Io, found: Found[], o: PrintOptions): boolean {
  const all = found.flatMap((x) => x.objects);
  if (o.printer?.t === 'jsonpath') {
    if (all.length === 0 && (o.hadErrors || o.singleItem)) return false;
    io.write(jsonPathText(o.printer, o.singleItem && all.length === 1 ? all[0] : listOf(all)));
    return true;
  }
  if (o.printer?.t === 'columns') {
    // As kubectl's custom-columns printer: the header even for an empty list.
    if (all.length === 0 && (o.hadErrors || o.singleItem)) return false;
    const columns = o.printer.columns;
    const rows = all.map((obj) => customColumnCells(columns, obj));
    io.write(renderTable(o.noHeaders ? rows : [columns.map((c) => c.header), ...rows]));
    return true;
  }
  if (o.output === 'json' || o.output === 'yaml') {
    if (all.length === 0 && (o.hadErrors || o.singleItem)) return false;
    const value = o.singleItem && all.length === 1 ? all[0] : listOf(all);
    io.write(o.output === 'json' ? toJson(value) : toYaml(value));
    return true;
  }
  if (o.output === 'name') {
    for (const x of found) for (const obj of x.objects) io.write(`${objectRef(x.info, nameOf(obj))}\n`);
    return all.length > 0;
  }
  // Tables: consecutive results of one kind share a table; tables are separated by a blank line.
  const groups: Found[] = [];
  for (const x of found) {
    if (x.objects.length === 0) continue;
    const last = groups[groups.length - 1];
    if (last && last.info === x.info) last.objects = [...last.objects, ...x.objects];
    else groups.push({ ...x, objects: [...x.objects] });
  }
  groups.forEach((g, i) => {
    if (i > 0) io.write('\n');
    io.write(
      renderTable(
        tableRows(g.info, g.objects, {
          wide: o.output === 'wide',
          now: o.now,
          withNamespace: o.allNs,
          withKind: o.withKind,
          showLabels: o.showLabels,
          labelColumns: o.labelColumns,
          noHeaders: o.noHeaders,
        }),
      ),
    );
  });
  return groups.length > 0;
}

function nameOf(o: PlainObject): string {
  return String((o.metadata as Record<string, unknown> | undefined)?.name ?? '');
}

/** Streams changes until interrupted or the stream ends (an error: exit 1). */
function watch(
  session: Session,
  r: ResourceArg,
  namespace: string,
  resourceVersion: string,
  o: {
    output: string;
    printer: Printer;
    selector: string;
    fieldSelector: string;
    allNs: boolean;
    showLabels: boolean;
    labelColumns: string[];
    noHeaders: boolean;
    widthsFrom: PlainObject[];
    io: Io;
  },
): Promise<number> {
  const { io } = o;
  const opts = { wide: o.output === 'wide', withNamespace: o.allNs, showLabels: o.showLabels, labelColumns: o.labelColumns };
  const columns = o.printer?.t === 'columns' ? o.printer.columns : undefined;
  const rowOf = (x: PlainObject) => (columns ? customColumnCells(columns, x) : tableRow(r.info, x, { ...opts, now: io.now() }));
  const headers = columns ? columns.map((c) => c.header) : tableHeaders(r.info, opts);
  let widths = columnWidths([headers, ...o.widthsFrom.map(rowOf)]);
  let headerDone = o.noHeaders;
  return new Promise((resolve) => {
    const cancel = session.client.watch(
      r.info.plural,
      { namespace, labelSelector: o.selector, fieldSelector: o.fieldSelector, resourceVersion },
      (ev) => {
        if (!ev.object || ev.type === 'BOOKMARK') return;
        if (o.printer?.t === 'jsonpath') io.write(jsonPathText(o.printer, ev.object));
        else if (o.output === 'json') io.write(toJson(ev.object));
        else if (o.output === 'yaml') io.write(`---\n${toYaml(ev.object)}`);
        else if (o.output === 'name') io.write(`${objectRef(r.info, nameOf(ev.object))}\n`);
        else {
          const row = rowOf(ev.object);
          if (!headerDone) {
            widths = columnWidths([headers, row]);
            io.write(`${formatRow(headers, widths)}\n`);
            headerDone = true;
          }
          io.write(`${formatRow(row, widths)}\n`);
        }
      },
      (err) => {
        process.off('SIGINT', stop);
        if (err) {
          io.error(formatError(err, { kind: r.info }));
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
}
