/**
 * Test doubles for the TUI: an in-memory cluster behind the UiClient interface (lists,
 * watches that can be broken on purpose, conditional updates, Cluster.Status, logs),
 * and a fake terminal for ink — a stdout that keeps every frame and a stdin that types.
 */
import { EventEmitter } from 'node:events';
import type { ClusterStatus, LogsOptions, PlainObject, WatchEventOut } from '../client/client.ts';
import type { UiClient } from './controller.ts';
import { keyOf } from './store.ts';

class FakeCallError extends Error {
  override name = 'ApiCallError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Watcher {
  kind: string;
  onEvent: (ev: WatchEventOut) => void;
  onEnd: (err: { code?: number; message: string } | undefined) => void;
  endpoint: string;
}

export class FakeClient implements UiClient {
  readonly endpoints: string[];
  private current = 0;
  private rv = 100;
  private readonly objects = new Map<string, Map<string, PlainObject>>();
  private readonly watchers = new Set<Watcher>();
  /** Every change, for watches that resume from a version. */
  private readonly history: { kind: string; ev: WatchEventOut }[] = [];
  /** Every call, for assertions: `update Deployment shop/web`. */
  readonly calls: string[] = [];
  statuses: (ClusterStatus | Error)[] = [];
  /** Versions older than this are "too old" for a watch. */
  oldest = 0;
  logLines: string[] = [];
  private readonly logStreams = new Set<{ onData: (b: Buffer) => void; resolve: () => void }>();

  constructor(endpoints = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003']) {
    this.endpoints = endpoints;
  }

  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  private kindMap(kind: string): Map<string, PlainObject> {
    let m = this.objects.get(kind);
    if (!m) this.objects.set(kind, (m = new Map()));
    return m;
  }

  /** Creates or replaces an object (as a controller or another user would) and notifies watchers. */
  put(obj: PlainObject): PlainObject {
    const kind = String(obj.kind);
    const key = keyOf(obj);
    const m = this.kindMap(kind);
    const existed = m.has(key);
    const meta = { ...(obj.metadata as Record<string, unknown>) };
    meta.resourceVersion = String(++this.rv);
    meta.uid ??= `uid-${kind}-${key}`;
    meta.creationTimestamp ??= '2025-01-01T00:00:00Z';
    const stored = { ...obj, metadata: meta } as PlainObject;
    m.set(key, stored);
    this.notify(kind, { type: existed ? 'MODIFIED' : 'ADDED', object: stored, resourceVersion: String(this.rv) });
    return stored;
  }

  remove(kind: string, key: string): void {
    const m = this.kindMap(kind);
    const prev = m.get(key);
    if (!prev) return;
    m.delete(key);
    this.rv++;
    this.notify(kind, { type: 'DELETED', object: prev, resourceVersion: String(this.rv) });
  }

  private notify(kind: string, ev: WatchEventOut): void {
    this.history.push({ kind, ev });
    for (const w of this.watchers) if (w.kind === kind) w.onEvent(ev);
  }

