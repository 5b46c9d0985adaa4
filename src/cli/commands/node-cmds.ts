/**
 * Node maintenance, as kubectl does it: `cordon` / `uncordon` (spec.unschedulable),
 * `drain` (cordon, then evict every pod the node runs — deleted with its grace period —
 * and wait until they are gone), and `taint` (add, overwrite or remove spec.taints).
 */
import type { KindInfo } from '../../api/index.ts';
import { kindInfo } from '../../api/index.ts';
import type { BerthClient, PlainObject } from '../../client/client.ts';
import { bool, int, parseFlags, str, type ParsedFlags } from '../flags.ts';
import { taintString } from '../output/describe.ts';
import { CliError, formatError } from '../output/errors.ts';
import { waitForDeletion } from '../output/progress.ts';
import { connect, dryRunMode, dryRunSuffix, GLOBAL_FLAGS, GLOBAL_HELP, resolveKind, type Io } from './common.ts';
import { controllerOf, isConflict, isNotFound, listAll, metaOf, nameOf, namespaceOf, rec } from './workloads.ts';

const NODES = kindInfo('Node')!;
const PODS = kindInfo('Pod')!;

export const CORDON_USAGE = `Mark nodes as unschedulable (cordon) or schedulable again (uncordon).

Usage:
  berth cordon NODE [NODE...] [--dry-run] | -l SELECTOR
  berth uncordon NODE [NODE...] [--dry-run] | -l SELECTOR
${GLOBAL_HELP}`;

export const DRAIN_USAGE = `Drain nodes in preparation for maintenance: cordon them, then evict their pods.

Usage:
  berth drain NODE [flags]

Pods not managed by a controller need --force (they are not recreated elsewhere); pods
with emptyDir volumes need --delete-emptydir-data (the data is lost); DaemonSet pods
need --ignore-daemonsets (they are left on the node). Finished pods are always removed.

Flags:
      --force                  also delete pods that declare no controller
      --ignore-daemonsets      leave DaemonSet-managed pods on the node
      --delete-emptydir-data   also delete pods with emptyDir volumes
      --grace-period N         seconds each pod gets to stop (default: the pod's own)
      --timeout DURATION       give up after this long (default: never)
      --pod-selector SELECTOR  only evict pods matching this label selector
  -l, --selector SELECTOR      drain the nodes matching this label selector
      --dry-run[=client]       show what would be evicted
${GLOBAL_HELP}`;

export const TAINT_USAGE = `Update the taints on one or more nodes.

Usage:
  berth taint NODE KEY[=VALUE]:EFFECT [KEY[=VALUE]:EFFECT...] [--overwrite]
  berth taint NODE KEY[:EFFECT]- ...          remove a taint (all effects without :EFFECT)
  berth taint nodes NODE ... | berth taint node/NODE ... | berth taint nodes --all ...

EFFECT is NoSchedule, PreferNoSchedule or NoExecute.

Examples:
  berth taint node-1 dedicated=gpu:NoSchedule
  berth taint node-1 dedicated:NoSchedule-
  berth taint node-1 dedicated-

Flags:
      --overwrite              replace a taint with the same key and effect
      --all                    every node
  -l, --selector SELECTOR      the nodes matching a label selector
${GLOBAL_HELP}`;

/** Node names from arguments (`NAME`, `node/NAME`, `nodes NAME...`) or a selector. */
async function nodeTargets(client: BerthClient, args: string[], f: ParsedFlags, allowAll: boolean): Promise<string[]> {
  const selector = str(f, 'selector') ?? '';
  let names = [...args];
  if (names.length > 0 && !names[0]!.includes('/') && resolveKindOrUndefined(names[0]!) === NODES) names = names.slice(1);
  names = names.map((a) => {
    const slash = a.indexOf('/');
    if (slash < 0) return a;
    if (resolveKind(a.slice(0, slash)) !== NODES) throw new CliError(`"${a}" is not a node`);
    return a.slice(slash + 1);
  });
  if (selector || (allowAll && bool(f, 'all'))) {
    if (names.length > 0) throw new CliError('name cannot be provided when a selector is specified');
    const nodes = await listAll(client, 'nodes', { labelSelector: selector });
    if (nodes.length === 0) throw new CliError('No resources found');
    return nodes.map(nameOf);
  }
  if (names.length === 0) throw new CliError('resource(s) were provided, but no name was specified');
  return names;
}

