/**
 * The Endpoints controller (Kubernetes' pkg/controller/endpoint): for each Service with a
 * selector, an Endpoints object of the same name listing the IPs of the pods it selects,
 * ready ones under `addresses` and the others under `notReadyAddresses` (all under
 * `addresses` with publishNotReadyAddresses), with the ports resolved from each service
 * port's targetPort (a number, or the name of a container port).
 *
 * The Endpoints object is derived entirely from the Service and its pods on every sync and
 * written only when it differs from what is stored (update conditional on its
 * resourceVersion). Endpoints have no owner reference: when a Service goes, its Endpoints
 * are deleted here (conditional on their uid), and at start-up any Endpoints without a
 * Service is deleted, as Kubernetes does.
 */
import type { EndpointAddress, EndpointPort, EndpointSubset, Pod, Service, ServicePort } from '../api/index.ts';
import { selectorFromSet } from '../api/index.ts';
import { clone, guarded, isNotFound, isPodReady, keyOf, metaOf, podPhase, sameJson, splitKey } from './pod-util.ts';
import { WorkQueue } from './queue.ts';
import type { Controller, ControllerContext, ObjectEvent, PlainObject } from './types.ts';

/** Set (empty) on Endpoints of headless services (clusterIP None). */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** Set to "truncated" when more than MAX_ADDRESSES addresses were found. */
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';
export const MAX_ADDRESSES = 1000;
/** Endpoints used as a leader-election lock are not ours, even without a Service. */
const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

function podIP(pod: Pod): string | undefined {
  return pod.status?.podIP || pod.status?.podIPs?.[0]?.ip || undefined;
}

/** Kubernetes' ShouldPodBeInEndpoints: has an IP, not finished, not terminating (unless published). */
function podBelongs(pod: Pod, includeTerminating: boolean): boolean {
  const phase = podPhase(pod as unknown as PlainObject);
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (!podIP(pod)) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  return true;
}

/** Kubernetes' FindPort: a numeric targetPort as is; a name looked up in the pod's container ports. */
export function findPort(pod: Pod, sp: ServicePort): number | undefined {
  const target = sp.targetPort ?? sp.port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const protocol = sp.protocol ?? 'TCP';
  const sidecars = (pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  for (const c of [...pod.spec.containers, ...sidecars]) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

function addressKey(a: EndpointAddress): string {
  return `${a.ip}\u0000${a.targetRef?.uid ?? ''}`;
}

function portKey(p: EndpointPort): string {
  return `${p.name ?? ''}\u0000${p.port}\u0000${p.protocol ?? 'TCP'}\u0000${p.appProtocol ?? ''}`;
}

function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : (a.targetRef?.uid ?? '').localeCompare(b.targetRef?.uid ?? '');
}

function comparePorts(a: EndpointPort, b: EndpointPort): number {
  return portKey(a).localeCompare(portKey(b));
}

/**
 * Kubernetes' RepackSubsets: one subset per distinct set of addresses offering the same
 * ports; an address both ready and not ready counts as ready; everything sorted so equal
 * contents compare equal.
 */
export function repackSubsets(entries: { address: EndpointAddress; ready: boolean; port?: EndpointPort }[]): EndpointSubset[] {
  // port → addresses offering it (ready wins). A port-less entry uses a sentinel port.
  const byPort = new Map<string, { port?: EndpointPort; addrs: Map<string, { address: EndpointAddress; ready: boolean }> }>();
  for (const e of entries) {
    const k = e.port ? portKey(e.port) : '';
    let g = byPort.get(k);
    if (!g) byPort.set(k, (g = { ...(e.port ? { port: e.port } : {}), addrs: new Map() }));
    const ak = addressKey(e.address);
    const had = g.addrs.get(ak);
    if (!had || (!had.ready && e.ready)) g.addrs.set(ak, { address: e.address, ready: e.ready });
  }
  // address set → the ports they all offer.
  const bySet = new Map<string, { addrs: { address: EndpointAddress; ready: boolean }[]; ports: EndpointPort[] }>();
  for (const g of byPort.values()) {
    const addrs = [...g.addrs.values()].sort((a, b) => compareAddresses(a.address, b.address));
    const k = addrs.map((a) => `${addressKey(a.address)}\u0000${a.ready ? 1 : 0}`).join('\u0001');
    let s = bySet.get(k);
    if (!s) bySet.set(k, (s = { addrs, ports: [] }));
    if (g.port) s.ports.push(g.port);
  }
  const out: EndpointSubset[] = [];
  for (const s of bySet.values()) {
    const ready = s.addrs.filter((a) => a.ready).map((a) => a.address);
    const notReady = s.addrs.filter((a) => !a.ready).map((a) => a.address);
    out.push({
      ...(ready.length > 0 ? { addresses: ready } : {}),
      ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
      ...(s.ports.length > 0 ? { ports: s.ports.sort(comparePorts) } : {}),
    });
  }
  const subsetKey = (s: EndpointSubset) => (s.ports ?? []).map(portKey).join('\u0001') + '\u0002' + [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])].map(addressKey).join('\u0001');
  return out.sort((a, b) => subsetKey(a).localeCompare(subsetKey(b)));
}

