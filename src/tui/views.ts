/**
 * The views of `berth ui` and what each offers: the names `:` accepts (kubectl's short
 * names and k9s' aliases), the sort keys, and the keys bound to actions. The reducer
 * dispatches from these tables and `?` prints them, so help cannot drift from behaviour.
 */
import { kindInfo, type KindInfo } from '../api/index.ts';
import type { KeyName } from './keys.ts';

/** What a key does, resolved by the reducer. */
export type Action =
  | 'describe'
  | 'yaml'
  | 'logs'
  | 'scale'
  | 'restart'
  | 'rollback'
  | 'delete'
  | 'cordon'
  | 'transfer'
  | 'reveal'
  | 'drill'
  | 'allNamespaces';

export interface Binding {
  key: KeyName;
  action: Action;
  help: string;
}

export interface SortDef {
  /** The (shifted) letter: `N`. */
  key: KeyName;
  /** The column it sorts by. */
  column: string;
}

export type ViewSource = 'objects' | 'containers' | 'cluster';

export interface ViewDef {
  id: string;
  title: string;
  source: ViewSource;
  /** The kind listed (objects views), or the kind whose objects the rows live in. */
  kind: KindInfo | undefined;
  /** What `:` accepts for this view; the first is the canonical name. */
  aliases: readonly string[];
  sorts: readonly SortDef[];
  defaultSort: { column: string; desc: boolean };
  bindings: readonly Binding[];
}

const NAME: SortDef = { key: 'N', column: 'NAME' };
const AGE: SortDef = { key: 'A', column: 'AGE' };

const DESCRIBE: Binding = { key: 'd', action: 'describe', help: 'Describe' };
const YAML: Binding = { key: 'y', action: 'yaml', help: 'YAML' };
const DELETE: Binding = { key: 'ctrl-d', action: 'delete', help: 'Delete (asks first)' };
const ALL_NS: Binding = { key: '0', action: 'allNamespaces', help: 'All namespaces' };
const OBJECT_KEYS = [DESCRIBE, YAML, DELETE];

function kind(name: string): KindInfo {
  const info = kindInfo(name);
  if (!info) throw new Error(`unknown kind ${name}`);
  return info;
}

function aliasesOf(info: KindInfo, extra: readonly string[] = []): string[] {
  return [...new Set([info.plural, info.singular, ...info.shortNames, ...extra])];
}

function objectView(
  kindName: string,
  title: string,
  opts: { extraAliases?: string[]; sorts?: SortDef[]; defaultSort?: { column: string; desc: boolean }; bindings?: Binding[]; noDelete?: boolean } = {},
): ViewDef {
  const info = kind(kindName);
  const bindings = [...(opts.bindings ?? []), ...(opts.noDelete ? [DESCRIBE, YAML] : OBJECT_KEYS), ...(info.namespaced ? [ALL_NS] : [])];
  return {
    id: info.plural,
    title,
    source: 'objects',
    kind: info,
    aliases: aliasesOf(info, opts.extraAliases),
    sorts: [NAME, AGE, ...(opts.sorts ?? [])],
    defaultSort: opts.defaultSort ?? { column: 'NAME', desc: false },
    bindings,
  };
}