function resolveKindOrUndefined(s: string): KindInfo | undefined {
  try {
    return resolveKind(s);
  } catch {
    return undefined;
  }
}

/** Sets spec.unschedulable; returns false when it already had that value. */
async function setUnschedulable(client: BerthClient, name: string, value: boolean, dryRun: 'none' | 'client' | 'server'): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const node = await client.get('nodes', '', name);
    const spec = rec(node.spec);
    if ((spec.unschedulable === true) === value) return false;
    if (dryRun === 'client') return true;
    const next = structuredClone(node);
    const nspec = rec(next.spec);
    if (value) nspec.unschedulable = true;
    else delete nspec.unschedulable;
    next.spec = nspec;
    try {
      await client.update(next, dryRun === 'server');
      return true;
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e;
    }
  }
}

export async function runCordon(argv: string[], io: Io, cordon: boolean): Promise<number> {
  const f = parseFlags(argv, { ...GLOBAL_FLAGS, selector: { type: 'string', short: 'l' }, 'dry-run': { type: 'string', noValue: 'client' } });
  if (bool(f, 'help')) {
    io.write(CORDON_USAGE);
    return 0;
  }
  const mode = dryRunMode(f);
  const session = await connect(f, io);
  let failed = false;
  try {
    for (const name of await nodeTargets(session.client, f._, f, false)) {
      try {
        const changed = await setUnschedulable(session.client, name, cordon, mode);
        const verb = cordon ? 'cordoned' : 'uncordoned';
        io.write(`node/${name} ${changed ? '' : 'already '}${verb}${changed ? dryRunSuffix(mode) : ''}\n`);
      } catch (e) {
        failed = true;
        io.error(formatError(e, { kind: NODES, endpoints: session.client.endpoints }));
      }
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}

// ---- drain ---------------------------------------------------------------------------------

const DAEMONSET_FATAL = 'DaemonSet-managed Pods (use --ignore-daemonsets to ignore)';
const DAEMONSET_WARNING = 'ignoring DaemonSet-managed Pods';
const LOCAL_STORAGE_FATAL = 'Pods with local storage (use --delete-emptydir-data to override)';
const LOCAL_STORAGE_WARNING = 'deleting Pods with local storage';
const UNMANAGED_FATAL = 'cannot delete Pods that declare no controller (use --force to override)';
const UNMANAGED_WARNING = 'deleting Pods that declare no controller';

interface PodVerdict {
  pod: PlainObject;
  delete: boolean;
  reason: 'okay' | 'skip' | 'warning' | 'error';
  message?: string;
}

export interface DrainOptions {
  force: boolean;
  ignoreDaemonSets: boolean;
  deleteEmptyDirData: boolean;
}

/** kubectl's drain filters, in kubectl's order: the first that keeps a pod decides. */
export function drainVerdicts(pods: readonly PlainObject[], o: DrainOptions): PodVerdict[] {
  return pods.map((pod) => {
    const phase = rec(pod.status).phase;
    const finished = phase === 'Succeeded' || phase === 'Failed';
    const controller = controllerOf(pod);
    const filters: (() => Omit<PodVerdict, 'pod'>)[] = [
      () => {
        if (!controller || controller.kind !== 'DaemonSet' || finished) return { delete: true, reason: 'okay' };
        return o.ignoreDaemonSets ? { delete: false, reason: 'warning', message: DAEMONSET_WARNING } : { delete: false, reason: 'error', message: DAEMONSET_FATAL };
      },
      () => (rec(metaOf(pod).annotations)['kubernetes.io/config.mirror'] !== undefined ? { delete: false, reason: 'skip' } : { delete: true, reason: 'okay' }),
      () => {
        const local = (Array.isArray(rec(pod.spec).volumes) ? (rec(pod.spec).volumes as unknown[]) : []).some((v) => rec(v).emptyDir !== undefined);
        if (!local || finished) return { delete: true, reason: 'okay' };
        return o.deleteEmptyDirData ? { delete: true, reason: 'warning', message: LOCAL_STORAGE_WARNING } : { delete: false, reason: 'error', message: LOCAL_STORAGE_FATAL };
      },
      () => {
        if (finished || controller) return { delete: true, reason: 'okay' };
        return o.force ? { delete: true, reason: 'warning', message: UNMANAGED_WARNING } : { delete: false, reason: 'error', message: UNMANAGED_FATAL };
      },
    ];
    let verdict: Omit<PodVerdict, 'pod'> = { delete: true, reason: 'okay' };
    for (const filter of filters) {
      verdict = filter();
      if (!verdict.delete) break;
    }
    return { pod, ...verdict };
  });
}

function groupByMessage(verdicts: PodVerdict[], reason: PodVerdict['reason']): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const v of verdicts) {
    if (v.reason !== reason) continue;
    const key = v.message ?? 'unexpected error';
    m.set(key, [...(m.get(key) ?? []), `${namespaceOf(v.pod)}/${nameOf(v.pod)}`]);
  }
  return m;
}

