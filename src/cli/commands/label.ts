/**
 * `berth label` and `berth annotate`: set (`key=value`) or remove (`key-`) labels or
 * annotations of objects named, selected by label (-l), or all of a type (--all), as
 * kubectl does: an existing key keeps its value unless --overwrite.
 */
import { isQualifiedName, isValidLabelValue, type KindInfo } from '../../api/index.ts';
import type { BerthClient, PlainObject } from '../../client/client.ts';
import { bool, parseFlags, str, type ParsedFlags } from '../flags.ts';
import { CliError, formatError } from '../output/errors.ts';
import { objectRef, toJson, toYaml } from '../output/format.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, parseResourceArgs, type Io } from './common.ts';
import { isConflict, listAll, metaOf, nameOf, rec } from './workloads.ts';

const usage = (verb: 'label' | 'annotate') => {
  const what = verb === 'label' ? 'labels' : 'annotations';
  return `Update the ${what} of objects.

Usage:
  berth ${verb} TYPE NAME KEY=VALUE [KEY=VALUE...] [KEY-...] [flags]
  berth ${verb} TYPE/NAME KEY=VALUE ... [flags]
  berth ${verb} TYPE (-l SELECTOR | --all) KEY=VALUE ... [flags]

KEY=VALUE sets a ${verb === 'label' ? 'label' : 'annotation'}, KEY- removes one. A key that already has another value is
changed only with --overwrite.

Examples:
  berth ${verb} pods web ${verb === 'label' ? 'tier=frontend' : "description='my frontend'"}
  berth ${verb} deploy/web ${verb === 'label' ? 'tier' : 'description'}-
  berth ${verb} pods --all ${verb === 'label' ? 'env=prod' : 'owner=team-a'} --overwrite

Flags:
      --overwrite              replace existing values
  -l, --selector SELECTOR      the objects matching a label selector
      --all                    every object of the type in the namespace
  -A, --all-namespaces         with -l or --all: in every namespace
      --list                   print the ${what} of the objects instead
      --resource-version RV    only update an object still at this version
      --dry-run[=client|server] show what would change
  -o, --output FORMAT          name, yaml or json
${GLOBAL_HELP}`;
};

export const LABEL_USAGE = usage('label');
export const ANNOTATE_USAGE = usage('annotate');

export interface KeyUpdates {
  set: Record<string, string>;
  remove: string[];
}

/** `k=v` and `k-` arguments; labels are validated as the API validates them. */
export function parseKeyUpdates(args: readonly string[], labels: boolean): KeyUpdates {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq >= 0) {
      const key = a.slice(0, eq);
      const value = a.slice(eq + 1);
      const bad = isQualifiedName(key).length > 0 || (labels && isValidLabelValue(value).length > 0);
      if (bad) throw new CliError(`invalid ${labels ? 'label' : 'annotation'} spec: ${a}`);
      set[key] = value;
    } else if (a.endsWith('-')) {
      const key = a.slice(0, -1);
      if (isQualifiedName(key).length > 0) throw new CliError(`invalid ${labels ? 'label' : 'annotation'} spec: ${a}`);
      remove.push(key);
    } else {
      throw new CliError(`invalid ${labels ? 'label' : 'annotation'} spec: ${a}`);
    }
  }
  for (const k of remove) {
    if (k in set) throw new CliError(`can not both modify and remove ${labels ? 'a label' : 'an annotation'} in the same command`);
  }
  return { set, remove };
}

/**
 * The map after the updates. Without overwrite a key holding another value is an error
 * (kubectl's wording for labels and for annotations); `notFound` lists removed keys that
 * were not there.
 */
export function updateMap(current: Record<string, string>, u: KeyUpdates, overwrite: boolean, labels: boolean): { next: Record<string, string>; notFound: string[] } {
  if (!overwrite) {
    const clashes = Object.entries(u.set).filter(([k, v]) => k in current && current[k] !== v);
    if (clashes.length > 0) {
      if (labels) {
        const [k] = clashes[0]!;
        throw new CliError(`'${k}' already has a value (${current[k]}), and --overwrite is false`);
      }
      throw new CliError(
        `--overwrite is false but found the following declared annotation(s): ${clashes.map(([k]) => `'${k}' already has a value (${current[k]})`).join('; ')}`,
      );
    }
  }
  const next = { ...current, ...u.set };
  const notFound: string[] = [];
  for (const k of u.remove) {
    if (!(k in next)) notFound.push(k);
    delete next[k];
  }
  return { next, notFound };
}

