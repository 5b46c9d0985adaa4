/**
 * The TUI's engine, without ink: it owns the stores and their watch feeds (started the
 * first time a view needs a kind, then kept live), the sorted and filtered rows of the
 * current view, the cluster status poller, the log stream, and the state; it turns
 * keystrokes into reducer calls and the reducer's effects into API calls; and it says
 * when the screen must be drawn again — at once after a key, at most once per
 * `coalesceMs` after watch events, however many arrive.
 */
import type { Key } from 'ink';
import { toYaml } from '../cli/output/format.ts';
import * as actions from './actions.ts';
import type { ActionClient } from './actions.ts';
import type { Timers } from './clock.ts';
import { ClusterPoller, clusterRows, CLUSTER_HEADERS, type StatusClient } from './cluster.ts';
import { containerRows, CONTAINER_HEADERS } from './containers.ts';
import { describeLines, relatedKinds, type Related } from './describe.ts';
import { Feed, type FeedClient } from './feed.ts';
import { filterAccepts, parseFilter } from './filter.ts';
import { keyNames, type KeyName } from './keys.ts';
import { ListIndex, type IndexSpec } from './list-index.ts';
import { LogSession, type LogsClient } from './logs.ts';
import { NodeUsage } from './node-usage.ts';
import { reduceKey } from './reducer.ts';
import { tableSpec, type RowContext } from './rows.ts';
import { bodyHeight, buildScreen, helpLines, wrapLines, type HeaderInfo, type RowData, type Screen, type TextData, type ViewData } from './screen.ts';
import { initialState, topFrame, withTop, type Effect, type KeyContext, type Scope, type Selected, type Target, type UiState, type ViewFrame } from './state.ts';
import { metaOf, namespaceOf, ObjectStore, type Obj } from './store.ts';
import type { PlainObject } from '../client/client.ts';
import { viewById, type ViewDef } from './views.ts';
import { yamlLines } from './yaml.ts';

/** Everything the TUI asks of BerthClient. */
export interface UiClient extends FeedClient, StatusClient, LogsClient, Omit<ActionClient, 'list'> {}

export interface ControllerOptions {
  client: UiClient;
  timers: Timers;
  /** The context's name, for the header. */
  context: string;
  namespace: string;
  view?: string;
  width: number;
  height: number;
  /** Redraws caused by watch events: at most one per this many ms (default 16: a frame costs well under a millisecond). */
  coalesceMs?: number;
  /** Cluster.Status polling while the Cluster view is open (default 1000). */
  clusterPollMs?: number;
  /** Polling for the header's leader and term otherwise (default 5000). */
  headerPollMs?: number;
  /** Redraw this often so that ages move (default 1000; 0: never). */
  tickMs?: number;
  /** Watch reconnect backoff: first delay (default 250). */
  backoffMs?: number;
  onQuit?: () => void;
}

interface Rows extends ViewData {
  keyAt(i: number): string | undefined;
  indexOf(key: string): number;
  selected(i: number): Selected | undefined;
}

const FLASH_MS = 5000;
/** About one frame at 60 Hz. */
const DEFAULT_COALESCE_MS = 16;

export class Controller {
  state: UiState;
  width: number;
  height: number;
  private readonly client: UiClient;
  private readonly timers: Timers;
  private readonly feeds = new Map<string, Feed>();
  private readonly stores = new Map<string, ObjectStore>();
  private readonly indexes = new Map<string, { index: ListIndex; specKey: string }>();
  private usage: NodeUsage | undefined;
  private readonly poller: ClusterPoller;
  private logs: LogSession | undefined;
  private readonly listeners = new Set<() => void>();
  private version = 0;
  private cached: { version: number; screen: Screen } | undefined;
  private emitTimer: unknown;
  private lastEmit = -Infinity;
  private tickTimer: unknown;
  private flashTimer: unknown;
  private textCache: { sig: string; deps: readonly unknown[]; slow: string; at: number; minInterval: number; data: TextData } | undefined;
  private textTimer: unknown;
  private readonly widths = new Map<string, number[]>();
  private stopped = false;
  /** Redraws so far (bench and tests). */
  emits = 0;
  /** Text views (describe, YAML, logs) built so far (tests). */
  textBuilds = 0;