  /** Ends every watch stream with an error, as a replica that died would. */
  breakWatches(code = 14, message = 'Connection dropped'): void {
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.onEnd({ code, message });
    }
    this.current = (this.current + 1) % this.endpoints.length;
  }

  watchCount(kind?: string): number {
    return [...this.watchers].filter((w) => !kind || w.kind === kind).length;
  }

  async list(kind: string): Promise<{ items: PlainObject[]; resourceVersion: string; continue: string }> {
    this.calls.push(`list ${kind}`);
    return { items: [...this.kindMap(kind).values()], resourceVersion: String(this.rv), continue: '' };
  }

  watch(
    kind: string,
    opts: { resourceVersion?: string },
    onEvent: (ev: WatchEventOut) => void,
    onEnd: (err: { code?: number; message: string } | undefined) => void,
  ): () => void {
    this.calls.push(`watch ${kind} ${opts.resourceVersion ?? ''}`);
    const from = Number(opts.resourceVersion ?? 0);
    if (from < this.oldest) {
      queueMicrotask(() => onEnd({ code: 11, message: `too old resource version: ${from} (${this.oldest})` }));
      return () => {};
    }
    const w: Watcher = { kind, onEvent, onEnd, endpoint: this.endpoint };
    // What happened after `from` comes first, then what happens next.
    for (const h of this.history) if (h.kind === kind && Number(h.ev.resourceVersion) > from) onEvent(h.ev);
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  async get(kind: string, namespace: string, name: string): Promise<PlainObject> {
    const o = this.kindMap(kind).get(namespace ? `${namespace}/${name}` : name);
    if (!o) throw new FakeCallError(5, `${kind.toLowerCase()}s "${name}" not found`);
    return structuredClone(o);
  }

  async update(obj: PlainObject): Promise<PlainObject> {
    const kind = String(obj.kind);
    const cur = this.kindMap(kind).get(keyOf(obj));
    this.calls.push(`update ${kind} ${keyOf(obj)}`);
    if (!cur) throw new FakeCallError(5, 'not found');
    const rv = (obj.metadata as { resourceVersion?: string }).resourceVersion;
    if (rv && rv !== (cur.metadata as { resourceVersion?: string }).resourceVersion) throw new FakeCallError(10, 'the object has been modified');
    return this.put(obj);
  }

  async delete(kind: string, namespace: string, name: string): Promise<PlainObject> {
    this.calls.push(`delete ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
    const key = namespace ? `${namespace}/${name}` : name;
    const o = this.kindMap(kind).get(key);
    if (!o) throw new FakeCallError(5, `${kind.toLowerCase()} "${name}" not found`);
    this.remove(kind, key);
    return o;
  }

  async status(endpoint?: number): Promise<ClusterStatus> {
    const s = this.statuses[endpoint ?? this.current];
    if (!s) throw new FakeCallError(14, 'No connection established');
    if (s instanceof Error) throw s;
    return s;
  }

  async transferLeader(to: number): Promise<ClusterStatus> {
    this.calls.push(`transferLeader ${to}`);
    const s = this.statuses.find((x): x is ClusterStatus => !(x instanceof Error));
    if (!s) throw new FakeCallError(14, 'No connection established');
    return { ...s, leader: to };
  }

  logs(namespace: string, pod: string, opts: LogsOptions, onData: (chunk: Buffer) => void): { done: Promise<void>; cancel: () => void } {
    this.calls.push(`logs ${namespace}/${pod} ${opts.container ?? ''} tail=${opts.tailLines ?? -1}`);
    let entry: { onData: (b: Buffer) => void; resolve: () => void } | undefined;
    const done = new Promise<void>((resolve) => {
      entry = { onData, resolve };
      this.logStreams.add(entry);
    });
    const lines = opts.tailLines !== undefined && opts.tailLines >= 0 ? this.logLines.slice(-opts.tailLines) : this.logLines;
    if (lines.length > 0) queueMicrotask(() => onData(Buffer.from(lines.map((l) => `${l}\n`).join(''))));
    return {
      done,
      cancel: () => {
        this.logStreams.delete(entry!);
        entry!.resolve();
      },
    };
  }

  /** More log text on every open stream. */
  emitLog(text: string): void {
    for (const s of this.logStreams) s.onData(Buffer.from(text));
  }
}

/** A status as a replica reports it. */
export function replicaStatus(id: number, leader: number, term: number, endpoints: readonly string[], applied = 42): ClusterStatus {
  return {
    id,
    role: id === leader ? 'leader' : 'follower',
    term,
    leader,
    leader_api_address: endpoints[leader - 1] ?? '',
    commit_index: applied,
    applied_index: applied,
    last_index: applied,
    members: endpoints.map((e, i) => ({ id: i + 1, peer_address: `127.0.0.1:${9001 + i}`, api_address: e, voter: true, leader: i + 1 === leader, match_index: applied, lag: 0, progress_state: 'replicate', active: true })),
    version: 'test',
    cluster_id: 'berth',
  };
}

/** ink's stdout: remembers every frame written. */
export class FakeStdout extends EventEmitter {
  isTTY = true;
  readonly frames: string[] = [];
  constructor(
    public columns = 120,
    public rows = 30,
  ) {
    super();
  }
  write = (s: string): boolean => {
    this.frames.push(s);
    return true;
  };
  /** The last frame written. */
  get last(): string {
    return this.frames[this.frames.length - 1] ?? '';
  }
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

/** ink's stdin: `type('…')` delivers keys as a terminal would. */
export class FakeStdin extends EventEmitter {
  isTTY = true;
  private readonly queue: string[] = [];
  setRawMode(): this {
    return this;
  }
  setEncoding(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  pause(): this {
    return this;
  }
  read(): string | null {
    return this.queue.shift() ?? null;
  }
  type(s: string): void {
    this.queue.push(s);
    this.emit('readable');
  }
}