/** Keep at most `max` addresses, ready ones first (Kubernetes truncates over-capacity Endpoints). */
function truncate(subsets: EndpointSubset[], max: number): { subsets: EndpointSubset[]; truncated: boolean } {
  const total = subsets.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
  if (total <= max) return { subsets, truncated: false };
  let budget = max;
  const ready = subsets.map((s) => {
    const keep = (s.addresses ?? []).slice(0, budget);
    budget -= keep.length;
    return keep;
  });
  const out = subsets.map((s, i) => {
    const notReady = (s.notReadyAddresses ?? []).slice(0, budget);
    budget -= notReady.length;
    return {
      ...(ready[i]!.length > 0 ? { addresses: ready[i]! } : {}),
      ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
      ...(s.ports ? { ports: s.ports } : {}),
    };
  });
  return { subsets: out.filter((s) => s.addresses || s.notReadyAddresses), truncated: true };
}

/** The subsets a Service's Endpoints should have, from the pods it selects. */
export function computeSubsets(svc: Service, pods: readonly Pod[]): EndpointSubset[] {
  const publishNotReady = svc.spec.publishNotReadyAddresses === true;
  const entries: { address: EndpointAddress; ready: boolean; port?: EndpointPort }[] = [];
  const svcName = svc.metadata.name;
  for (const pod of pods) {
    if (!podBelongs(pod, publishNotReady)) continue;
    const address: EndpointAddress = {
      ip: podIP(pod)!,
      ...(pod.spec.hostname && pod.spec.subdomain === svcName ? { hostname: pod.spec.hostname } : {}),
      ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' },
    };
    const ready = publishNotReady || isPodReady(pod as unknown as PlainObject);
    const ports = svc.spec.ports ?? [];
    if (ports.length === 0) {
      // Only headless services may have no ports; their addresses still count.
      if (svc.spec.clusterIP === 'None') entries.push({ address, ready });
      continue;
    }
    for (const sp of ports) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      entries.push({
        address,
        ready,
        port: { ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) },
      });
    }
  }
  return repackSubsets(entries);
}

/** The pod fields Endpoints depend on; a change elsewhere needs no sync. */
function podFingerprint(p: PlainObject): string {
  const pod = p as unknown as Pod;
  return JSON.stringify([
    pod.metadata.labels ?? {},
    podIP(pod) ?? '',
    isPodReady(p),
    Boolean(pod.metadata.deletionTimestamp),
    podPhase(p),
    pod.spec?.nodeName ?? '',
    pod.spec?.hostname ?? '',
    pod.spec?.subdomain ?? '',
  ]);
}

export interface EndpointsControllerOptions {
  concurrency?: number;
}

export class EndpointsController implements Controller {
  readonly name = 'endpoints';
  private ctx!: ControllerContext;
  private queue!: WorkQueue;
  private readonly concurrency: number;
  /** What Endpoints depend on, per pod, as last seen (the watch does not give the old object). */
  private readonly seen = new Map<string, { fp: string; labels: Record<string, string> }>();

  constructor(opts: EndpointsControllerOptions = {}) {
    this.concurrency = opts.concurrency ?? 5;
  }

