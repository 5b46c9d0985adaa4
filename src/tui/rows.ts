/**
 * What a row of each view shows: kubectl's columns (src/cli/output/columns.ts computes
 * them, so READY, STATUS, RESTARTS and ages read exactly as `berth get` prints them),
 * rearranged the way k9s lays them out, plus the TUI's own columns — request bars on
 * Nodes, rollout progress on Deployments — and each row's colour.
 */
import { tryParseQuantity, type KindInfo } from '../api/index.ts';
import type { PlainObject } from '../client/client.ts';
import { parseTime } from '../cli/output/age.ts';
import { jobStatus, nodeStatus, podSummary, tableHeaders, tableRow } from '../cli/output/columns.ts';
import type { SortKey } from './list-index.ts';
import type { NodeUsage } from './node-usage.ts';
import { keyOf, metaOf, namespaceOf, type Obj } from './store.ts';
import type { ViewDef } from './views.ts';

export type Tone = 'normal' | 'ok' | 'warn' | 'error' | 'dim' | 'busy';

export interface RowContext {
  now: number;
  /** A NAMESPACE column first. */
  withNamespace: boolean;
  /** Requests per node (the Nodes view). */
  usage?: NodeUsage;
}

export interface TableSpec {
  headers(withNamespace: boolean): string[];
  cells(o: PlainObject, ctx: RowContext): string[];
  tone(o: PlainObject): Tone;
  sortKey(column: string, o: PlainObject, ctx: RowContext): SortKey;
  /** The text `/` matches: the row without its time-relative cells (cached per object). */
  search(o: PlainObject, ctx: RowContext): string;
}

const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A horizontal bar of `width` cells for a fraction in [0, 1]. */
export function bar(fraction: number, width = 10): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

export function percent(used: number, of: number): string {
  return of > 0 ? `${Math.round((used * 100) / of)}%` : '-';
}

export function formatMilli(m: number): string {
  return m >= 10_000 ? `${(m / 1000).toFixed(1).replace(/\.0$/, '')}` : `${Math.round(m)}m`;
}

export function formatBytes(b: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti'];
  let v = b;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? String(Math.round(v)) : `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')}${units[i]}`;
}

function createdMs(o: PlainObject): number {
  return parseTime(metaOf(o).creationTimestamp) ?? 0;
}

/** Columns whose text changes with time alone: not searched, not cached. */
const VOLATILE = new Set(['AGE', 'LAST SEEN', 'DURATION', 'LAST SCHEDULE', 'RESTARTS', 'CPU', 'MEMORY', 'PODS']);

/** kubectl's columns of `info` (wide ones included), in the order of `names`. */
function kubectlColumns(info: KindInfo, names: readonly string[], wide = true): (o: PlainObject, now: number) => string[] {
  const all = tableHeaders(info, { wide });
  const idx = names.map((n) => {
    const i = all.indexOf(n);
    if (i < 0) throw new Error(`${info.kind} has no column ${n}`);
    return i;
  });
  return (o, now) => {
    const row = tableRow(info, o, { wide, now });
    return idx.map((i) => row[i] ?? '');
  };
}

interface Parts {
  headers: readonly string[];
  cells(o: PlainObject, ctx: RowContext): string[];
  tone?(o: PlainObject): Tone;
  sort?: Record<string, (o: PlainObject, ctx: RowContext) => SortKey>;
}

function spec(info: KindInfo, p: Parts): TableSpec {
  const searchCache = new WeakMap<PlainObject, string>();
  const volatileIdx = p.headers.map((h, i) => (VOLATILE.has(h) ? i : -1)).filter((i) => i >= 0);
  const sorts: Record<string, (o: PlainObject, ctx: RowContext) => SortKey> = {
    NAME: (o) => keyOf(o),
    AGE: (o) => -createdMs(o),
    ...p.sort,
  };
  return {
    headers: (withNamespace) => (withNamespace && info.namespaced ? ['NAMESPACE', ...p.headers] : [...p.headers]),
    cells(o, ctx) {
      const cells = p.cells(o, ctx);
      return ctx.withNamespace && info.namespaced ? [namespaceOf(o), ...cells] : cells;
    },
    tone: (o) => p.tone?.(o) ?? 'normal',
    sortKey(column, o, ctx) {
      const f = sorts[column];
      if (f) return f(o, ctx);
      const i = p.headers.indexOf(column);
      return i < 0 ? '' : (p.cells(o, ctx)[i] ?? '');
    },
    search(o, ctx) {
      let s = searchCache.get(o);
      if (s === undefined) {
        const cells = p.cells(o, ctx).filter((_, i) => !volatileIdx.includes(i));
        s = `${namespaceOf(o)} ${cells.join(' ')}`;
        searchCache.set(o, s);
      }
      return s;
    },
  };
}