/** The errors that stop a drain, as kubectl words them. */
export function drainErrors(verdicts: PodVerdict[]): string[] {
  return [...groupByMessage(verdicts, 'error')].map(([msg, pods]) =>
    msg.toLowerCase().startsWith('cannot delete') ? `${msg}: ${pods.join(', ')}` : `cannot delete ${msg}: ${pods.join(', ')}`,
  );
}

export function drainWarnings(verdicts: PodVerdict[]): string {
  return [...groupByMessage(verdicts, 'warning')].map(([msg, pods]) => `${msg}: ${pods.join(', ')}`).join('; ');
}

export async function runDrain(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    force: 'bool',
    'ignore-daemonsets': 'bool',
    'delete-emptydir-data': 'bool',
    'delete-local-data': 'bool',
    'grace-period': 'int',
    timeout: 'duration',
    'pod-selector': 'string',
    selector: { type: 'string', short: 'l' },
    'dry-run': { type: 'string', noValue: 'client' },
  });
  if (bool(f, 'help')) {
    io.write(DRAIN_USAGE);
    return 0;
  }
  const mode = dryRunMode(f);
  const grace = int(f, 'grace-period') ?? -1;
  const timeoutMs = int(f, 'timeout') ?? 0;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
  const opts: DrainOptions = {
    force: bool(f, 'force'),
    ignoreDaemonSets: bool(f, 'ignore-daemonsets'),
    deleteEmptyDirData: bool(f, 'delete-emptydir-data') || bool(f, 'delete-local-data'),
  };
  const session = await connect(f, io);
  const { client } = session;
  try {
    const nodes = await nodeTargets(client, f._, f, false);
    // Cordon every node first, as kubectl does.
    for (const name of nodes) {
      const changed = await setUnschedulable(client, name, true, mode);
      io.write(`node/${name} ${changed ? '' : 'already '}cordoned${changed ? dryRunSuffix(mode) : ''}\n`);
    }
    for (let i = 0; i < nodes.length; i++) {
      const name = nodes[i]!;
      const err = await drainNode(client, name, opts, { grace, deadline, timeoutMs, podSelector: str(f, 'pod-selector') ?? '', mode }, io);
      if (err === undefined) {
        io.write(`node/${name} drained${dryRunSuffix(mode)}\n`);
        continue;
      }
      io.error(`error: unable to drain node "${name}" due to error: ${err.summary}, continuing command...\n`);
      io.error(`There are pending nodes to be drained:\n${nodes.slice(i).map((n) => ` ${n}\n`).join('')}`);
      io.error(err.lines.map((l) => `${l}\n`).join(''));
      return 1;
    }
  } finally {
    client.close();
  }
  return 0;
}

