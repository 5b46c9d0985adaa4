/**
 * The namespace controller (Kubernetes' pkg/controller/namespace): a Namespace marked
 * for deletion is shown as Terminating, everything inside it is deleted, and when
 * nothing is left the `kubernetes` finalizer is removed so the Namespace itself goes.
 *
 * The API server puts `kubernetes` in spec.finalizers (as Kubernetes does). The store
 * keeps an object being deleted only while metadata.finalizers is non-empty, so this
 * controller removes `kubernetes` from both lists, and it also cleans up after a
 * Namespace the store removed at once (seen as DELETED while content remains): either
 * way nothing is left behind in a namespace that is gone. `default` and `kube-system`
 * are never emptied.
 */
import { KINDS } from '../api/index.ts';
import type { Namespace } from '../api/index.ts';
import { clone, guarded, leaderOnly, isNotFound, metaOf, sameJson, type Meta } from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, ObjectEvent, PlainObject } from './types.ts';

export const NAMESPACE_FINALIZER = 'kubernetes';
export const PROTECTED_NAMESPACES: ReadonlySet<string> = new Set(['default', 'kube-system']);

/**
 * Namespaced kinds in the order their objects are deleted: the controllers' objects
 * first, so they stop making pods while the pods go.
 */
const CONTENT_ORDER = ['CronJob', 'HorizontalPodAutoscaler', 'Deployment', 'Job', 'ReplicaSet'];
export const NAMESPACED_KINDS: readonly string[] = KINDS.filter((k) => k.namespaced)
  .map((k) => k.kind)
  .sort((a, b) => rank(a) - rank(b));

function rank(kind: string): number {
  const i = CONTENT_ORDER.indexOf(kind);
  return i < 0 ? CONTENT_ORDER.length : i;
}

export interface NamespaceControllerOptions {
  /** How often a terminating namespace whose content is still going is looked at again (ms). */
  recheckMs?: number;
}

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  /** Namespaces seen removed while they may still have content. */
  private readonly gone = new Set<string>();
  private readonly recheckMs: number;

  constructor(opts: NamespaceControllerOptions = {}) {
    this.recheckMs = opts.recheckMs ?? 15_000;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = { ...ctx, cluster: leaderOnly(ctx.cluster, ctx.signal) };
    this.queue = new WorkQueue((name) => this.sync(name), {
      clock: ctx.clock,
      onError: (key, err, n) => ctx.log.debug(`namespace ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    const stops: (() => void)[] = [];
    for (const ns of ctx.cluster.list('Namespace')) if (metaOf(ns).deletionTimestamp) this.queue.add(metaOf(ns).name ?? '');
    stops.push(ctx.cluster.watch('Namespace', guarded(ctx.log, 'namespace watch', (ev: ObjectEvent) => this.onNamespace(ev))));
    // Content that changes in a terminating namespace (a pod finally gone, a late create) is a reason to look again.
    for (const kind of NAMESPACED_KINDS) {
      stops.push(ctx.cluster.watch(kind, guarded(ctx.log, `namespace ${kind} watch`, (ev: ObjectEvent) => this.onContent(ev))));
    }
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        for (const stop of stops) stop();
      },
      { once: true },
    );
  }

  /** Resolves when nothing is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  private onNamespace(ev: ObjectEvent): void {
    const name = metaOf(ev.object).name ?? '';
    if (PROTECTED_NAMESPACES.has(name)) {
      if (ev.type === 'DELETED' || metaOf(ev.object).deletionTimestamp) this.ctx.log.warn(`namespace ${name} is being deleted; it is never emptied`);
      return;
    }
    if (ev.type === 'DELETED') {
      this.gone.add(name);
      this.queue.add(name);
    } else if (metaOf(ev.object).deletionTimestamp) {
      this.queue.add(name);
    } else {
      this.gone.delete(name);
    }
  }

  private onContent(ev: ObjectEvent): void {
    const ns = metaOf(ev.object).namespace ?? '';
    if (!ns || PROTECTED_NAMESPACES.has(ns)) return;
    if (ev.type === 'MODIFIED') return;
    if (this.gone.has(ns)) {
      this.queue.add(ns);
      return;
    }
    const n = this.ctx.cluster.get('Namespace', '', ns);
    if (n && metaOf(n).deletionTimestamp) this.queue.add(ns);
  }

  private async sync(name: string): Promise<number | void> {
    if (PROTECTED_NAMESPACES.has(name)) return;
    const { cluster } = this.ctx;
    const ns = cluster.get('Namespace', '', name) as unknown as Namespace | undefined;
    if (!ns) {
      if (!this.gone.has(name)) return;
      const left = await this.deleteContent(name);
      if (left === 0) {
        this.gone.delete(name);
        return;
      }
      return this.recheckMs;
    }
    if (!ns.metadata.deletionTimestamp) {
      this.gone.delete(name);
      return;
    }
    let current = ns as unknown as PlainObject;
    if (ns.status?.phase !== 'Terminating') {
      current = await cluster.updateStatus({ ...clone(current), status: { ...(clone(ns.status) ?? {}), phase: 'Terminating' } });
    }
    const left = await this.deleteContent(name);
    if (left > 0) return this.recheckMs;
    await this.finalize(current);
  }

  /** Delete every object in the namespace; returns how many are still there. */
  private async deleteContent(namespace: string): Promise<number> {
    const { cluster } = this.ctx;
    for (const kind of NAMESPACED_KINDS) {
      for (const o of cluster.list(kind, { namespace })) {
        const m = metaOf(o);
        if (m.deletionTimestamp) continue;
        try {
          await cluster.delete(kind, namespace, m.name ?? '', { uid: m.uid });
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }
    let left = 0;
    for (const kind of NAMESPACED_KINDS) left += cluster.list(kind, { namespace }).length;
    return left;
  }

  /** Remove the namespace finalizer (from spec and, where a store keeps it there, metadata). */
  private async finalize(ns: PlainObject): Promise<void> {
    const copy = clone(ns);
    const spec = (copy.spec ?? {}) as { finalizers?: string[] };
    const m = copy.metadata as Meta;
    const specNext = (spec.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
    const metaNext = (m.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
    if (sameJson(specNext, spec.finalizers ?? []) && sameJson(metaNext, m.finalizers ?? [])) return;
    copy.spec = { ...spec, finalizers: specNext };
    if (metaNext.length > 0) m.finalizers = metaNext;
    else delete m.finalizers;
    try {
      await this.ctx.cluster.update(copy);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