export const VIEWS: readonly ViewDef[] = [
  objectView('Pod', 'Pods', {
    sorts: [
      { key: 'S', column: 'STATUS' },
      { key: 'R', column: 'READY' },
      { key: 'T', column: 'RESTARTS' },
      { key: 'O', column: 'NODE' },
      { key: 'I', column: 'IP' },
    ],
    bindings: [
      { key: 'enter', action: 'drill', help: 'Containers' },
      { key: 'l', action: 'logs', help: 'Logs' },
    ],
  }),
  objectView('Deployment', 'Deployments', {
    extraAliases: ['dp'],
    sorts: [{ key: 'R', column: 'READY' }],
    bindings: [
      { key: 'enter', action: 'drill', help: 'ReplicaSets' },
      { key: 's', action: 'scale', help: 'Scale' },
      { key: 'r', action: 'restart', help: 'Rollout restart' },
      { key: 'ctrl-l', action: 'rollback', help: 'Roll back to the previous revision' },
    ],
  }),
  objectView('ReplicaSet', 'ReplicaSets', {
    sorts: [{ key: 'R', column: 'READY' }],
    bindings: [
      { key: 'enter', action: 'drill', help: 'Pods' },
      { key: 's', action: 'scale', help: 'Scale' },
    ],
  }),
  objectView('Job', 'Jobs', { sorts: [{ key: 'S', column: 'STATUS' }], bindings: [{ key: 'enter', action: 'drill', help: 'Pods' }] }),
  objectView('CronJob', 'CronJobs'),
  objectView('Service', 'Services', { bindings: [{ key: 'enter', action: 'drill', help: 'Pods' }] }),
  objectView('Endpoints', 'Endpoints'),
  objectView('ConfigMap', 'ConfigMaps'),
  objectView('Secret', 'Secrets', { extraAliases: ['sec'], bindings: [{ key: 'x', action: 'reveal', help: 'Reveal (decode) values' }] }),
  objectView('HorizontalPodAutoscaler', 'HorizontalPodAutoscalers'),
  objectView('Event', 'Events', {
    defaultSort: { column: 'LAST SEEN', desc: false },
    sorts: [
      { key: 'L', column: 'LAST SEEN' },
      { key: 'S', column: 'TYPE' },
    ],
  }),
  objectView('Node', 'Nodes', {
    sorts: [
      { key: 'S', column: 'STATUS' },
      { key: 'C', column: 'CPU' },
      { key: 'M', column: 'MEMORY' },
      { key: 'P', column: 'PODS' },
    ],
    bindings: [
      { key: 'enter', action: 'drill', help: 'Pods on the node' },
      { key: 'c', action: 'cordon', help: 'Cordon / uncordon' },
    ],
  }),
  objectView('Namespace', 'Namespaces', {
    sorts: [{ key: 'S', column: 'STATUS' }],
    bindings: [{ key: 'enter', action: 'drill', help: 'Use this namespace (pods)' }],
  }),
  {
    id: 'containers',
    title: 'Containers',
    source: 'containers',
    kind: kind('Pod'),
    aliases: [],
    sorts: [NAME],
    defaultSort: { column: 'NAME', desc: false },
    bindings: [
      { key: 'enter', action: 'logs', help: 'Logs' },
      { key: 'l', action: 'logs', help: 'Logs' },
      { key: 'd', action: 'describe', help: 'Describe the pod' },
      { key: 'y', action: 'yaml', help: 'YAML of the pod' },
    ],
  },
  {
    id: 'cluster',
    title: 'Cluster',
    source: 'cluster',
    kind: undefined,
    aliases: ['cluster', 'replicas', 'raft'],
    sorts: [],
    defaultSort: { column: 'ID', desc: false },
    bindings: [
      { key: 't', action: 'transfer', help: 'Transfer leadership to this replica' },
      { key: 'y', action: 'yaml', help: "The replica's status" },
    ],
  },
];

const byId = new Map(VIEWS.map((v) => [v.id, v]));
const byAlias = new Map<string, ViewDef>();
for (const v of VIEWS) for (const a of v.aliases) byAlias.set(a, v);
// Views a user may name differently from the kind's own names.
byAlias.set('deploy', byId.get('deployments')!);
byAlias.set('ev', byId.get('events')!);

export function viewById(id: string): ViewDef {
  const v = byId.get(id);
  if (!v) throw new Error(`unknown view ${id}`);
  return v;
}

/** The view `:name` opens (case-insensitive; `deployments.apps` too), or undefined. */
export function viewByAlias(name: string): ViewDef | undefined {
  const n = name.toLowerCase();
  return byAlias.get(n) ?? byAlias.get(n.split('.')[0]!);
}

/** Every name `:` accepts, for completion. */
export function allAliases(): string[] {
  return [...byAlias.keys(), 'ns', 'q', 'quit', 'help'].filter((v, i, a) => a.indexOf(v) === i).sort();
}

/** Keys every view has, for help. */
export const GENERAL_KEYS: readonly [KeyName, string][] = [
  [':', 'Command: :pods :deploy :rs :jobs :svc :cm :secrets :events :nodes :ns :cluster (:pods NS, :ns NS, :q)'],
  ['/', 'Filter: regex, !regex (inverse), -l app=web (labels)'],
  ['?', 'Help'],
  ['esc, q', 'Back (clears the filter first)'],
  ['up/k, down/j', 'Move'],
  ['pgup/ctrl-b, pgdn/ctrl-f', 'Page'],
  ['g/home, G/end', 'First, last row'],
  ['ctrl-c, :q', 'Quit'],
];

/** Keys of the text views (describe, YAML, logs). */
export const TEXT_KEYS: readonly [KeyName, string][] = [
  ['up/k, down/j, pgup, pgdn', 'Scroll'],
  ['g, G', 'Top, bottom'],
  ['esc, q', 'Close'],
];

export const LOG_KEYS: readonly [KeyName, string][] = [
  ['f', 'Follow (keep to the end) on/off'],
  ['w', 'Wrap lines on/off'],
  ['t', 'Timestamps on/off'],
  ['1, 2, 3, 0', 'Tail 100, 500, 1000 lines, or all'],
];