async function drainNode(
  client: BerthClient,
  node: string,
  opts: DrainOptions,
  o: { grace: number; deadline: number; timeoutMs: number; podSelector: string; mode: 'none' | 'client' | 'server' },
  io: Io,
): Promise<{ summary: string; lines: string[] } | undefined> {
  const pods = await listAll(client, 'pods', { fieldSelector: `spec.nodeName=${node}`, labelSelector: o.podSelector });
  const verdicts = drainVerdicts(pods, opts);
  const errors = drainErrors(verdicts);
  if (errors.length > 0) return { summary: errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`, lines: errors };
  const warnings = drainWarnings(verdicts);
  if (warnings) io.error(`Warning: ${warnings}\n`);
  const victims = verdicts.filter((v) => v.delete).map((v) => v.pod);
  if (o.mode === 'client') {
    for (const p of victims) io.write(`evicting pod ${namespaceOf(p)}/${nameOf(p)} (dry run)\n`);
    return undefined;
  }
  const failures: string[] = [];
  const waits: Promise<void>[] = [];
  for (const p of victims) {
    const ns = namespaceOf(p);
    const name = nameOf(p);
    io.write(`evicting pod ${ns}/${name}${o.mode === 'server' ? ' (server dry run)' : ''}\n`);
    try {
      await client.delete('pods', ns, name, { ...(o.grace >= 0 ? { gracePeriodSeconds: o.grace } : {}), dryRun: o.mode === 'server' });
    } catch (e) {
      if (isNotFound(e)) continue;
      failures.push(`error when evicting pods/"${name}" -n "${ns}": ${formatError(e, { kind: PODS }).trimEnd()}`);
      continue;
    }
    if (o.mode === 'server') continue;
    const uid = String(metaOf(p).uid ?? '');
    waits.push(
      waitForDeletion(client, PODS, ns, name, o.deadline, uid).then((ok) => {
        if (ok) io.write(`pod/${name} evicted\n`);
        else failures.push(`error when waiting for pod "${name}" in namespace "${ns}" to terminate: global timeout reached: ${goDuration(o.timeoutMs)}`);
      }),
    );
  }
  await Promise.all(waits);
  if (failures.length === 0) return undefined;
  const pending = (await listAll(client, 'pods', { fieldSelector: `spec.nodeName=${node}`, labelSelector: o.podSelector }).catch(() => [] as PlainObject[])).filter(
    (p) => drainVerdicts([p], opts)[0]!.delete,
  );
  const summary = failures.length === 1 ? failures[0]! : `[${failures.join(', ')}]`;
  if (pending.length > 0) {
    io.error(`There are pending pods in node "${node}" when an error occurred: ${summary}\n${pending.map((p) => `pod/${nameOf(p)}\n`).join('')}`);
  }
  return { summary, lines: failures };
}

/** Go's time.Duration text: `5s`, `1m0s`, `1m30s`, `1h0m0s`, `500ms`. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const total = ms / 1000;
  const h = Math.trunc(total / 3600);
  const m = Math.trunc((total % 3600) / 60);
  const sec = total % 60;
  const secText = Number.isInteger(sec) ? String(sec) : sec.toFixed(3).replace(/0+$/, '');
  if (h > 0) return `${h}h${m}m${secText}s`;
  if (m > 0) return `${m}m${secText}s`;
  return `${secText}s`;
}

// ---- taint ---------------------------------------------------------------------------------

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export interface TaintSpec {
  key: string;
  value?: string;
  /** Empty when removing every effect of a key. */
  effect: string;
}

/** Parses `key=value:Effect`, `key:Effect`, `key:Effect-`, `key-` into taints to add and to remove. */
export function parseTaints(specs: readonly string[]): { add: TaintSpec[]; remove: TaintSpec[] } {
  const add: TaintSpec[] = [];
  const remove: TaintSpec[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    if (spec.endsWith('-')) {
      const body = spec.slice(0, -1);
      const colon = body.indexOf(':');
      const keyPart = colon < 0 ? body : body.slice(0, colon);
      const effect = colon < 0 ? '' : body.slice(colon + 1);
      const key = keyPart.split('=')[0]!;
      if (!key) throw new CliError(`invalid taint spec: ${spec}`);
      if (effect && !EFFECTS.includes(effect)) throw new CliError(`invalid taint effect: ${effect}, unsupported taint effect`);
      remove.push({ key, effect });
      continue;
    }
    const colon = spec.lastIndexOf(':');
    if (colon < 0) throw new CliError(`invalid taint spec: ${spec}, unknown taint spec: ${spec}`);
    const effect = spec.slice(colon + 1);
    const kv = spec.slice(0, colon);
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? undefined : kv.slice(eq + 1);
    if (!key) throw new CliError(`invalid taint spec: ${spec}`);
    if (!EFFECTS.includes(effect)) throw new CliError(`invalid taint effect: ${effect}, unsupported taint effect`);
    const id = `${key}:${effect}`;
    if (seen.has(id)) throw new CliError(`duplicated taints with the same key and effect: ${JSON.stringify({ key, value: value ?? '', effect })}`);
    seen.add(id);
    add.push({ key, ...(value ? { value } : {}), effect });
  }
  const conflicts = add.filter((a) => remove.some((r) => r.key === a.key && (r.effect === '' || r.effect === a.effect)));
  if (conflicts.length > 0) {
    throw new CliError(`can not both modify and remove the following taint(s) in the same command: ${conflicts.map((t) => taintString(t as unknown as Record<string, unknown>)).join(', ')}`);
  }
  return { add, remove };
}

/**
 * A node's taints after adding and removing, and kubectl's word for what happened
 * (tainted, untainted, modified). Throws when a taint to remove is not there.
 */
export function applyTaints(current: readonly Record<string, unknown>[], add: TaintSpec[], remove: TaintSpec[], overwrite: boolean): { taints: Record<string, unknown>[]; verb: string } {
  const next: Record<string, unknown>[] = add.map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect }));
  for (const old of current) {
    if (next.some((t) => t.key === old.key && t.effect === old.effect)) continue;
    next.push(old);
  }
  // As kubectl counts it: the merged list is longer than the node's.
  const added = next.length !== current.length;
  let deleted = false;
  const errors: string[] = [];
  for (const r of remove) {
    const before = next.length;
    for (let i = next.length - 1; i >= 0; i--) {
      const t = next[i]!;
      if (t.key === r.key && (r.effect === '' || t.effect === r.effect)) next.splice(i, 1);
    }
    if (next.length === before) errors.push(`taint ${JSON.stringify(r.effect ? `${r.key}:${r.effect}` : r.key)} not found`);
    else deleted = true;
  }
  if (errors.length > 0) throw new CliError(errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`);
  const verb = (added && deleted) || overwrite ? 'modified' : added ? 'tainted' : 'untainted';
  return { taints: next, verb };
}

