/**
 * Names and serializations of objects as kubectl prints them: `deployment.apps/web`,
 * JSON with four-space indentation and sorted keys, YAML with sorted keys and sequences
 * not indented under their key, and the `List` that wraps several objects.
 */
import { stringify } from 'yaml';
import type { KindInfo } from '../../api/index.ts';

/** `configmap`, `deployment.apps`, `horizontalpodautoscaler.autoscaling`. */
export function resourceName(info: KindInfo): string {
  return info.group ? `${info.singular}.${info.group}` : info.singular;
}

/** `configmaps`, `deployments.apps`: the resource as Kubernetes' error messages name it. */
export function qualifiedPlural(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/** `deployment.apps/web`, as `-o name` and `apply` print it. */
export function objectRef(info: KindInfo, name: string): string {
  return `${resourceName(info)}/${name}`;
}

/** A copy with every object's keys sorted (how kubectl prints unstructured objects). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 4) + '\n';
}

/**
 * YAML that berth's own manifest reader (YAML 1.1 scalars, like Kubernetes) reads back to
 * the same value: strings such as `yes`, `on` or `0644` are quoted.
 */
export function toYaml(value: unknown): string {
  return stringify(sortKeys(value), { version: '1.1', indentSeq: false, lineWidth: 0, sortMapEntries: true });
}

/** The `List` kubectl prints for several objects (or for a list query). */
export function listOf(items: unknown[]): Record<string, unknown> {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}
