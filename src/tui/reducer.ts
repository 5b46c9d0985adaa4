/**
 * Keys in, a new state and the side effects to run out — pure, so that every key of
 * every view is tested without a terminal or a cluster. The controller resolves the
 * selected row into the KeyContext and runs the effects (API calls, log streams).
 */
import type { PlainObject } from '../client/client.ts';
import type { KeyName } from './keys.ts';
import { keyOf, metaOf, nameOf, namespaceOf, type Obj } from './store.ts';
import {
  clampView,
  DEFAULT_TAIL,
  newFrame,
  topFrame,
  withTop,
  type Effect,
  type KeyContext,
  type LogsOverlay,
  type Overlay,
  type Scope,
  type Target,
  type UiState,
} from './state.ts';
import { allAliases, viewById, viewByAlias, type Action } from './views.ts';

export interface Result {
  state: UiState;
  effects: Effect[];
}

const done = (state: UiState, effects: Effect[] = []): Result => ({ state, effects });

/** Tail presets of the logs view. */
export const TAILS: Readonly<Record<string, number>> = { '1': 100, '2': 500, '3': 1000, '0': -1 };

export function reduceKey(s: UiState, key: KeyName, ctx: KeyContext): Result {
  if (key === 'ctrl-c') return done({ ...s, quit: true }, [{ type: 'quit' }]);
  if (s.mode.type !== 'normal') return modeKey(s, key);
  if (s.overlay) return overlayKey(s, s.overlay, key, ctx);
  return browseKey(s, key, ctx);
}

// ---- browsing a table ------------------------------------------------------------------

function move(s: UiState, ctx: KeyContext, cursor: number): UiState {
  const f = topFrame(s);
  const v = clampView(cursor, f.top, ctx.rows, ctx.pageSize);
  const selectedKey = ctx.keyAt(v.cursor);
  return withTop(s, { cursor: v.cursor, top: v.top, ...(selectedKey !== undefined ? { selectedKey } : {}) });
}

function browseKey(s0: UiState, key: KeyName, ctx: KeyContext): Result {
  const s = s0.flash ? { ...s0, flash: undefined } : s0;
  const f = topFrame(s);
  const def = viewById(f.view);
  switch (key) {
    case ':':
      return done({ ...s, mode: { type: 'command', text: '' } });
    case '/':
      return done({ ...s, mode: { type: 'filter', text: f.filter } });
    case '?':
      return done({ ...s, overlay: { type: 'help', top: 0 } });
    case 'up':
    case 'k':
      return done(move(s, ctx, f.cursor - 1));
    case 'down':
    case 'j':
      return done(move(s, ctx, f.cursor + 1));
    case 'pgup':
    case 'ctrl-b':
      return done(move(s, ctx, f.cursor - ctx.pageSize));
    case 'pgdn':
    case 'ctrl-f':
      return done(move(s, ctx, f.cursor + ctx.pageSize));
    case 'g':
    case 'home':
      return done(move(s, ctx, 0));
    case 'G':
    case 'end':
      return done(move(s, ctx, ctx.rows - 1));
    case 'esc':
    case 'q':
      if (f.filter !== '') return done(withTop(s, { filter: '', cursor: 0, top: 0 }));
      if (s.stack.length > 1) return done({ ...s, stack: s.stack.slice(0, -1) });
      return done(s);
  }
  const sort = def.sorts.find((x) => x.key === key);
  if (sort) {
    const desc = f.sort.column === sort.column ? !f.sort.desc : false;
    return done(withTop(s, { sort: { column: sort.column, desc }, cursor: 0, top: 0 }));
  }
  const binding = def.bindings.find((b) => b.key === key);
  if (binding) return act(s, binding.action, ctx);
  return done(s);
}

function targetOf(o: PlainObject): Target {
  return { kind: String(o.kind ?? ''), namespace: namespaceOf(o), name: nameOf(o), key: keyOf(o) };
}

