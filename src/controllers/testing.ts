/**
 * Test doubles for the leader's components: a fake clock, an in-memory cluster that is the
 * real object store and the real admission path (defaults, validation, preconditions,
 * the binding check) without Raft, and a ControllerContext built from them.
 *
 * LocalCluster is the same `Cluster` the leader uses (ApiCluster over ObjectsApi); only
 * the proposer differs: each write becomes the next entry, applied at once, in the term
 * set in `cluster.term`.
 */
import { randomBytes } from 'node:crypto';
import { kindInfo } from '../api/index.ts';
import { ApiCluster } from '../server/cluster-adapter.ts';
import { ObjectsApi } from '../server/objects.ts';
import type { Applied } from '../server/proposer.ts';
import { encodeCommand, MemoryKV, ObjectStore, SecretCipher, type Command, type StoredObject } from '../store/index.ts';
import {
  DEFAULT_CLUSTER_CONFIG,
  type Binding,
  type BindResult,
  type Clock,
  type Cluster,
  type ClusterConfig,
  type ControllerContext,
  type DeleteOptions,
  type EventRecorder,
  type ListOptions,
  type LivenessSource,
  type Logger,
  type ObjectEvent,
  type PlainObject,
  type UsageSource,
  type WriteError,
} from './types.ts';

/** Let every pending promise chain and I/O callback run (a few event-loop turns). */
export async function flush(turns = 8): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told. Timers run in due order, each followed by a flush. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  constructor(start = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, running every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await flush();
    for (;;) {
      let next: Timer | undefined;
      for (const tm of this.timers) if (tm.at <= target && (!next || tm.at < next.at || (tm.at === next.at && tm.seq < next.seq))) next = tm;
      if (!next) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await flush();
    }
    this.t = target;
    await flush();
  }
}

export interface LocalClusterOptions {
  clock?: Clock;
  /** The store's binding check (e.g. the scheduler's bindingFits). Absent: every binding fits. */
  bindCheck?: (node: StoredObject, pod: StoredObject, podsOnNode: StoredObject[]) => string | undefined;
}

/** A `Cluster` on a real in-memory ObjectStore, with counters of what was written. */
export class LocalCluster implements Cluster {
  /** The term entries are committed in; change it to simulate a leadership change. */
  term = 1;
  /** Writes proposed (each create/createMany/update/delete/bind call is one entry). */
  proposals = 0;
  private index = 0;
  private inner: ApiCluster;
  private decisionTerm = 1;

  private constructor(
    readonly store: ObjectStore,
    readonly api: ObjectsApi,
  ) {
    this.inner = new ApiCluster({ api, store, term: 1 });
  }

  static async create(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
    const clock = opts.clock;
    const store = await ObjectStore.open(new MemoryKV(), {
      kindInfo: (k) => {
        const i = kindInfo(k);
        return i ? { plural: i.plural, namespaced: i.namespaced } : undefined;
      },
      logger: { warn: () => {} },
      ...(opts.bindCheck ? { bindCheck: opts.bindCheck } : {}),
    });
    let self!: LocalCluster;
    const proposer = {
      propose: async (cmd: Command, _deadline: number): Promise<Applied> => {
        self.proposals++;
        const index = ++self.index;
        const [result] = await store.applyEntries([{ index, term: self.term, data: encodeCommand(cmd) }]);
        return { index, result: result! };
      },
    };
    const api = new ObjectsApi({
      replica: { readIndex: async () => self.index },
      store,
      proposer,
      cipher: SecretCipher.fromKeys([randomBytes(32)]),
      waitApplied: async () => {},
      ...(clock ? { now: () => new Date(clock.now()) } : {}),
    });
    self = new LocalCluster(store, api);
    await api.ensureNamespaces(Date.now() + 5000);
    return self;
  }

  /**
   * Decide in `term` from now on (what a component started under that leadership would
   * carry). Writes then fail with Conflict while `this.term` differs.
   */
  decideIn(term: number): void {
    this.decisionTerm = term;
    this.inner = new ApiCluster({ api: this.api, store: this.store, term });
  }

