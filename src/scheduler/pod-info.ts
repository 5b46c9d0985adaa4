/**
 * PodInfo: what the scheduler needs of a pod, computed once when the pod is first seen
 * (and again only when its spec or labels change) so that filtering and scoring a node
 * reads plain fields and never walks the object or parses a quantity.
 */
import { Selector, selectorFromLabelSelector, type Labels, type Requirement } from '../api/labels.ts';
import type { Affinity, PodAffinityTerm, PodSpec, Toleration, TopologySpreadConstraint, WeightedPodAffinityTerm } from '../api/types.ts';
import type { PlainObject } from '../controllers/types.ts';
import { normalizeImageName } from './node-info.ts';
import { compilePreferred, NodeSelectorMatcher, type WeightedTerm } from './node-selector.ts';
import { podHostPorts, podRequests, type HostPort, type PodRequests } from './resources.ts';

const EMPTY_LABELS: Labels = Object.freeze({});
const NO_TOLERATIONS: readonly Toleration[] = Object.freeze([]);

/** A pod (anti-)affinity term, compiled. */
export interface AffinityTerm {
  selector: Selector;
  /** Namespaces named by the term (the pod's own when it names none and has no namespaceSelector). */
  namespaces: ReadonlySet<string>;
  /** Absent: only `namespaces`. Empty: every namespace. */
  namespaceSelector: Selector | undefined;
  topologyKey: string;
  /** For preferred terms; 1 for required ones. */
  weight: number;
}

/** A topology spread constraint, compiled. */
export interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  selector: Selector;
  minDomains: number;
  /** nodeAffinityPolicy Honor (the default): only nodes that pass the pod's node affinity count. */
  honorNodeAffinity: boolean;
  /** nodeTaintsPolicy Honor: only nodes whose taints the pod tolerates count (default Ignore). */
  honorTaints: boolean;
}

/** Resolves a namespace's labels (for namespaceSelector); undefined when unknown. */
export type NamespaceLabels = (namespace: string) => Labels | undefined;

/** Does existing pod `p` fall under `term` (its namespace and labels)? */
export function termMatchesPod(term: AffinityTerm, p: PodInfo, nsLabels: NamespaceLabels): boolean {
  if (!term.namespaces.has(p.namespace)) {
    const ns = term.namespaceSelector;
    if (!ns) return false;
    if (!ns.isEmpty() && !ns.matches(nsLabels(p.namespace))) return false;
  }
  return term.selector.matches(p.labels);
}

function withLabelKeys(sel: Selector, labels: Labels, match: readonly string[] | undefined, mismatch: readonly string[] | undefined): Selector {
  if ((!match || match.length === 0) && (!mismatch || mismatch.length === 0)) return sel;
  // matchLabelKeys / mismatchLabelKeys narrow the selector by the incoming pod's own values.
  const extra: Requirement[] = [];
  for (const k of match ?? []) if (Object.hasOwn(labels, k)) extra.push({ key: k, operator: 'In', values: [labels[k]!] });
  for (const k of mismatch ?? []) if (Object.hasOwn(labels, k)) extra.push({ key: k, operator: 'NotIn', values: [labels[k]!] });
  return extra.length === 0 || sel.matchesNothing ? sel : new Selector([...sel.requirements, ...extra]);
}

function safeSelector(ls: PodAffinityTerm['labelSelector']): Selector {
  try {
    return selectorFromLabelSelector(ls);
  } catch {
    return Selector.nothing();
  }
}

function compileTerm(t: PodAffinityTerm, namespace: string, labels: Labels, weight: number): AffinityTerm | undefined {
  if (!t || typeof t.topologyKey !== 'string' || t.topologyKey === '') return undefined;
  const names = (t.namespaces ?? []).filter((n) => typeof n === 'string');
  const nsSel = t.namespaceSelector ? safeSelector(t.namespaceSelector) : undefined;
  return {
    selector: withLabelKeys(safeSelector(t.labelSelector), labels, t.matchLabelKeys, t.mismatchLabelKeys),
    namespaces: new Set(names.length === 0 && !nsSel ? [namespace] : names),
    namespaceSelector: nsSel,
    topologyKey: t.topologyKey,
    weight,
  };
}

function compileTerms(list: readonly PodAffinityTerm[] | undefined, ns: string, labels: Labels): AffinityTerm[] | undefined {
  if (!list || list.length === 0) return undefined;
  const out = list.map((t) => compileTerm(t, ns, labels, 1)).filter((t): t is AffinityTerm => t !== undefined);
  return out.length > 0 ? out : undefined;
}

function compileWeighted(list: readonly WeightedPodAffinityTerm[] | undefined, ns: string, labels: Labels): AffinityTerm[] | undefined {
  if (!list || list.length === 0) return undefined;
  const out: AffinityTerm[] = [];
  for (const w of list) {
    if (!w || typeof w.weight !== 'number' || w.weight === 0) continue;
    const t = compileTerm(w.podAffinityTerm, ns, labels, w.weight);
    if (t) out.push(t);
  }
  return out.length > 0 ? out : undefined;
}

function compileSpread(list: readonly TopologySpreadConstraint[] | undefined, labels: Labels, hard: boolean): SpreadConstraint[] | undefined {
  if (!list || list.length === 0) return undefined;
  const want = hard ? 'DoNotSchedule' : 'ScheduleAnyway';
  const out: SpreadConstraint[] = [];
  for (const c of list) {
    if (!c || c.whenUnsatisfiable !== want || typeof c.topologyKey !== 'string') continue;
    out.push({
      maxSkew: typeof c.maxSkew === 'number' && c.maxSkew > 0 ? c.maxSkew : 1,
      topologyKey: c.topologyKey,
      selector: withLabelKeys(safeSelector(c.labelSelector), labels, c.matchLabelKeys, undefined),
      minDomains: typeof c.minDomains === 'number' && c.minDomains > 0 ? c.minDomains : 1,
      honorNodeAffinity: c.nodeAffinityPolicy !== 'Ignore',
      honorTaints: c.nodeTaintsPolicy === 'Honor',
    });
  }
  return out.length > 0 ? out : undefined;
}