export async function runLabel(argv: string[], io: Io, verb: 'label' | 'annotate'): Promise<number> {
  const labels = verb === 'label';
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    overwrite: 'bool',
    selector: { type: 'string', short: 'l' },
    all: 'bool',
    'all-namespaces': { type: 'bool', short: 'A' },
    list: 'bool',
    'resource-version': 'string',
    'dry-run': { type: 'string', noValue: 'client' },
    output: { type: 'string', short: 'o' },
  });
  if (bool(f, 'help')) {
    io.write(labels ? LABEL_USAGE : ANNOTATE_USAGE);
    return 0;
  }
  const isUpdate = (a: string) => a.includes('=') || a.endsWith('-');
  const resourceArgs = f._.filter((a) => !isUpdate(a));
  const updateArgs = f._.filter(isUpdate);
  const listing = bool(f, 'list');
  if (resourceArgs.length === 0) throw new CliError('one or more resources must be specified as <resource> <name> or <resource>/<name>');
  if (updateArgs.length === 0 && !listing) throw new CliError(`at least one ${labels ? 'label' : 'annotation'} update is required`);
  const updates = parseKeyUpdates(updateArgs, labels);
  const output = str(f, 'output') ?? '';
  if (!['', 'name', 'yaml', 'json'].includes(output)) throw new CliError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,yaml`);
  const mode = dryRunMode(f);
  const requests = parseResourceArgs(resourceArgs);
  const selector = str(f, 'selector') ?? '';
  const all = bool(f, 'all');
  const named = requests.some((r) => r.name !== undefined);
  if (named && (selector || all)) throw new CliError('name cannot be provided when a selector is specified');
  if (!named && !selector && !all) throw new CliError('resource(s) were provided, but no name was specified');

  const session = await connect(f, io);
  const { client } = session;
  let failed = false;
  try {
    const targets: { info: KindInfo; namespace: string; name: string }[] = [];
    for (const r of requests) {
      const ns = r.info.namespaced ? (bool(f, 'all-namespaces') && !r.name ? '' : session.namespace) : '';
      if (r.name !== undefined) targets.push({ info: r.info, namespace: ns, name: r.name });
      else {
        const found = await listAll(client, r.info.plural, { namespace: ns, labelSelector: selector });
        for (const o of found) targets.push({ info: r.info, namespace: String(metaOf(o).namespace ?? ''), name: nameOf(o) });
      }
    }
    if (targets.length === 0) io.error(`No resources found in ${session.namespace} namespace.\n`);
    for (const t of targets) {
      try {
        await updateOne(t, f, updates, labels, mode, output, io, client);
      } catch (e) {
        failed = true;
        io.error(formatError(e, { kind: t.info, endpoints: client.endpoints }));
      }
    }
  } finally {
    client.close();
  }
  return failed ? 1 : 0;
}

async function updateOne(
  t: { info: KindInfo; namespace: string; name: string },
  f: ParsedFlags,
  updates: KeyUpdates,
  labels: boolean,
  mode: 'none' | 'client' | 'server',
  output: string,
  io: Io,
  client: BerthClient,
): Promise<void> {
  const field = labels ? 'labels' : 'annotations';
  const wantedVersion = str(f, 'resource-version');
  for (let attempt = 0; ; attempt++) {
    const obj = await client.get(t.info.plural, t.namespace, t.name);
    const current: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec(metaOf(obj)[field]))) current[k] = String(v);
    if (bool(f, 'list')) {
      for (const k of Object.keys(current).sort()) io.write(`${k}=${current[k]}\n`);
      return;
    }
    const { next, notFound } = updateMap(current, updates, bool(f, 'overwrite'), labels);
    if (attempt === 0) for (const k of notFound) io.write(`${labels ? 'label' : 'annotation'} ${JSON.stringify(k)} not found.\n`);
    const changed = JSON.stringify(Object.entries(current).sort()) !== JSON.stringify(Object.entries(next).sort());
    let msg: string;
    if (labels) msg = !changed ? 'not labeled' : !bool(f, 'overwrite') && Object.keys(next).length < Object.keys(current).length ? 'unlabeled' : 'labeled';
    else msg = 'annotated';
    const updated = structuredClone(obj);
    const m = { ...metaOf(updated) };
    if (Object.keys(next).length > 0) m[field] = next;
    else delete m[field];
    if (wantedVersion) m.resourceVersion = wantedVersion;
    updated.metadata = m;
    let result: PlainObject = updated;
    try {
      if (changed && mode !== 'client') result = await client.update(updated, mode === 'server');
    } catch (e) {
      // Without --resource-version a lost race is retried on what is there now.
      if (isConflict(e) && !wantedVersion && attempt < 5) continue;
      throw e;
    }
    if (output === 'json') io.write(toJson(result));
    else if (output === 'yaml') io.write(toYaml(result));
    else if (output === 'name') io.write(`${objectRef(t.info, t.name)}\n`);
    else io.write(`${objectRef(t.info, t.name)} ${msg}${dryRunSuffix(mode)}\n`);
    return;
  }
}