  constructor(private readonly opts: ControllerOptions) {
    this.client = opts.client;
    this.timers = opts.timers;
    this.width = opts.width;
    this.height = opts.height;
    this.state = initialState(opts.view ?? 'pods', opts.namespace);
    this.poller = new ClusterPoller(this.client, this.timers, () => this.changed(false), opts.headerPollMs ?? 5000);
  }

  start(): void {
    this.poller.start();
    this.afterChange();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    for (const f of this.feeds.values()) f.stop();
    this.poller.stop();
    this.logs?.stop();
    for (const t of [this.emitTimer, this.tickTimer, this.flashTimer, this.textTimer]) if (t !== undefined) this.timers.clearTimeout(t);
    for (const { index } of this.indexes.values()) index.dispose();
    this.usage?.dispose();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The store of a kind (its feed starts on first use). */
  store(kind: string): ObjectStore {
    let s = this.stores.get(kind);
    if (!s) {
      s = new ObjectStore(kind);
      this.stores.set(kind, s);
      s.subscribe(() => this.onData(kind));
      const feed = new Feed(kind, this.client, s, { timers: this.timers, ...(this.opts.backoffMs !== undefined ? { backoffMs: this.opts.backoffMs } : {}), onState: () => this.changed(false) });
      this.feeds.set(kind, feed);
      feed.start();
    }
    return s;
  }

  // ---- input -------------------------------------------------------------------------

  /** ink's useInput arguments. */
  input(input: string, key: Partial<Key>): void {
    for (const k of keyNames(input, key)) this.key(k);
  }

  key(name: KeyName): void {
    if (this.stopped) return;
    this.anchor();
    const r = reduceKey(this.state, name, this.keyContext());
    const flashChanged = r.state.flash !== this.state.flash;
    this.state = r.state;
    if (flashChanged && r.state.flash) this.armFlash();
    for (const e of r.effects) this.run(e);
    this.afterChange();
    this.changed(true);
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.changed(true);
  }

  keyContext(): KeyContext {
    const rows = this.rows();
    const f = topFrame(this.state);
    return {
      rows: rows.count,
      pageSize: bodyHeight(this.height) - 1,
      textPage: bodyHeight(this.height),
      textLines: this.state.overlay ? this.text()?.lines.length ?? 0 : 0,
      keyAt: (i) => rows.keyAt(i),
      selected: rows.selected(Math.max(0, Math.min(f.cursor, rows.count - 1))),
    };
  }

  // ---- output ------------------------------------------------------------------------

  screen(): Screen {
    if (this.cached && this.cached.version === this.version) return this.cached.screen;
    this.anchor();
    const f = topFrame(this.state);
    const rows = this.rows();
    const wkey = `${f.view}|${this.state.namespace}|${this.state.stack.length}`;
    const { screen, widths } = buildScreen({
      state: this.state,
      width: this.width,
      height: this.height,
      header: this.header(),
      view: rows,
      ...(this.state.overlay && this.state.overlay.type !== 'help' ? { text: this.text() } : {}),
      minWidths: this.widths.get(wkey) ?? [],
    });
    if (!this.state.overlay) this.widths.set(wkey, widths);
    this.cached = { version: this.version, screen };
    return screen;
  }

  /**
   * The content of the open text view (help, describe, YAML, a replica's status, logs).
   * Built once and kept while what it shows is unchanged: scrolling it costs nothing, and
   * a redraw for an unrelated change does not build it again. A description that reads
   * other stores (a node's pods, a ReplicaSet's) is rebuilt when those change, but no
   * more often than once per 10 µs × the objects it reads (a node with 10,000 pods, which
   * takes ~150 ms to describe: once a second), so watch traffic cannot make it eat the
   * process.
   */
  text(): TextData | undefined {
    const o = this.state.overlay;
    if (!o) return undefined;
    const now = this.timers.now();
    switch (o.type) {
      case 'help':
      case 'member':
        return this.buildText(o, now);
      case 'yaml': {
        const obj = this.store(o.target.kind).get(o.target.key);
        return this.cachedText(`yaml|${o.target.kind}|${o.target.key}|${o.reveal}`, [obj], '', now, () => this.buildText(o, now));
      }
      case 'describe': {
        const obj = this.store(o.target.kind).get(o.target.key);
        // Ages in the description move with the clock: at most once a second.
        const related = relatedKinds(o.target.kind).map((k) => this.store(k));
        const reads = related.reduce((n, st) => n + st.size, 0);
        const slow = `${related.map((st) => st.version).join(',')}|${Math.floor(now / 1000)}`;
        return this.cachedText(`describe|${o.target.kind}|${o.target.key}`, [obj], slow, now, () => this.buildText(o, now), Math.min(2000, Math.floor(reads / 10)));
      }
      case 'logs': {
        const l = this.logs;
        return this.cachedText(`logs|${o.target.key}|${o.container}|${o.follow}|${o.wrap}|${o.timestamps}|${o.tail}|${this.width}`, [l, l?.version, l?.phase, l?.error], '', now, () => this.buildText(o, now));
      }
    }
  }

  /**
   * The cached text for `sig` while `deps` (compared by identity) are the same; `slow`
   * changing (related stores, the clock) rebuilds it once the last build is `minInterval`
   * old.
   */
  private cachedText(sig: string, deps: readonly unknown[], slow: string, now: number, build: () => TextData, minInterval = 0): TextData {
    const c = this.textCache;
    if (c && c.sig === sig && c.deps.length === deps.length && c.deps.every((d, i) => d === deps[i])) {
      if (c.slow === slow) return c.data;
      const due = c.at + c.minInterval;
      if (now < due) {
        // Not yet: draw again when it is.
        if (this.textTimer === undefined) {
          this.textTimer = this.timers.setTimeout(() => {
            this.textTimer = undefined;
            this.changed(false);
          }, due - now);
        }
        return c.data;
      }
    }
    this.textBuilds++;
    const data = build();
    this.textCache = { sig, deps, slow, at: now, minInterval, data };
    return data;
  }

  private buildText(o: NonNullable<UiState['overlay']>, now: number): TextData {
    switch (o.type) {
      case 'help':
        return { title: 'Help', lines: helpLines(this.state), info: '' };
      case 'member': {
        const st = this.poller.snapshot?.statuses.get(o.id);
        return { title: `Replica ${o.id}`, lines: st ? toYaml(st).replace(/\n$/, '').split('\n') : ['<no answer from this replica>'], info: '' };
      }
      case 'yaml': {
        const obj = this.store(o.target.kind).get(o.target.key);
        const lines = obj ? yamlLines(obj, o.reveal) : ['<the object no longer exists>'];
        const info = o.target.kind === 'Secret' ? (o.reveal ? 'values REVEALED · x: hide' : 'values hidden · x: reveal') : '';
        return { title: `YAML: ${o.target.kind.toLowerCase()}/${o.target.key}`, lines, info };
      }
      case 'describe': {
        const obj = this.store(o.target.kind).get(o.target.key);
        if (!obj) return { title: `Describe: ${o.target.kind.toLowerCase()}/${o.target.key}`, lines: ['<the object no longer exists>'], info: '' };
        return { title: `Describe: ${o.target.kind.toLowerCase()}/${o.target.key}`, lines: describeLines(obj, this.related(), now), info: '' };
      }
      case 'logs': {
        const l = this.logs;
        const all = l ? l.all() : [];
        const lines = o.wrap ? wrapLines(all, this.width - 2) : all;
        const phase = !l ? '' : l.phase === 'error' ? `error: ${l.error ?? ''}` : l.phase;
        const info = [`follow ${o.follow ? 'on' : 'off'}`, `wrap ${o.wrap ? 'on' : 'off'}`, `timestamps ${o.timestamps ? 'on' : 'off'}`, `tail ${o.tail < 0 ? 'all' : o.tail}`, phase].filter(Boolean).join(' · ');
        return { title: `Logs: ${o.target.key} [${o.container}]`, lines: lines.length > 0 ? lines : [l?.phase === 'error' ? `<${l.error}>` : '<waiting for log lines>'], info };
      }
    }
  }

  private related(): Related {
    return {
      events: () => this.store('Event').values(),
      replicaSets: () => this.store('ReplicaSet').values(),
      pods: () => this.store('Pod').values(),
      endpoints: (ns, name) => this.store('Endpoints').get(`${ns}/${name}`),
    };
  }

  private header(): HeaderInfo {
    const snap = this.poller.snapshot;
    const f = topFrame(this.state);
    const def = viewById(f.view);
    const feed = def.kind && def.source !== 'cluster' ? this.feeds.get(def.kind.kind) : undefined;
    let trouble = '';
    if (feed?.state.phase === 'backoff') {
      const secs = Math.max(0, Math.ceil(((feed.state.retryAt ?? 0) - this.timers.now()) / 1000));
      trouble = `${def.kind!.plural} stream from ${feed.state.endpoint} lost (${feed.state.error ?? 'error'}); reconnecting in ${secs}s (attempt ${feed.state.failures})`;
    }
    const answered = snap?.health.filter((h) => h.ok).length ?? 0;
    if (!trouble && snap && answered === 0) trouble = `no replica answers: ${snap.health[0]?.error ?? ''}`;
    return {
      context: this.opts.context,
      endpoint: feed ? feed.state.endpoint : def.source === 'cluster' ? `${answered}/${this.client.endpoints.length} replicas` : this.client.endpoint,
      leader: snap && snap.leader ? `${snap.leader} (${snap.leaderEndpoint || '?'})` : '?',
      term: snap && answered > 0 ? String(snap.term) : '?',
      feed: trouble,
    };
  }

  // ---- rows of the current view -------------------------------------------------------

  private nodeUsage(): NodeUsage {
    this.usage ??= new NodeUsage(this.store('Pod'));
    return this.usage;
  }

  private rows(): Rows {
    const f = topFrame(this.state);
    const def = viewById(f.view);
    if (def.source === 'cluster') return arrayRows(CLUSTER_HEADERS, clusterRows(this.poller.snapshot).map((r) => ({ key: `replica:${r.id}`, cells: r.cells, tone: r.tone, sel: { key: `replica:${r.id}`, memberId: r.id, isLeader: r.id === this.poller.snapshot?.leader } })), this.poller.snapshot ? 'No replicas' : 'Asking the replicas…', f.filter);
    if (def.source === 'containers') {
      const pod = this.store('Pod').get(f.scope?.pod ?? '');
      const rows = containerRows(pod, this.timers.now()).map((r) => ({ key: r.name, cells: r.cells, tone: r.tone, sel: { key: r.name, container: r.name, ...(pod ? { obj: pod } : {}) } }));
      return arrayRows(CONTAINER_HEADERS, rows, pod ? 'No containers' : 'The pod no longer exists', f.filter);
    }
    return this.objectRows(f, def);
  }

  private objectRows(f: ViewFrame, def: ViewDef): Rows {
    const info = def.kind!;
    const store = this.store(info.kind);
    const table = tableSpec(def);
    const ns = this.state.namespace;
    const withNamespace = f.scope ? f.scope.type === 'node' : info.namespaced && ns === '';
    const rctx: RowContext = { now: this.timers.now(), withNamespace, ...(info.kind === 'Node' ? { usage: this.nodeUsage() } : {}) };
    const specKey = JSON.stringify([f.view, f.scope ?? null, f.scope ? '' : ns, f.filter, f.sort]);
    let entry = this.indexes.get(info.kind);
    if (!entry) {
      entry = { index: new ListIndex(store, indexSpec(f, info.namespaced, ns, table, rctx)), specKey };
      this.indexes.set(info.kind, entry);
    } else if (entry.specKey !== specKey) {
      entry.index.setSpec(indexSpec(f, info.namespaced, ns, table, rctx));
      entry.specKey = specKey;
    }
    const index = entry.index;
    const filter = parseFilter(f.filter);
    const what = def.title.toLowerCase();
    return {
      headers: table.headers(withNamespace),
      get count() {
        return index.length;
      },
      slice: (a, b) => index.slice(a, b).map((e) => ({ key: e.key, cells: table.cells(e.obj, rctx), tone: table.tone(e.obj) })),
      keyAt: (i) => index.at(i)?.key,
      indexOf: (k) => index.indexOf(k),
      selected: (i) => {
        const e = index.at(i);
        return e ? { key: e.key, obj: e.obj } : undefined;
      },
      empty: !store.synced ? `Loading ${what}…` : filter.type === 'invalid' ? filter.message : f.filter ? `No ${what} match the filter` : `No ${what}`,
    };
  }

  /** Keeps the cursor on the selected object as rows move around it. */
  private anchor(): void {
    const f = topFrame(this.state);
    if (f.selectedKey === undefined || this.state.overlay) return;
    const rows = this.rows();
    const i = rows.indexOf(f.selectedKey);
    if (i === f.cursor) return;
    if (i >= 0) {
      this.state = withTop(this.state, { cursor: i, top: Math.max(0, f.top + (i - f.cursor)) });
      return;
    }
    // The selected object is gone (deleted, filtered out): select what is at the cursor now.
    const { selectedKey: _gone, ...rest } = f;
    const key = rows.keyAt(Math.min(f.cursor, rows.count - 1));
    this.state = { ...this.state, stack: [...this.state.stack.slice(0, -1), key !== undefined ? { ...rest, selectedKey: key } : rest] };
  }

  // ---- effects -----------------------------------------------------------------------

  private run(e: Effect): void {
    const report = (p: Promise<string>) =>
      p.then(
        (msg) => this.flash(msg, 'info'),
        (err: Error) => this.flash(err.message, 'error'),
      );
    switch (e.type) {
      case 'scale':
        return void report(actions.scale(this.client, e.target, e.replicas));
      case 'restart':
        return void report(actions.restart(this.client, e.target, this.timers.now()));
      case 'rollback':
        return void report(actions.rollback(this.client, e.target));
      case 'delete':
        return void report(actions.remove(this.client, e.target));
      case 'cordon':
        return void report(actions.cordon(this.client, e.target, e.unschedulable));
      case 'transfer':
        return void report(actions.transfer(this.client, e.id).finally(() => this.poller.now()));
      case 'logs':
        return this.startLogs(e.target, e.container, e.tail, e.timestamps);
      case 'stopLogs':
        this.logs?.stop();
        this.logs = undefined;
        return;
      case 'quit':
        this.opts.onQuit?.();
        return;
    }
  }

  private startLogs(t: Target, container: string, tail: number, timestamps: boolean): void {
    this.logs?.stop();
    const session = new LogSession(this.client, t.namespace, t.name, container, tail, timestamps, () => {
      if (this.logs === session) this.changed(false);
    });
    this.logs = session;
    session.start();
  }

  flash(text: string, level: 'info' | 'warn' | 'error'): void {
    if (this.stopped) return;
    this.state = { ...this.state, flash: { text, level } };
    this.armFlash();
    this.changed(true);
  }

  private armFlash(): void {
    if (this.flashTimer !== undefined) this.timers.clearTimeout(this.flashTimer);
    const flash = this.state.flash;
    this.flashTimer = this.timers.setTimeout(() => {
      this.flashTimer = undefined;
      if (this.state.flash === flash) {
        this.state = { ...this.state, flash: undefined };
        this.changed(true);
      }
    }, FLASH_MS);
  }

  // ---- redraws -----------------------------------------------------------------------

  /** Starts what the state needs: feeds, the poll rate. */
  private afterChange(): void {
    for (const kind of neededKinds(this.state)) this.store(kind);
    const onCluster = topFrame(this.state).view === 'cluster' || this.state.overlay?.type === 'member';
    const interval = onCluster ? (this.opts.clusterPollMs ?? 1000) : (this.opts.headerPollMs ?? 5000);
    if (interval !== this.poller.intervalMs) {
      this.poller.intervalMs = interval;
      if (onCluster) this.poller.now();
    }
  }

  private onData(kind: string): void {
    if (!neededKinds(this.state).includes(kind)) return;
    const f = topFrame(this.state);
    // Node bars sorted by requests: pods moving change the order.
    if (kind === 'Pod' && f.view === 'nodes' && ['CPU', 'MEMORY', 'PODS'].includes(f.sort.column)) {
      const e = this.indexes.get('Node');
      if (e) e.specKey = '';
    }
    this.changed(false);
  }

  /** Something on screen changed: redraw now (`urgent`: a key) or within coalesceMs. */
  private changed(urgent: boolean): void {
    if (this.stopped) return;
    this.version++;
    if (urgent) {
      this.emit();
      return;
    }
    if (this.emitTimer !== undefined) return;
    const delay = Math.max(0, this.lastEmit + (this.opts.coalesceMs ?? DEFAULT_COALESCE_MS) - this.timers.now());
    this.emitTimer = this.timers.setTimeout(() => this.emit(), delay);
  }

  private emit(): void {
    if (this.emitTimer !== undefined) this.timers.clearTimeout(this.emitTimer);
    this.emitTimer = undefined;
    this.lastEmit = this.timers.now();
    this.emits++;
    for (const fn of this.listeners) fn();
  }

  private tick(): void {
    const ms = this.opts.tickMs ?? 1000;
    if (ms <= 0) return;
    this.tickTimer = this.timers.setTimeout(() => {
      this.changed(false);
      this.tick();
    }, ms);
  }
}

/** The kinds the state shows, whose feeds must run. */
export function neededKinds(s: UiState): string[] {
  const out = new Set<string>();
  const f = topFrame(s);
  const def = viewById(f.view);
  if (def.kind && def.source !== 'cluster') out.add(def.kind.kind);
  if (f.view === 'nodes') out.add('Pod');
  const o = s.overlay;
  if (o?.type === 'describe') {
    out.add(o.target.kind);
    for (const k of relatedKinds(o.target.kind)) out.add(k);
  }
  if (o?.type === 'yaml') out.add(o.target.kind);
  return [...out];
}

function indexSpec(f: ViewFrame, namespaced: boolean, ns: string, table: ReturnType<typeof tableSpec>, rctx: RowContext): IndexSpec {
  const filter = parseFilter(f.filter);
  const scope: Scope | undefined = f.scope;
  const inScope = (o: PlainObject): boolean => {
    if (!scope) return !namespaced || ns === '' || namespaceOf(o) === ns;
    switch (scope.type) {
      case 'owner':
        return namespaceOf(o) === scope.namespace && ((metaOf(o).ownerReferences as Obj[] | undefined) ?? []).some((r) => r.uid === scope.uid);
      case 'selector': {
        if (namespaceOf(o) !== scope.namespace) return false;
        const labels = (metaOf(o).labels ?? {}) as Record<string, string>;
        return Object.entries(scope.selector ?? {}).every(([k, v]) => labels[k] === v);
      }
      case 'node':
        return ((o.spec as Obj | undefined)?.nodeName ?? '') === scope.node;
      case 'pod':
        return false;
    }
  };
  return {
    accept: (o) => inScope(o) && filterAccepts(filter, () => table.search(o, rctx), () => metaOf(o).labels as Record<string, string> | undefined),
    sortKey: (o) => table.sortKey(f.sort.column, o, rctx),
    desc: f.sort.desc,
  };
}

interface ArrayRow extends RowData {
  sel: Selected;
}

function arrayRows(headers: string[], all: ArrayRow[], empty: string, filterText: string): Rows {
  const filter = parseFilter(filterText);
  const rows = all.filter((r) => filterAccepts(filter, () => r.cells.join(' '), () => undefined));
  return {
    headers,
    count: rows.length,
    slice: (a, b) => rows.slice(a, b),
    keyAt: (i) => rows[i]?.key,
    indexOf: (k) => rows.findIndex((r) => r.key === k),
    selected: (i) => rows[i]?.sel,
    empty: rows.length === 0 && all.length > 0 ? 'No rows match the filter' : empty,
  };
}