export async function runTaint(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, {
    ...GLOBAL_FLAGS,
    overwrite: 'bool',
    all: 'bool',
    selector: { type: 'string', short: 'l' },
    'dry-run': { type: 'string', noValue: 'client' },
  });
  if (bool(f, 'help')) {
    io.write(TAINT_USAGE);
    return 0;
  }
  const mode = dryRunMode(f);
  // As kubectl tells them apart: a taint has '=' or ':' or ends with '-'; the rest name nodes.
  const isTaint = (a: string) => /[:=]/.test(a) || a.endsWith('-');
  const taintArgs = f._.filter(isTaint);
  const nodeArgs = f._.filter((a) => !isTaint(a));
  if (taintArgs.length === 0) throw new CliError('at least one taint update is required');
  const { add, remove } = parseTaints(taintArgs);
  const session = await connect(f, io);
  let failed = false;
  try {
    for (const name of await nodeTargets(session.client, nodeArgs, f, true)) {
      try {
        for (let attempt = 0; ; attempt++) {
          const node = await session.client.get('nodes', '', name);
          const current = (Array.isArray(rec(node.spec).taints) ? (rec(node.spec).taints as unknown[]) : []).map(rec);
          if (!bool(f, 'overwrite')) {
            const exists = add.filter((t) => current.some((c) => c.key === t.key && c.effect === t.effect)).map((t) => t.key);
            if (exists.length > 0) throw new CliError(`node ${name} already has ${exists.join(',')} taint(s) with same effect(s) and --overwrite is false`);
          }
          const { taints, verb } = applyTaints(current, add, remove, bool(f, 'overwrite'));
          const next = structuredClone(node);
          const spec = rec(next.spec);
          if (taints.length > 0) spec.taints = taints;
          else delete spec.taints;
          next.spec = spec;
          try {
            if (mode !== 'client') await session.client.update(next, mode === 'server');
            io.write(`node/${name} ${verb}${dryRunSuffix(mode)}\n`);
            break;
          } catch (e) {
            if (!isConflict(e) || attempt >= 5) throw e;
          }
        }
      } catch (e) {
        failed = true;
        io.error(formatError(e, { kind: NODES, endpoints: session.client.endpoints }));
      }
    }
  } finally {
    session.client.close();
  }
  return failed ? 1 : 0;
}
