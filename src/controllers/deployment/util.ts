/**
 * Pure helpers of the Deployment controller (Kubernetes' deployment/util): the pod
 * template hash, revisions and their annotations, rollout bounds (maxSurge and
 * maxUnavailable), replica arithmetic and proportional scaling.
 */
import type { Deployment, IntOrString, PodTemplateSpec, ReplicaSet } from '../../api/index.ts';
import { canonicalJson, clone, metaOf, parseTime } from '../pod-util.ts';
import type { PlainObject } from '../types.ts';

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
/** The legacy (extensions/v1beta1) rollback request, kept as an annotation by old clients. */
export const ROLLBACK_TO_ANNOTATION = 'deprecated.deployment.rollback.to';
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** Deployment annotations that are never copied to (or back from) its ReplicaSets. */
const SKIPPED_ANNOTATIONS = new Set([
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  ROLLBACK_TO_ANNOTATION,
]);

/** Most characters kept in the revision-history annotation (oldest revisions drop out first). */
const REVISION_HISTORY_LIMIT_CHARS = 2000;

// ---- hashing ----------------------------------------------------------------------------------

/** FNV-1a, 32 bits, over bytes. */
export function fnv1a32(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Kubernetes' rand.SafeEncodeString: each character mapped into an alphabet without vowels or look-alikes. */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/**
 * The pod-template-hash of a template (Kubernetes' ComputeHash): FNV-1a over a canonical
 * serialisation of the template (sorted keys, without the hash label itself), then the
 * collision count when there is one, written as decimal and safe-encoded. Equal templates
 * hash equal on every replica and across restarts; a collision count moves the hash when
 * a ReplicaSet of that name already exists with another template.
 */
export function computeHash(template: PodTemplateSpec, collisionCount?: number): string {
  const bytes = new TextEncoder().encode(canonicalJson(withoutHashLabel(template)));
  let h = fnv1a32(bytes);
  if (collisionCount !== undefined && collisionCount !== null) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv1a32(c, h);
  }
  return safeEncode(String(h));
}

/** A copy of the template without the pod-template-hash label (and no empty label map left behind). */
export function withoutHashLabel(template: PodTemplateSpec): PodTemplateSpec {
  const t = clone(template);
  if (t.metadata?.labels) {
    delete t.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  if (t.metadata && Object.keys(t.metadata).length === 0) delete t.metadata;
  return t;
}

/** Same template, ignoring the hash label (Kubernetes' EqualIgnoreHash). */
export function equalIgnoreHash(a: PodTemplateSpec, b: PodTemplateSpec): boolean {
  return canonicalJson(withoutHashLabel(a)) === canonicalJson(withoutHashLabel(b));
}

// ---- revisions ------------------------------------------------------------------------------------

/** The revision number of a ReplicaSet (0 when absent or malformed). */
export function revisionOf(o: PlainObject | undefined): number {
  const v = metaOf(o).annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

export function maxRevision(sets: readonly PlainObject[]): number {
  let max = 0;
  for (const rs of sets) max = Math.max(max, revisionOf(rs));
  return max;
}

/** The second highest revision: the one `rollout undo` returns to by default. */
export function lastRevision(sets: readonly PlainObject[]): number {
  let max = 0;
  let second = 0;
  for (const rs of sets) {
    const v = revisionOf(rs);
    if (v >= max) {
      second = max;
      max = v;
    } else if (v > second) {
      second = v;
    }
  }
  return second;
}

/** Copy the deployment's own annotations onto the ReplicaSet; true when something changed. */
function copyDeploymentAnnotations(d: Deployment, rs: ReplicaSet): boolean {
  const rsAnn = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (SKIPPED_ANNOTATIONS.has(k) || rsAnn[k] === v) continue;
    rsAnn[k] = v;
    changed = true;
  }
  return changed;
}

/**
 * Kubernetes' SetNewReplicaSetAnnotations: the deployment's annotations, the new revision
 * (an older revision moves into revision-history when a ReplicaSet comes back from
 * history), and for a new ReplicaSet the desired/max replicas. Mutates `rs`; true when changed.
 */
export function setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, exists: boolean): boolean {
  let changed = copyDeploymentAnnotations(d, rs);
  const ann = (rs.metadata.annotations ??= {});
  const old = ann[REVISION_ANNOTATION];
  const oldNum = old === undefined ? 0 : Number.parseInt(old, 10) || 0;
  if (oldNum < newRevision) {
    ann[REVISION_ANNOTATION] = String(newRevision);
    changed = true;
    if (old !== undefined && old !== '') {
      const history = ann[REVISION_HISTORY_ANNOTATION] ? ann[REVISION_HISTORY_ANNOTATION].split(',') : [];
      history.push(old);
      while (history.length > 1 && history.join(',').length > REVISION_HISTORY_LIMIT_CHARS) history.shift();
      ann[REVISION_HISTORY_ANNOTATION] = history.join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, d.spec.replicas ?? 1, (d.spec.replicas ?? 1) + maxSurge(d))) changed = true;
  return changed;
}

/** Set desired-replicas and max-replicas; true when they changed. */
export function setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  if (ann[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    ann[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (ann[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    ann[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desired: number, max: number): boolean {
  const ann = rs.metadata.annotations ?? {};
  return ann[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || ann[MAX_REPLICAS_ANNOTATION] !== String(max);
}

function intAnnotation(rs: ReplicaSet, key: string): number | undefined {
  const v = rs.metadata.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : undefined;
}

export const desiredReplicasAnnotation = (rs: ReplicaSet) => intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
export const maxReplicasAnnotation = (rs: ReplicaSet) => intAnnotation(rs, MAX_REPLICAS_ANNOTATION);

/** Set the deployment's revision annotation; true when it changed. */
export function setDeploymentRevision(d: Deployment, revision: string): boolean {
  const ann = (d.metadata.annotations ??= {});
  if (ann[REVISION_ANNOTATION] === revision) return false;
  ann[REVISION_ANNOTATION] = revision;
  return true;
}

/** Put the ReplicaSet's template (without its hash label) and its annotations into the deployment (a rollback). */
export function setFromReplicaSet(d: Deployment, rs: ReplicaSet): void {
  d.spec.template = withoutHashLabel(rs.spec.template);
  if (!d.spec.template.metadata) d.spec.template.metadata = {};
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (SKIPPED_ANNOTATIONS.has(k)) kept[k] = v;
  for (const [k, v] of Object.entries(rs.metadata.annotations ?? {})) if (!SKIPPED_ANNOTATIONS.has(k)) kept[k] = v;
  d.metadata.annotations = kept;
}

// ---- rollout bounds ------------------------------------------------------------------------------------

/**
 * An IntOrString against a total: ints as they are, "N%" as N% of total, rounded up or
 * down (Kubernetes' GetScaledValueFromIntOrPercent). Throws on a malformed value.
 */
export function scaledValue(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    if (/^\d+$/.test(v)) return Number.parseInt(v, 10);
    throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(v)}`);
  }
  const x = (Number.parseInt(m[1]!, 10) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

export function isRollingUpdate(d: Deployment): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** maxSurge rounded up, maxUnavailable rounded down; both zero becomes unavailable 1 (ResolveFenceposts). */
export function resolveFenceposts(surge: IntOrString | undefined, unavailable: IntOrString | undefined, desired: number): { surge: number; unavailable: number } {
  const s = scaledValue(surge ?? '25%', desired, true);
  let u = scaledValue(unavailable ?? '25%', desired, false);
  if (s === 0 && u === 0) u = 1;
  return { surge: s, unavailable: u };
}

export function maxSurge(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec.strategy?.rollingUpdate;
  return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, d.spec.replicas ?? 1).surge;
}

export function maxUnavailable(d: Deployment): number {
  const replicas = d.spec.replicas ?? 1;
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec.strategy?.rollingUpdate;
  const u = resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, replicas).unavailable;
  return Math.min(u, replicas);
}

// ---- replica arithmetic ---------------------------------------------------------------------------------

export const specReplicas = (rs: ReplicaSet | undefined): number => rs?.spec.replicas ?? 0;

/** Sum of spec.replicas. */
export function replicaCount(sets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of sets) n += specReplicas(rs);
  return n;
}

/** Sum of status.replicas (pods that exist). */
export function actualReplicaCount(sets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of sets) n += rs?.status?.replicas ?? 0;
  return n;
}

export function readyReplicaCount(sets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of sets) n += rs?.status?.readyReplicas ?? 0;
  return n;
}

export function availableReplicaCount(sets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of sets) n += rs?.status?.availableReplicas ?? 0;
  return n;
}

/** ReplicaSets that want pods. */
export function activeReplicaSets(sets: readonly (ReplicaSet | undefined)[]): ReplicaSet[] {
  return sets.filter((rs): rs is ReplicaSet => rs !== undefined && specReplicas(rs) > 0);
}

/**
 * How many replicas the new ReplicaSet should have now (Kubernetes' NewRSNewReplicas):
 * rolling updates grow it while the total stays within replicas + maxSurge; Recreate
 * gives it everything at once.
 */
export function newRSNewReplicas(d: Deployment, all: readonly ReplicaSet[], newRS: ReplicaSet): number {
  const replicas = d.spec.replicas ?? 1;
  if (!isRollingUpdate(d)) return replicas;
  const current = replicaCount(all);
  const maxTotal = replicas + maxSurge(d);
  if (current >= maxTotal) return specReplicas(newRS);
  const up = Math.min(maxTotal - current, replicas - specReplicas(newRS));
  return specReplicas(newRS) + Math.max(0, up);
}

/** The new ReplicaSet is at full size and every pod of it is available. */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const replicas = d.spec.replicas ?? 1;
  return desiredReplicasAnnotation(rs) === replicas && specReplicas(rs) === replicas && (rs.status?.availableReplicas ?? 0) === replicas;
}

/** Round half away from zero, as Go's math.Round. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** How many replicas `rs` gains (or loses) when the deployment is resized (getReplicaSetFraction). */
export function replicaSetFraction(rs: ReplicaSet, d: Deployment): number {
  const replicas = d.spec.replicas ?? 1;
  if (replicas === 0) return -specReplicas(rs);
  const allowed = replicas + maxSurge(d);
  // The size the deployment had when this ReplicaSet was last sized; else what exists now.
  const annotated = maxReplicasAnnotation(rs) ?? d.status?.replicas ?? 0;
  if (annotated === 0) return 0;
  return roundHalfAway((specReplicas(rs) * allowed) / annotated) - specReplicas(rs);
}

/** The share of `toAdd` that `rs` takes, bounded by what is left to hand out (GetProportion). */
export function proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
  if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const left = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, left) : Math.max(fraction, left);
}

/**
 * Sizes of the active ReplicaSets after a resize mid-rollout (the proportional part of
 * Kubernetes' scale): each takes a share in proportion to its size; what rounding leaves
 * over goes to the largest. Returns name → new size.
 */
export function proportionalSizes(d: Deployment, active: readonly ReplicaSet[]): Map<string, number> {
  const replicas = d.spec.replicas ?? 1;
  const allowed = replicas > 0 ? replicas + maxSurge(d) : 0;
  const toAdd = allowed - replicaCount(active);
  // Larger first; on a tie newer first when growing (new pods go to the newest), older first when shrinking.
  const sorted = [...active].sort((a, b) => {
    if (specReplicas(a) !== specReplicas(b)) return specReplicas(b) - specReplicas(a);
    const ta = created(a);
    const tb = created(b);
    if (ta !== tb) return toAdd > 0 ? tb - ta : ta - tb;
    return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
  });
  const sizes = new Map<string, number>();
  let added = 0;
  for (const rs of sorted) {
    const p = toAdd !== 0 ? proportion(rs, d, toAdd, added) : 0;
    sizes.set(rs.metadata.name ?? '', specReplicas(rs) + p);
    added += p;
  }
  if (toAdd !== 0 && sorted.length > 0) {
    const first = sorted[0]!.metadata.name ?? '';
    sizes.set(first, Math.max(0, sizes.get(first)! + toAdd - added));
  }
  return sizes;
}

function created(rs: ReplicaSet): number {
  return parseTime(rs.metadata.creationTimestamp) ?? 0;
}

/** Oldest first; ties by name (ReplicaSetsByCreationTimestamp). */
export function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const d = created(a) - created(b);
  if (d !== 0) return d;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** Lowest revision first; ties by creation (ReplicaSetsByRevision). */
export function byRevision(a: ReplicaSet, b: ReplicaSet): number {
  const d = revisionOf(a as unknown as PlainObject) - revisionOf(b as unknown as PlainObject);
  return d !== 0 ? d : byCreation(a, b);
}
