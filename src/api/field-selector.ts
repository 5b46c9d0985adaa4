/**
 * Field selectors (`metadata.name=web,status.phase!=Running`): equality tests
 * on a small set of fields per kind, as the API server supports them. Values
 * may escape `\`, `,` and `=` with a backslash.
 */

import type { ApiObject } from './types.ts';

export interface FieldRequirement {
  readonly field: string;
  readonly operator: '=' | '!=';
  readonly value: string;
}

export class FieldSelectorParseError extends Error {
  override readonly name = 'FieldSelectorParseError';
}

const COMMON = ['metadata.name', 'metadata.namespace'];

/** Fields each kind can be selected by (beyond metadata.name and metadata.namespace). */
const BY_KIND: Readonly<Record<string, readonly string[]>> = {
  Pod: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  Node: ['spec.unschedulable'],
  Event: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  Secret: ['type'],
  Namespace: ['status.phase'],
  ReplicaSet: ['status.replicas'],
  Job: ['status.successful'],
  Service: ['spec.clusterIP', 'spec.type'],
};

/** The field names a kind supports in field selectors. */
export function supportedFieldSelectors(kind: string): string[] {
  return [...COMMON, ...(BY_KIND[kind] ?? [])];
}

export class FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  constructor(requirements: readonly FieldRequirement[]) {
    this.requirements = requirements;
  }

  isEmpty(): boolean {
    return this.requirements.length === 0;
  }

  matches(obj: ApiObject): boolean {
    return this.requirements.every((r) => (fieldValue(obj, r.field) === r.value) === (r.operator === '='));
  }

  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`).join(',');
  }
}

function escapeValue(v: string): string {
  return v.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/**
 * Parses a field selector. With `kind`, fields the kind does not support are
 * rejected (`field label not supported: spec.foo`). Throws FieldSelectorParseError.
 */
export function parseFieldSelector(text: string, kind?: string): FieldSelector {
  const reqs: FieldRequirement[] = [];
  if (text.trim() === '') return new FieldSelector(reqs);
  for (const term of splitUnescaped(text, ',')) {
    const t = term.trim();
    let opAt = -1;
    let op: '=' | '!=' = '=';
    let opLen = 1;
    for (let i = 0; i < t.length; i++) {
      if (t[i] === '\\') {
        i++;
        continue;
      }
      if (t[i] === '!' && t[i + 1] === '=') {
        opAt = i;
        op = '!=';
        opLen = 2;
        break;
      }
      if (t[i] === '=') {
        opAt = i;
        op = '=';
        opLen = t[i + 1] === '=' ? 2 : 1;
        break;
      }
    }
    if (opAt <= 0) throw new FieldSelectorParseError(`invalid selector: '${text}'; can't understand '${t}'`);
    const field = t.slice(0, opAt).trim();
    const value = unescapeValue(t.slice(opAt + opLen).trim(), text);
    if (kind !== undefined && !supportedFieldSelectors(kind).includes(field)) {
      throw new FieldSelectorParseError(`field label not supported: ${field}`);
    }
    reqs.push({ field, operator: op, value });
  }
  return new FieldSelector(reqs);
}

function splitUnescaped(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[i + 1];
      i++;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unescapeValue(v: string, whole: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c !== '\\') {
      if (c === '=' || c === ',') throw new FieldSelectorParseError(`invalid selector: '${whole}'; unescaped '${c}' in value`);
      out += c;
      continue;
    }
    const n = v[i + 1];
    if (n !== '\\' && n !== ',' && n !== '=') throw new FieldSelectorParseError(`invalid selector: '${whole}'; invalid escape sequence`);
    out += n;
    i++;
  }
  return out;
}

/** Values of fields that are not plain paths, or default when unset. */
const SPECIAL: Readonly<Record<string, (o: ApiObject) => unknown>> = {
  'Event/source': (o) => o.source?.component,
  'Job/status.successful': (o) => (o.status as { succeeded?: number } | undefined)?.succeeded ?? 0,
  'Pod/spec.hostNetwork': (o) => (o.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork ?? false,
  'Node/spec.unschedulable': (o) => (o.spec as { unschedulable?: boolean } | undefined)?.unschedulable ?? false,
  'ReplicaSet/status.replicas': (o) => (o.status as { replicas?: number } | undefined)?.replicas ?? 0,
};

/**
 * The string value of a field as field selectors see it: strings as they
 * are, numbers and booleans in decimal/`true`/`false`, '' when unset.
 */
export function fieldValue(obj: ApiObject, path: string): string {
  const special = SPECIAL[`${obj.kind}/${path}`];
  let v: unknown = special ? special(obj) : obj;
  if (!special) {
    for (const step of path.split('.')) {
      if (typeof v !== 'object' || v === null) return '';
      v = (v as Record<string, unknown>)[step];
    }
  }
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