// ---- pods ------------------------------------------------------------------------------

const POD_ERRORS = /^(CrashLoopBackOff|Error|Failed|ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InvalidImageName|OOMKilled|Unknown|Evicted|ContainerStatusUnknown|CreateContainerConfigError|CreateContainerError|RunContainerError|NodeLost|Init:(?!\d).*|Signal:.*|ExitCode:.*)$/;

/** A pod's colour, as k9s paints it: errors red, not (yet) ready yellow, finished grey. */
export function podTone(o: PlainObject, now = 0): Tone {
  const p = podSummary(o as Obj, now);
  if (p.status === 'Terminating') return 'busy';
  if (p.status === 'Completed' || p.status === 'Succeeded') return 'dim';
  if (POD_ERRORS.test(p.status)) return 'error';
  const [ready, total] = p.ready.split('/').map(Number);
  if (p.status === 'Running' && ready === total) return 'ok';
  return 'warn';
}

function podSpec(info: KindInfo): TableSpec {
  const cols = kubectlColumns(info, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'IP', 'NODE', 'AGE']);
  return spec(info, {
    headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'IP', 'NODE', 'AGE'],
    cells: (o, ctx) => cols(o, ctx.now),
    tone: (o) => podTone(o),
    sort: {
      STATUS: (o) => podSummary(o as Obj, 0).status,
      READY: (o) => {
        const [r, t] = podSummary(o as Obj, 0).ready.split('/').map(Number);
        return t ? r! / t : 0;
      },
      RESTARTS: (o) => -parseInt(podSummary(o as Obj, 0).restarts, 10) || 0,
      NODE: (o) => String(rec(o.spec).nodeName ?? ''),
      IP: (o) => ipSortKey(String(rec(o.status).podIP ?? '')),
    },
  });
}

function ipSortKey(ip: string): string {
  return ip
    .split('.')
    .map((p) => p.padStart(3, '0'))
    .join('.');
}

// ---- workloads -------------------------------------------------------------------------

function desiredOf(o: PlainObject): number {
  const r = rec(o.spec).replicas;
  return r === undefined ? 1 : num(r);
}

function deploymentTone(o: PlainObject): Tone {
  const st = rec(o.status);
  const conds = Array.isArray(st.conditions) ? (st.conditions as Obj[]) : [];
  if (conds.some((c) => c.type === 'Progressing' && c.status === 'False')) return 'error';
  const desired = desiredOf(o);
  if (num(st.readyReplicas) === desired && num(st.updatedReplicas) === desired) return desired === 0 ? 'dim' : 'ok';
  return 'warn';
}

/** The rollout of a Deployment as a bar: replicas of the new template over desired. */
export function rolloutProgress(o: PlainObject): string {
  const st = rec(o.status);
  const desired = desiredOf(o);
  const updated = Math.min(num(st.updatedReplicas), desired);
  const available = num(st.availableReplicas);
  const done = updated === desired && available >= desired && num(st.replicas) === desired;
  return `${bar(desired === 0 ? 1 : updated / desired)} ${updated}/${desired}${done ? ' ✓' : ''}`;
}

function deploymentSpec(info: KindInfo): TableSpec {
  const cols = kubectlColumns(info, ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
  return spec(info, {
    headers: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'PROGRESS', 'AGE'],
    cells(o, ctx) {
      const c = cols(o, ctx.now);
      return [...c.slice(0, 4), rolloutProgress(o), c[4]!];
    },
    tone: deploymentTone,
    sort: { READY: (o) => (desiredOf(o) ? num(rec(o.status).readyReplicas) / desiredOf(o) : 1) },
  });
}