function parseTime(v: unknown): number {
  if (typeof v !== 'string') return 0;
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : t;
}

export class PodInfo {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** The latest object seen (status may be newer than what the rest was computed from). */
  obj: PlainObject;
  readonly generation: number;
  readonly labels: Labels;
  readonly priority: number;
  readonly createdMs: number;
  readonly requests: PodRequests;
  readonly hostPorts: readonly HostPort[] | undefined;
  /** spec.nodeSelector as pairs. */
  readonly nodeSelector: readonly (readonly [string, string])[] | undefined;
  readonly requiredNodeAffinity: NodeSelectorMatcher | undefined;
  readonly preferredNodeAffinity: readonly WeightedTerm[] | undefined;
  readonly tolerations: readonly Toleration[];
  readonly requiredAffinity: readonly AffinityTerm[] | undefined;
  readonly requiredAntiAffinity: readonly AffinityTerm[] | undefined;
  readonly preferredAffinity: readonly AffinityTerm[] | undefined;
  readonly preferredAntiAffinity: readonly AffinityTerm[] | undefined;
  readonly hardSpread: readonly SpreadConstraint[] | undefined;
  readonly softSpread: readonly SpreadConstraint[] | undefined;
  /** Container images, normalized as nodes report them. */
  readonly images: readonly string[];
  readonly preemptionPolicy: string;

  constructor(obj: PlainObject) {
    const meta = (obj.metadata ?? {}) as { uid?: string; namespace?: string; name?: string; labels?: Record<string, string>; generation?: number; creationTimestamp?: string };
    const spec = (obj.spec ?? {}) as PodSpec & { affinity?: Affinity };
    this.obj = obj;
    this.uid = meta.uid ?? `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    this.namespace = meta.namespace ?? 'default';
    this.name = meta.name ?? '';
    this.generation = typeof meta.generation === 'number' ? meta.generation : 0;
    this.labels = meta.labels ?? EMPTY_LABELS;
    this.priority = typeof spec.priority === 'number' ? spec.priority : 0;
    this.createdMs = parseTime(meta.creationTimestamp);
    this.requests = podRequests(obj);
    this.hostPorts = podHostPorts(obj);
    const sel = spec.nodeSelector;
    this.nodeSelector = sel && Object.keys(sel).length > 0 ? Object.entries(sel) : undefined;
    const na = spec.affinity?.nodeAffinity;
    this.requiredNodeAffinity = NodeSelectorMatcher.compile(na?.requiredDuringSchedulingIgnoredDuringExecution);
    this.preferredNodeAffinity = compilePreferred(na?.preferredDuringSchedulingIgnoredDuringExecution);
    this.tolerations = Array.isArray(spec.tolerations) && spec.tolerations.length > 0 ? spec.tolerations : NO_TOLERATIONS;
    const pa = spec.affinity?.podAffinity;
    const anti = spec.affinity?.podAntiAffinity;
    this.requiredAffinity = compileTerms(pa?.requiredDuringSchedulingIgnoredDuringExecution, this.namespace, this.labels);
    this.requiredAntiAffinity = compileTerms(anti?.requiredDuringSchedulingIgnoredDuringExecution, this.namespace, this.labels);
    this.preferredAffinity = compileWeighted(pa?.preferredDuringSchedulingIgnoredDuringExecution, this.namespace, this.labels);
    this.preferredAntiAffinity = compileWeighted(anti?.preferredDuringSchedulingIgnoredDuringExecution, this.namespace, this.labels);
    this.hardSpread = compileSpread(spec.topologySpreadConstraints, this.labels, true);
    this.softSpread = compileSpread(spec.topologySpreadConstraints, this.labels, false);
    const images: string[] = [];
    for (const c of spec.containers ?? []) if (c && typeof c.image === 'string' && c.image !== '') images.push(normalizeImageName(c.image));
    this.images = images;
    this.preemptionPolicy = spec.preemptionPolicy ?? 'PreemptLowerPriority';
  }

  /** True when this pod carries any pod (anti-)affinity term (it then matters to others' scoring and filtering). */
  get hasAffinity(): boolean {
    return this.requiredAffinity !== undefined || this.requiredAntiAffinity !== undefined || this.preferredAffinity !== undefined || this.preferredAntiAffinity !== undefined;
  }

  get terminating(): boolean {
    return (this.obj.metadata as { deletionTimestamp?: unknown } | undefined)?.deletionTimestamp !== undefined;
  }

  get nodeName(): string {
    return ((this.obj.spec as { nodeName?: string } | undefined)?.nodeName as string | undefined) ?? '';
  }

  get nominatedNodeName(): string {
    return ((this.obj.status as { nominatedNodeName?: string } | undefined)?.nominatedNodeName as string | undefined) ?? '';
  }
}

/** True when `b` carries the same labels as `a` (same object, or equal key by key). */
export function sameLabels(a: Labels | undefined, b: Labels | undefined): boolean {
  if (a === b) return true;
  const x = a ?? EMPTY_LABELS;
  const y = b ?? EMPTY_LABELS;
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) if (x[k] !== y[k]) return false;
  return true;
}
