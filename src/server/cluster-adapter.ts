/**
 * The `Cluster` the leader's components use (src/controllers/types.ts), over this
 * replica's ObjectsApi and store: reads are local and synchronous (the leader's store has
 * everything it committed), writes take the same admission path as any client and carry
 * the term the component decided in, so a deposed leader cannot commit a stale decision.
 */
import { status } from '@grpc/grpc-js';
import type { Binding, BindResult, Cluster, DeleteOptions, ListOptions, ObjectEvent, WriteErrorReason } from '../controllers/types.ts';
import { WriteError } from '../controllers/types.ts';
import { ReplicaError } from '../raft/index.ts';
import type { ObjectStore, Result } from '../store/index.ts';
import type { PlainObject } from './convert.ts';
import { ApiError } from './errors.ts';
import type { ObjectsApi } from './objects.ts';

const REASONS: Partial<Record<number, WriteErrorReason>> = {
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.ABORTED]: 'Conflict',
  [status.INVALID_ARGUMENT]: 'Invalid',
  [status.UNAVAILABLE]: 'Unavailable',
  [status.FAILED_PRECONDITION]: 'Forbidden',
  [status.RESOURCE_EXHAUSTED]: 'Invalid',
};

function asWriteError(e: unknown): WriteError {
  if (e instanceof WriteError) return e;
  if (e instanceof ApiError) return new WriteError(REASONS[e.code] ?? 'Unknown', e.message);
  if (e instanceof ReplicaError) return new WriteError('Unavailable', e.message);
  return new WriteError('Unknown', (e as Error)?.message ?? String(e));
}

const FAILURE_REASONS: Record<string, WriteErrorReason> = { NotFound: 'NotFound', AlreadyExists: 'AlreadyExists', Conflict: 'Conflict', Invalid: 'Invalid', Gone: 'Conflict' };

export interface ApiClusterOptions {
  api: ObjectsApi;
  store: ObjectStore;
  /** The term decisions are made in (fixed for one leadership). */
  term: number;
  /** Per-write deadline (ms). */
  writeTimeoutMs?: number;
}

export class ApiCluster implements Cluster {
  private readonly api: ObjectsApi;
  private readonly store: ObjectStore;
  private readonly term: number;
  private readonly timeout: number;

  constructor(o: ApiClusterOptions) {
    this.api = o.api;
    this.store = o.store;
    this.term = o.term;
    this.timeout = o.writeTimeoutMs ?? 10_000;
  }

  get(kind: string, namespace: string, name: string): PlainObject | undefined {
    const o = this.store.get(kind, namespace, name);
    return o ? this.api.reveal(o) : undefined;
  }

  list(kind: string, opts: ListOptions = {}): PlainObject[] {
    const info = this.api.kind(kind);
    if (kind === 'Pod' && opts.fieldSelector && /^spec\.nodeName=[^,]+$/.test(opts.fieldSelector) && !opts.labelSelector) {
      // The store indexes pods by node.
      const node = opts.fieldSelector.slice('spec.nodeName='.length);
      return this.store.podsOnNode(node).filter((p) => !opts.namespace || p.metadata.namespace === opts.namespace) as PlainObject[];
    }
    const filter = this.api.filterFor(info, opts.labelSelector, opts.fieldSelector);
    const r = this.store.list({ kind: info.kind, ...(info.namespaced && opts.namespace ? { namespace: opts.namespace } : {}), ...(filter ? { filter } : {}) });
    return info.kind === 'Secret' ? r.items.map((o) => this.api.reveal(o)) : (r.items as PlainObject[]);
  }

  watch(kind: string, onEvent: (ev: ObjectEvent) => void, opts: ListOptions = {}): () => void {
    const info = this.api.kind(kind);
    const filter = this.api.filterFor(info, opts.labelSelector, opts.fieldSelector);
    const h = this.store.watch(
      {
        kind: info.kind,
        ...(info.namespaced && opts.namespace ? { namespace: opts.namespace } : {}),
        ...(filter ? { filter } : {}),
        fromResourceVersion: String(this.store.appliedIndex()),
      },
      (ev) => {
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') return;
        const prev = (ev as { prev?: PlainObject }).prev;
        onEvent({ type: ev.type, object: this.api.reveal(ev.object), ...(prev ? { prev: this.api.reveal(prev) } : {}) });
      },
    );
    return () => h.cancel();
  }

  /**
   * Create many objects in one proposal, each on its own: one entry per input, the created
   * object or the WriteError its create would have thrown. Throws a WriteError only when
   * the proposal as a whole fails (e.g. Unavailable); then no object may be assumed made.
   */
  async createMany(objs: PlainObject[]): Promise<(PlainObject | WriteError)[]> {
    let rs;
    try {
      rs = await this.api.createMany(objs, { term: this.term, deadline: Date.now() + this.timeout });
    } catch (e) {
      throw asWriteError(e);
    }
    return rs.map((r) => ('object' in r ? r.object : asWriteError(r.error)));
  }

  async create(obj: PlainObject): Promise<PlainObject> {
    try {
      return await this.api.create(obj, { term: this.term, deadline: Date.now() + this.timeout });
    } catch (e) {
      throw asWriteError(e);
    }
  }

  async update(obj: PlainObject): Promise<PlainObject> {
    return this.conditional(obj, false);
  }

  async updateStatus(obj: PlainObject): Promise<PlainObject> {
    return this.conditional(obj, true);
  }

  private async conditional(obj: PlainObject, statusOnly: boolean): Promise<PlainObject> {
    const rv = (obj.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (!rv) throw new WriteError('Invalid', 'metadata.resourceVersion: Required value: controller writes are conditional');
    try {
      return await this.api.update(obj, { term: this.term, status: statusOnly, deadline: Date.now() + this.timeout });
    } catch (e) {
      throw asWriteError(e);
    }
  }

  async delete(kind: string, namespace: string, name: string, opts: DeleteOptions = {}): Promise<PlainObject> {
    try {
      return await this.api.delete(kind, namespace, name, {
        term: this.term,
        deadline: Date.now() + this.timeout,
        ...(opts.uid ? { preconditionUid: opts.uid } : {}),
        ...(opts.resourceVersion ? { preconditionResourceVersion: opts.resourceVersion } : {}),
        ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
        ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
      });
    } catch (e) {
      throw asWriteError(e);
    }
  }

  async bind(bindings: Binding[]): Promise<BindResult[]> {
    let results: Result[];
    try {
      results = await this.api.bind(bindings, { term: this.term, deadline: Date.now() + this.timeout });
    } catch (e) {
      throw asWriteError(e);
    }
    return bindings.map((binding, i) => {
      const r = results[i];
      if (r?.ok) return { binding, ok: true };
      return { binding, ok: false, reason: r ? (FAILURE_REASONS[r.code] ?? 'Unknown') : 'Unknown', message: r?.message ?? 'no result' };
    });
  }
}