function replicaSetSpec(info: KindInfo): TableSpec {
  const cols = kubectlColumns(info, ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE']);
  return spec(info, {
    headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    cells: (o, ctx) => cols(o, ctx.now),
    tone(o) {
      const desired = desiredOf(o);
      if (desired === 0 && num(rec(o.status).replicas) === 0) return 'dim';
      return num(rec(o.status).readyReplicas) === desired ? 'ok' : 'warn';
    },
    sort: { READY: (o) => (desiredOf(o) ? num(rec(o.status).readyReplicas) / desiredOf(o) : 1) },
  });
}

function jobSpec(info: KindInfo): TableSpec {
  const cols = kubectlColumns(info, ['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE']);
  return spec(info, {
    headers: ['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE'],
    cells: (o, ctx) => cols(o, ctx.now),
    tone(o) {
      const s = jobStatus(o as Obj);
      return s === 'Complete' ? 'dim' : s === 'Failed' || s === 'FailureTarget' ? 'error' : s === 'Running' ? 'ok' : 'warn';
    },
    sort: { STATUS: (o) => jobStatus(o as Obj) },
  });
}

// ---- nodes -----------------------------------------------------------------------------

function allocatable(o: PlainObject): { cpu: number; memory: number } {
  const a = rec(rec(o.status).allocatable);
  return { cpu: tryParseQuantity(a.cpu)?.toMilli() ?? 0, memory: tryParseQuantity(a.memory)?.toBytes() ?? 0 };
}

function nodeSpec(info: KindInfo): TableSpec {
  const cols = kubectlColumns(info, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
  const used = (o: PlainObject, ctx: RowContext) => ctx.usage?.of(String(metaOf(o).name ?? '')) ?? { pods: 0, cpu: 0, memory: 0 };
  return spec(info, {
    headers: ['NAME', 'STATUS', 'ROLES', 'PODS', 'CPU', 'MEMORY', 'AGE', 'VERSION'],
    cells(o, ctx) {
      const [name, status, roles, age, version] = cols(o, ctx.now);
      const u = used(o, ctx);
      const a = allocatable(o);
      const cpu = `${bar(a.cpu ? u.cpu / a.cpu : 0)} ${percent(u.cpu, a.cpu).padStart(4)} ${formatMilli(u.cpu)}/${formatMilli(a.cpu)}`;
      const mem = `${bar(a.memory ? u.memory / a.memory : 0)} ${percent(u.memory, a.memory).padStart(4)} ${formatBytes(u.memory)}/${formatBytes(a.memory)}`;
      return [name!, status!, roles!, String(u.pods), cpu, mem, age!, version!];
    },
    tone(o) {
      const s = nodeStatus(o as Obj);
      return s.startsWith('Ready') ? (s.includes('SchedulingDisabled') ? 'warn' : 'ok') : 'error';
    },
    sort: {
      STATUS: (o) => nodeStatus(o as Obj),
      CPU: (o, ctx) => -(used(o, ctx).cpu / (allocatable(o).cpu || 1)),
      MEMORY: (o, ctx) => -(used(o, ctx).memory / (allocatable(o).memory || 1)),
      PODS: (o, ctx) => -used(o, ctx).pods,
    },
  });
}

// ---- the rest --------------------------------------------------------------------------

function eventSpec(info: KindInfo): TableSpec {
  // Not the wide columns: their MESSAGE cell is elsewhere than the header says.
  const cols = kubectlColumns(info, ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], false);
  return spec(info, {
    headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    cells: (o, ctx) => cols(o, ctx.now),
    tone: (o) => (o.type === 'Warning' ? 'warn' : 'normal'),
    sort: {
      'LAST SEEN': (o) => -(parseTime(o.lastTimestamp) ?? parseTime(o.eventTime) ?? parseTime(o.firstTimestamp) ?? createdMs(o)),
      TYPE: (o) => String(o.type ?? ''),
    },
  });
}

function plainSpec(info: KindInfo, tone?: (o: PlainObject) => Tone): TableSpec {
  const headers = tableHeaders(info, {});
  const cols = kubectlColumns(info, headers, false);
  return spec(info, { headers, cells: (o, ctx) => cols(o, ctx.now), ...(tone ? { tone } : {}) });
}

const cache = new Map<string, TableSpec>();

/** The table of an objects view. */
export function tableSpec(view: ViewDef): TableSpec {
  let s = cache.get(view.id);
  if (s) return s;
  const info = view.kind!;
  switch (info.kind) {
    case 'Pod':
      s = podSpec(info);
      break;
    case 'Deployment':
      s = deploymentSpec(info);
      break;
    case 'ReplicaSet':
      s = replicaSetSpec(info);
      break;
    case 'Job':
      s = jobSpec(info);
      break;
    case 'Node':
      s = nodeSpec(info);
      break;
    case 'Event':
      s = eventSpec(info);
      break;
    case 'Namespace':
      s = plainSpec(info, (o) => (rec(o.status).phase === 'Terminating' ? 'busy' : 'normal'));
      break;
    default:
      s = plainSpec(info);
  }
  cache.set(view.id, s);
  return s;
}