  get decidingTerm(): number {
    return this.decisionTerm;
  }

  get(kind: string, namespace: string, name: string): PlainObject | undefined {
    return this.inner.get(kind, namespace, name);
  }
  list(kind: string, opts?: ListOptions): PlainObject[] {
    return this.inner.list(kind, opts);
  }
  watch(kind: string, onEvent: (ev: ObjectEvent) => void, opts?: ListOptions): () => void {
    return this.inner.watch(kind, onEvent, opts);
  }
  create(obj: PlainObject): Promise<PlainObject> {
    return this.inner.create(obj);
  }
  /** One entry for all of them, as on the leader (ApiCluster.createMany). */
  createMany(objs: PlainObject[]): Promise<(PlainObject | WriteError)[]> {
    return this.inner.createMany(objs);
  }
  update(obj: PlainObject): Promise<PlainObject> {
    return this.inner.update(obj);
  }
  updateStatus(obj: PlainObject): Promise<PlainObject> {
    return this.inner.updateStatus(obj);
  }
  delete(kind: string, namespace: string, name: string, opts?: DeleteOptions): Promise<PlainObject> {
    return this.inner.delete(kind, namespace, name, opts);
  }
  bind(bindings: Binding[]): Promise<BindResult[]> {
    return this.inner.bind(bindings);
  }
}

export interface RecordedEvent {
  object: PlainObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Keeps every event it is given, in order. */
export class RecordingEvents implements EventRecorder {
  readonly list: RecordedEvent[] = [];
  event(object: PlainObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.list.push({ object, type, reason, message });
  }
  /** Events with this reason. */
  withReason(reason: string): RecordedEvent[] {
    return this.list.filter((e) => e.reason === reason);
  }
}

/** Pod usage set by the test. */
export class FakeUsage implements UsageSource {
  private readonly pods = new Map<string, { timestamp: number; containers: { name: string; cpuMillicores: number; memoryBytes: number }[] }>();
  set(namespace: string, name: string, containers: { name: string; cpuMillicores: number; memoryBytes?: number }[], timestamp = 0): void {
    this.pods.set(`${namespace}/${name}`, { timestamp, containers: containers.map((c) => ({ name: c.name, cpuMillicores: c.cpuMillicores, memoryBytes: c.memoryBytes ?? 0 })) });
  }
  clear(namespace: string, name: string): void {
    this.pods.delete(`${namespace}/${name}`);
  }
  podUsage(namespace: string, name: string) {
    return this.pods.get(`${namespace}/${name}`);
  }
}

/** Node silence set by the test (ms since last heartbeat), or computed from lastSeen on the clock. */
export class FakeLiveness implements LivenessSource {
  private readonly seen = new Map<string, number>();
  constructor(private readonly clock: Clock) {}
  /** Record a heartbeat now. */
  heartbeat(node: string): void {
    this.seen.set(node, this.clock.now());
  }
  forget(node: string): void {
    this.seen.delete(node);
  }
  silentForMs(node: string): number | undefined {
    const t = this.seen.get(node);
    return t === undefined ? undefined : this.clock.now() - t;
  }
}

export const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface TestContext extends ControllerContext {
  cluster: LocalCluster;
  clock: FakeClock;
  events: RecordingEvents;
  usage: FakeUsage;
  liveness: FakeLiveness;
  /** Lose leadership: abort the signal. */
  abort(): void;
}

/** A ControllerContext over a LocalCluster and FakeClock, with recording events. */
export function testContext(cluster: LocalCluster, clock: FakeClock, overrides: { config?: Partial<ClusterConfig>; log?: Logger } = {}): TestContext {
  const ac = new AbortController();
  return {
    cluster,
    clock,
    events: new RecordingEvents(),
    config: { ...DEFAULT_CLUSTER_CONFIG, ...overrides.config },
    log: overrides.log ?? quietLogger,
    usage: new FakeUsage(),
    liveness: new FakeLiveness(clock),
    signal: ac.signal,
    abort: () => ac.abort(),
  };
}
