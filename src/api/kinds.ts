/**
 * The kinds berth serves, with the names Kubernetes gives them: apiVersion,
 * plural resource name, short names and whether objects live in a namespace.
 * `lookupKind` resolves whatever a user types after `berth get`.
 */

export interface KindInfo {
  /** CamelCase kind, e.g. `Deployment`. */
  readonly kind: string;
  /** Preferred (storage) apiVersion, e.g. `apps/v1`. */
  readonly apiVersion: string;
  /** API group; '' for the core group. */
  readonly group: string;
  /** Preferred version within the group. */
  readonly version: string;
  /** Every apiVersion accepted in manifests; the first is the preferred one. */
  readonly servedVersions: readonly string[];
  /** Lower-case plural resource name, e.g. `deployments`. */
  readonly plural: string;
  /** Lower-case singular name, e.g. `deployment`. */
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly namespaced: boolean;
}

function kind(
  kindName: string,
  group: string,
  versions: readonly string[],
  plural: string,
  shortNames: readonly string[],
  namespaced: boolean,
): KindInfo {
  const servedVersions = versions.map((v) => (group ? `${group}/${v}` : v));
  return Object.freeze({
    kind: kindName,
    apiVersion: servedVersions[0]!,
    group,
    version: versions[0]!,
    servedVersions: Object.freeze(servedVersions),
    plural,
    singular: kindName.toLowerCase(),
    shortNames: Object.freeze([...shortNames]),
    namespaced,
  });
}

/** Every kind berth serves, in the order `berth api-resources` lists them. */
export const KINDS: readonly KindInfo[] = Object.freeze([
  kind('Namespace', '', ['v1'], 'namespaces', ['ns'], false),
  kind('Node', '', ['v1'], 'nodes', ['no'], false),
  kind('Pod', '', ['v1'], 'pods', ['po'], true),
  kind('Service', '', ['v1'], 'services', ['svc'], true),
  kind('Endpoints', '', ['v1'], 'endpoints', ['ep'], true),
  kind('ConfigMap', '', ['v1'], 'configmaps', ['cm'], true),
  kind('Secret', '', ['v1'], 'secrets', [], true),
  kind('Event', '', ['v1'], 'events', ['ev'], true),
  kind('Deployment', 'apps', ['v1'], 'deployments', ['deploy'], true),
  kind('ReplicaSet', 'apps', ['v1'], 'replicasets', ['rs'], true),
  kind('Job', 'batch', ['v1'], 'jobs', [], true),
  kind('CronJob', 'batch', ['v1'], 'cronjobs', ['cj'], true),
  kind('HorizontalPodAutoscaler', 'autoscaling', ['v2', 'v1'], 'horizontalpodautoscalers', ['hpa'], true),
]);

const byKind = new Map(KINDS.map((k) => [k.kind, k]));

/** The registration of an exact CamelCase kind name, or undefined. */
export function kindInfo(kindName: string): KindInfo | undefined {
  return byKind.get(kindName);
}

/**
 * The kind registered for this apiVersion and kind, or undefined when berth
 * does not serve that pair (unknown kind, or a known kind at another version,
 * such as `batch/v1beta1` CronJob, which Kubernetes itself stopped serving).
 */
export function kindForVersion(apiVersion: string, kindName: string): KindInfo | undefined {
  const info = byKind.get(kindName);
  return info && info.servedVersions.includes(apiVersion) ? info : undefined;
}

/**
 * Resolves a resource name as kubectl does: kind, plural, singular or short
 * name, case-insensitively, optionally qualified by group (`deployments.apps`)
 * or version and group (`deployments.v1.apps`). Returns undefined when nothing
 * matches, or when a group qualifier names another group.
 */
export function lookupKind(name: string): KindInfo | undefined {
  const lower = name.trim().toLowerCase();
  if (!lower) return undefined;
  const [resource, ...rest] = lower.split('.');
  let group: string | undefined;
  let version: string | undefined;
  if (rest.length > 0) {
    // `pods.v1` or `deployments.v1.apps`: a leading `vN...` segment is a version.
    if (/^v\d+([a-z]+\d+)?$/.test(rest[0]!)) {
      version = rest[0];
      group = rest.slice(1).join('.');
    } else {
      group = rest.join('.');
    }
  }
  for (const info of KINDS) {
    const names = [info.kind.toLowerCase(), info.plural, info.singular, ...info.shortNames];
    if (!names.includes(resource!)) continue;
    if (group !== undefined && group !== info.group) continue;
    if (version !== undefined && !info.servedVersions.some((v) => parseApiVersion(v).version === version)) continue;
    return info;
  }
  return undefined;
}

/** Splits `apps/v1` into group `apps` and version `v1` (`v1` → group ''). */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}