  start(ctx: ControllerContext): void {
    if (ctx.signal.aborted) return;
    this.ctx = ctx;
    this.queue = new WorkQueue((key) => this.sync(key), {
      clock: ctx.clock,
      concurrency: this.concurrency,
      baseDelayMs: 10,
      maxDelayMs: 30_000,
      onError: (key, err, n) => ctx.log.debug(`endpoints ${key}: sync failed (${n}): ${(err as Error)?.message ?? String(err)}`),
    });
    const { cluster } = ctx;
    for (const p of cluster.list('Pod')) this.seen.set(keyOf(p), { fp: podFingerprint(p), labels: metaOf(p).labels ?? {} });
    for (const s of cluster.list('Service')) this.queue.add(keyOf(s));
    // Endpoints left over from services deleted while no leader was watching.
    for (const e of cluster.list('Endpoints')) this.queue.add(keyOf(e));
    const stops = [
      cluster.watch('Service', guarded(ctx.log, 'endpoints service watch', (ev: ObjectEvent) => this.queue.add(keyOf(ev.object)))),
      cluster.watch('Pod', guarded(ctx.log, 'endpoints pod watch', (ev: ObjectEvent) => this.onPod(ev))),
      cluster.watch(
        'Endpoints',
        guarded(ctx.log, 'endpoints watch', (ev: ObjectEvent) => {
          // Deleted or edited by someone else: put back what the Service says.
          if (ev.type !== 'ADDED') this.queue.add(keyOf(ev.object));
        }),
      ),
    ];
    ctx.signal.addEventListener(
      'abort',
      () => {
        this.queue.stop();
        for (const s of stops) s();
      },
      { once: true },
    );
  }

  /** Resolves when no sync is queued or running (for tests). */
  idle(): Promise<void> {
    return this.queue ? this.queue.idle() : Promise.resolve();
  }

  private onPod(ev: ObjectEvent): void {
    const key = keyOf(ev.object);
    const before = this.seen.get(key);
    const fp = podFingerprint(ev.object);
    if (ev.type === 'DELETED') this.seen.delete(key);
    else this.seen.set(key, { fp, labels: metaOf(ev.object).labels ?? {} });
    if (ev.type === 'MODIFIED' && before?.fp === fp) return;
    const ns = metaOf(ev.object).namespace ?? '';
    // Services that selected the pod before a label change must drop it.
    const labels = [metaOf(ev.object).labels ?? {}, ...(before ? [before.labels] : [])];
    for (const s of this.ctx.cluster.list('Service', { namespace: ns })) {
      const sel = (s as unknown as Service).spec?.selector;
      if (!sel) continue;
      const selector = selectorFromSet(sel);
      if (labels.some((l) => selector.matches(l))) this.queue.add(keyOf(s));
    }
  }

  private async sync(key: string): Promise<void> {
    const { cluster } = this.ctx;
    const { namespace, name } = splitKey(key);
    const svcObj = cluster.get('Service', namespace, name);
    const current = cluster.get('Endpoints', namespace, name);
    if (!svcObj) {
      if (!current || metaOf(current).annotations?.[LEADER_ANNOTATION] !== undefined) return;
      const uid = metaOf(current).uid;
      try {
        await cluster.delete('Endpoints', namespace, name, uid ? { uid } : {});
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      return;
    }
    const svc = svcObj as unknown as Service;
    // Without a selector the Endpoints are the user's to write.
    if (!svc.spec?.selector) return;
    const selectorText = selectorFromSet(svc.spec.selector).toString();
    const pods = cluster.list('Pod', { namespace, ...(selectorText ? { labelSelector: selectorText } : {}) }) as unknown as Pod[];
    const { subsets, truncated } = truncate(computeSubsets(svc, pods), MAX_ADDRESSES);

    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    if (svc.spec.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
    if (current) {
      const cm = metaOf(current);
      const annotations = { ...(cm.annotations ?? {}) };
      if (truncated) annotations[OVER_CAPACITY_ANNOTATION] = 'truncated';
      else delete annotations[OVER_CAPACITY_ANNOTATION];
      const same =
        sameJson((current.subsets as EndpointSubset[] | undefined) ?? [], subsets) && sameJson(cm.labels ?? {}, labels) && sameJson(cm.annotations ?? {}, annotations);
      if (same) return;
      const next = clone(current);
      const nm = next.metadata as Record<string, unknown>;
      nm.labels = labels;
      if (Object.keys(annotations).length > 0) nm.annotations = annotations;
      else delete nm.annotations;
      next.subsets = subsets;
      // Conditional on the version read: a concurrent change means we compute again.
      await cluster.update(next);
      return;
    }
    await cluster.create({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace, labels, ...(truncated ? { annotations: { [OVER_CAPACITY_ANNOTATION]: 'truncated' } } : {}) },
      subsets,
    });
  }
}
