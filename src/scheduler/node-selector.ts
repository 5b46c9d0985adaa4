/**
 * Node selector terms (required and preferred node affinity), compiled once per pod.
 *
 * Semantics follow k8s.io/component-helpers nodeaffinity: terms are ORed, the expressions
 * and fields of one term ANDed; an empty term, an empty list of terms, or a term with a
 * malformed requirement matches nothing. NotIn and DoesNotExist also match nodes without
 * the label; Gt and Lt compare integers and need the label. matchFields supports only
 * metadata.name.
 */
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm } from '../api/types.ts';
import type { Labels } from '../api/labels.ts';

interface Requirement {
  key: string;
  op: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values: readonly string[];
  /** Gt / Lt bound. */
  bound: number;
}

export interface CompiledTerm {
  expressions: readonly Requirement[];
  /** Requirements on metadata.name. */
  fields: readonly Requirement[];
}

const INT_RE = /^-?[0-9]+$/;

function compileRequirement(r: NodeSelectorRequirement, field: boolean): Requirement | undefined {
  if (!r || typeof r.key !== 'string') return undefined;
  const values = Array.isArray(r.values) ? r.values.filter((v): v is string => typeof v === 'string') : [];
  if (field) {
    // Only metadata.name is a supported field, and only with In / NotIn.
    if (r.key !== 'metadata.name' || (r.operator !== 'In' && r.operator !== 'NotIn') || values.length === 0) return undefined;
    return { key: r.key, op: r.operator, values, bound: 0 };
  }
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      return values.length === 0 ? undefined : { key: r.key, op: r.operator, values, bound: 0 };
    case 'Exists':
    case 'DoesNotExist':
      return values.length !== 0 ? undefined : { key: r.key, op: r.operator, values, bound: 0 };
    case 'Gt':
    case 'Lt':
      return values.length !== 1 || !INT_RE.test(values[0]!) ? undefined : { key: r.key, op: r.operator, values, bound: Number(values[0]) };
    default:
      return undefined;
  }
}

/** Undefined when the term is empty or malformed (it then matches nothing). */
export function compileTerm(t: NodeSelectorTerm | undefined): CompiledTerm | undefined {
  if (!t) return undefined;
  const exprs = t.matchExpressions ?? [];
  const fields = t.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return undefined;
  const ce: Requirement[] = [];
  const cf: Requirement[] = [];
  for (const r of exprs) {
    const c = compileRequirement(r, false);
    if (!c) return undefined;
    ce.push(c);
  }
  for (const r of fields) {
    const c = compileRequirement(r, true);
    if (!c) return undefined;
    cf.push(c);
  }
  return { expressions: ce, fields: cf };
}

function requirementMatches(r: Requirement, value: string | undefined): boolean {
  switch (r.op) {
    case 'In':
      return value !== undefined && r.values.includes(value);
    case 'NotIn':
      return value === undefined || !r.values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || !INT_RE.test(value)) return false;
      const n = Number(value);
      return r.op === 'Gt' ? n > r.bound : n < r.bound;
    }
  }
}

const hasOwn = Object.prototype.hasOwnProperty;

export function termMatches(t: CompiledTerm, labels: Labels, nodeName: string): boolean {
  for (const r of t.expressions) if (!requirementMatches(r, hasOwn.call(labels, r.key) ? labels[r.key] : undefined)) return false;
  for (const r of t.fields) if (!requirementMatches(r, nodeName)) return false;
  return true;
}

/** Required node affinity: ORed terms. */
export class NodeSelectorMatcher {
  constructor(private readonly terms: readonly (CompiledTerm | undefined)[]) {}

  static compile(ns: NodeSelector | undefined): NodeSelectorMatcher | undefined {
    if (!ns) return undefined;
    return new NodeSelectorMatcher((ns.nodeSelectorTerms ?? []).map(compileTerm));
  }

  matches(labels: Labels, nodeName: string): boolean {
    for (const t of this.terms) if (t && termMatches(t, labels, nodeName)) return true;
    return false;
  }
}

export interface WeightedTerm {
  weight: number;
  term: CompiledTerm;
}

/** Preferred node affinity: the terms that can match, with their weights. */
export function compilePreferred(list: readonly PreferredSchedulingTerm[] | undefined): WeightedTerm[] | undefined {
  if (!list || list.length === 0) return undefined;
  const out: WeightedTerm[] = [];
  for (const p of list) {
    const term = compileTerm(p?.preference);
    if (term && typeof p.weight === 'number' && p.weight !== 0) out.push({ weight: p.weight, term });
  }
  return out.length > 0 ? out : undefined;
}