function label(t: Target): string {
  return `${t.kind.toLowerCase()} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;
}

function act(s: UiState, action: Action, ctx: KeyContext): Result {
  const f = topFrame(s);
  const sel = ctx.selected;
  if (action === 'allNamespaces') {
    return done({ ...withTop(s, { cursor: 0, top: 0 }), namespace: '', flash: { text: 'Viewing all namespaces', level: 'info' } });
  }
  if (f.view === 'cluster') {
    if (!sel || sel.memberId === undefined) return done(s);
    if (action === 'yaml') return done({ ...s, overlay: { type: 'member', id: sel.memberId, top: 0 } });
    if (action === 'transfer') {
      if (sel.isLeader) return done({ ...s, flash: { text: `Replica ${sel.memberId} already leads`, level: 'warn' } });
      return done({ ...s, mode: { type: 'confirm', message: `Transfer leadership to replica ${sel.memberId}?`, effect: { type: 'transfer', id: sel.memberId } } });
    }
    return done(s);
  }
  if (!sel?.obj) return done({ ...s, flash: { text: 'Nothing selected', level: 'warn' } });
  const obj = sel.obj;
  const target = targetOf(obj);
  switch (action) {
    case 'describe':
      return done({ ...s, overlay: { type: 'describe', target, top: 0 } });
    case 'yaml':
      return done({ ...s, overlay: { type: 'yaml', target, top: 0, reveal: false } });
    case 'reveal':
      return done({ ...s, overlay: { type: 'yaml', target, top: 0, reveal: true } });
    case 'logs':
      return openLogs(s, obj, sel.container);
    case 'scale': {
      const replicas = (obj.spec as Obj | undefined)?.replicas;
      return done({ ...s, mode: { type: 'scale', text: String(typeof replicas === 'number' ? replicas : 1), target } });
    }
    case 'restart':
      return done({ ...s, mode: { type: 'confirm', message: `Restart ${label(target)}?`, effect: { type: 'restart', target } } });
    case 'rollback':
      return done({ ...s, mode: { type: 'confirm', message: `Roll ${label(target)} back to its previous revision?`, effect: { type: 'rollback', target } } });
    case 'delete':
      return done({ ...s, mode: { type: 'confirm', message: `Delete ${label(target)}?`, effect: { type: 'delete', target } } });
    case 'cordon': {
      const unschedulable = (obj.spec as Obj | undefined)?.unschedulable !== true;
      return done(s, [{ type: 'cordon', target, unschedulable }]);
    }
    case 'drill':
      return drill(s, obj);
    case 'transfer':
      return done(s);
  }
}

function openLogs(s: UiState, pod: PlainObject, container: string | undefined): Result {
  const target = targetOf(pod);
  const names = ((pod.spec as Obj | undefined)?.containers as Obj[] | undefined)?.map((c) => String(c.name ?? '')) ?? [];
  let c = container;
  if (c === undefined) {
    if (names.length > 1) {
      const stack = [...s.stack, newFrame('containers', podScope(pod))];
      return done({ ...s, stack, flash: { text: `${target.name} has ${names.length} containers: pick one (enter)`, level: 'info' } });
    }
    c = names[0] ?? '';
  }
  const overlay: LogsOverlay = { type: 'logs', target, container: c, top: 0, follow: true, wrap: false, timestamps: false, tail: DEFAULT_TAIL };
  return done({ ...s, overlay }, [{ type: 'logs', target, container: c, tail: overlay.tail, timestamps: false }]);
}

function podScope(pod: PlainObject): Scope {
  return { type: 'pod', label: `pod ${keyOf(pod)}`, namespace: namespaceOf(pod), pod: keyOf(pod) };
}

function drill(s: UiState, obj: PlainObject): Result {
  const f = topFrame(s);
  const m = metaOf(obj);
  const ns = namespaceOf(obj);
  const owner = (kind: string): Scope => ({ type: 'owner', label: `${kind} ${keyOf(obj)}`, namespace: ns, uid: String(m.uid ?? '') });
  const push = (view: string, scope: Scope) => done({ ...s, stack: [...s.stack, newFrame(view, scope)] });
  switch (f.view) {
    case 'deployments':
      return push('replicasets', owner('deployment'));
    case 'replicasets':
      return push('pods', owner('replicaset'));
    case 'jobs':
      return push('pods', owner('job'));
    case 'services': {
      const selector = (obj.spec as Obj | undefined)?.selector as Record<string, string> | undefined;
      if (!selector || Object.keys(selector).length === 0) return done({ ...s, flash: { text: `service ${keyOf(obj)} has no selector`, level: 'warn' } });
      return push('pods', { type: 'selector', label: `service ${keyOf(obj)}`, namespace: ns, selector });
    }
    case 'nodes':
      return push('pods', { type: 'node', label: `node ${nameOf(obj)}`, node: nameOf(obj) });
    case 'pods':
      return push('containers', podScope(obj));
    case 'namespaces':
      return done({ ...s, namespace: nameOf(obj), stack: [newFrame('pods')], flash: { text: `Namespace ${nameOf(obj)}`, level: 'info' } });
  }
  return done(s);
}

// ---- typing: commands, filters, counts, answers ----------------------------------------

/** Line editing shared by the prompts; undefined for a key that is not editing. */
function edit(text: string, key: KeyName, accept: (ch: string) => boolean): string | undefined {
  if (key === 'backspace' || key === 'delete' || key === 'ctrl-h') return text.slice(0, -1);
  if (key === 'ctrl-u') return '';
  if (key === 'ctrl-w') return text.replace(/\S*\s*$/, '');
  if ([...key].length === 1 && accept(key)) return text + key;
  return undefined;
}

function modeKey(s: UiState, key: KeyName): Result {
  const m = s.mode;
  const normal = { type: 'normal' } as const;
  switch (m.type) {
    case 'normal':
      return done(s);
    case 'command': {
      if (key === 'esc') return done({ ...s, mode: normal });
      if (key === 'enter') return runCommand({ ...s, mode: normal }, m.text.trim());
      if (key === 'tab') return done({ ...s, mode: { type: 'command', text: complete(m.text) } });
      const t = edit(m.text, key, (ch) => ch >= ' ');
      return t === undefined ? done(s) : done({ ...s, mode: { type: 'command', text: t } });
    }
    case 'filter': {
      if (key === 'esc') return done({ ...withTop(s, { filter: '', cursor: 0, top: 0 }), mode: normal });
      if (key === 'enter') return done({ ...s, mode: normal });
      const t = edit(m.text, key, (ch) => ch >= ' ');
      if (t === undefined) return done(s);
      return done({ ...withTop(s, { filter: t, cursor: 0, top: 0 }), mode: { type: 'filter', text: t } });
    }
    case 'scale': {
      if (key === 'esc') return done({ ...s, mode: normal });
      if (key === 'enter') {
        if (!/^\d+$/.test(m.text)) return done({ ...s, mode: normal, flash: { text: `Invalid replica count "${m.text}"`, level: 'error' } });
        const replicas = Number(m.text);
        return done({ ...s, mode: normal, flash: { text: `Scaling ${label(m.target)} to ${replicas}…`, level: 'info' } }, [{ type: 'scale', target: m.target, replicas }]);
      }
      const t = edit(m.text, key, (ch) => ch >= '0' && ch <= '9');
      return t === undefined ? done(s) : done({ ...s, mode: { ...m, text: t.slice(0, 6) } });
    }
    case 'confirm': {
      if (key === 'y' || key === 'Y') return done({ ...s, mode: normal }, [m.effect]);
      return done({ ...s, mode: normal, flash: { text: 'Cancelled', level: 'info' } });
    }
  }
}

function complete(text: string): string {
  if (text.includes(' ')) return text;
  const hits = allAliases().filter((a) => a.startsWith(text.toLowerCase()));
  if (hits.length === 0) return text;
  let prefix = hits[0]!;
  for (const h of hits) while (!h.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return hits.length === 1 ? hits[0]! : prefix;
}

/** `:pods`, `:deploy shop`, `:pods all`, `:ns`, `:ns kube-system`, `:q`, `:help`. */
export function runCommand(s: UiState, text: string): Result {
  if (text === '') return done(s);
  const [word, arg] = text.split(/\s+/, 2) as [string, string | undefined];
  const w = word.toLowerCase();
  if (w === 'q' || w === 'q!' || w === 'quit' || w === 'exit') return done({ ...s, quit: true }, [{ type: 'quit' }]);
  if (w === 'help' || w === '?') return done({ ...s, overlay: { type: 'help', top: 0 } });
  const nsOf = (a: string) => (a === 'all' || a === '-A' || a === '*' ? '' : a);
  if ((w === 'ns' || w === 'namespace' || w === 'namespaces') && arg !== undefined) {
    const ns = nsOf(arg);
    return done({ ...withTop(s, { cursor: 0, top: 0 }), namespace: ns, flash: { text: ns ? `Namespace ${ns}` : 'Viewing all namespaces', level: 'info' } });
  }
  const view = viewByAlias(w);
  if (!view || view.aliases.length === 0) return done({ ...s, flash: { text: `Unknown command "${text}" (try :pods, :deploy, :nodes, :ns, :cluster, :q)`, level: 'error' } });
  const next: UiState = { ...s, stack: [newFrame(view.id)] };
  if (arg !== undefined && view.kind?.namespaced) return done({ ...next, namespace: nsOf(arg) });
  return done(next);
}

// ---- text views ------------------------------------------------------------------------

function overlayKey(s: UiState, o: Overlay, key: KeyName, ctx: KeyContext): Result {
  const page = Math.max(1, ctx.textPage);
  const maxTop = Math.max(0, ctx.textLines - page);
  const scroll = (top: number): Overlay => {
    const t = Math.max(0, Math.min(top, maxTop));
    return o.type === 'logs' ? { ...o, top: t, follow: t >= maxTop } : { ...o, top: t };
  };
  // Where a logs view that follows actually is: at the end.
  const top = o.type === 'logs' && o.follow ? maxTop : o.top;
  const close = (): Result => done({ ...s, overlay: undefined }, o.type === 'logs' ? [{ type: 'stopLogs' }] : []);
  switch (key) {
    case 'esc':
    case 'q':
      return close();
    case '?':
      return o.type === 'help' ? close() : done(s);
    case 'up':
    case 'k':
      return done({ ...s, overlay: scroll(top - 1) });
    case 'down':
    case 'j':
      return done({ ...s, overlay: scroll(top + 1) });
    case 'pgup':
    case 'ctrl-b':
      return done({ ...s, overlay: scroll(top - page) });
    case 'pgdn':
    case 'ctrl-f':
    case ' ':
      return done({ ...s, overlay: scroll(top + page) });
    case 'g':
    case 'home':
      return done({ ...s, overlay: scroll(0) });
    case 'G':
    case 'end':
      return done({ ...s, overlay: scroll(maxTop) });
  }
  if (o.type === 'yaml' && key === 'x' && o.target.kind === 'Secret') return done({ ...s, overlay: { ...o, reveal: !o.reveal } });
  if (o.type !== 'logs') return done(s);
  const restart = (n: LogsOverlay): Result => done({ ...s, overlay: n }, [{ type: 'logs', target: n.target, container: n.container, tail: n.tail, timestamps: n.timestamps }]);
  switch (key) {
    case 'f':
      return done({ ...s, overlay: { ...o, follow: !o.follow, top } });
    case 'w':
      return done({ ...s, overlay: { ...o, wrap: !o.wrap, top: 0 } });
    case 't':
      return restart({ ...o, timestamps: !o.timestamps, top: 0, follow: true });
  }
  const tail = TAILS[key];
  if (tail !== undefined) return restart({ ...o, tail, top: 0, follow: true });
  return done(s);
}
