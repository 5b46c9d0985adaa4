/**
 * `validateObject`: every problem of an object at once, as Kubernetes field
 * errors. It runs in three layers:
 *
 *  1. registration: the apiVersion/kind pair must be one berth serves;
 *  2. the kind's schema: unknown fields, wrong value types, missing required
 *     fields, unsupported enum values, malformed quantities;
 *  3. semantic rules of the API server (names, labels, selectors, ports,
 *     probes, resources, cross-field rules, immutability on update), run on
 *     the well-typed copy the schema check produced.
 *
 * Validate what the API server would validate: the object after
 * `defaultObject` (a missing namespace, for example, is reported as required).
 */

import { FieldError, duplicate, formatFieldErrors, forbidden, index, invalid, required } from './field-error.ts';
import { hpaV1ToV2 } from './convert.ts';
import { kindForVersion, kindInfo, type KindInfo } from './kinds.ts';
import { type NameValidator, isDNS1123Label, nameIsDNS1035Label, nameIsDNSLabel, nameIsDNSSubdomain } from './names.ts';
import { checkSchema, type FieldSchema } from './schema.ts';
import { schemaFor } from './schema-kinds.ts';
import type {
  ApiObject,
  ConfigMap,
  CronJob,
  Deployment,
  Endpoints,
  Event,
  HorizontalPodAutoscaler,
  Job,
  Namespace,
  Node,
  ObjectMeta,
  Pod,
  ReplicaSet,
  Secret,
  Service,
} from './types.ts';
import {
  type Errors,
  validateAnnotations,
  validateAtLeast,
  validateImmutable,
  validateLabels,
  validateQualifiedName,
} from './validate-common.ts';
import {
  validateConfigMap,
  validateEndpoints,
  validateEvent,
  validateNamespace,
  validateNode,
  validateSecret,
  validateService,
} from './validate-core.ts';
import { validatePodSpec, validatePodUpdate } from './validate-pod.ts';
import {
  validateCronJob,
  validateDeployment,
  validateHPA,
  validateHPAV1TargetCPU,
  validateJob,
  validateReplicaSet,
} from './validate-workloads.ts';

export interface ValidateOptions {
  /** 'create' (the default) or 'update'; an update also checks what may not change. */
  operation?: 'create' | 'update';
  /** The stored object an update replaces; required for update checks. */
  old?: ApiObject;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The schema-cleaned copy of a stored object an update replaces. Stored objects are deeply
 * frozen and replaced, never changed, so the copy of a frozen one is kept (and frozen, so
 * that no validator can change what the next update reads) until the object is dropped.
 */
const cleanedOld = new WeakMap<object, { schema: FieldSchema; value: ApiObject }>();

function cleanOld(old: ApiObject, schema: FieldSchema): ApiObject {
  if (!Object.isFrozen(old)) return checkSchema(old, schema).value as ApiObject;
  const hit = cleanedOld.get(old);
  if (hit !== undefined && hit.schema === schema) return hit.value;
  const value = deepFreezeValue(checkSchema(old, schema).value) as ApiObject;
  cleanedOld.set(old, { schema, value });
  return value;
}

function deepFreezeValue(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  if (Array.isArray(v)) for (const x of v) deepFreezeValue(x);
  else for (const k of Object.keys(v)) deepFreezeValue((v as Record<string, unknown>)[k]);
  return Object.freeze(v);
}

/** Returns every validation error of `obj`; an empty list means it is valid. */
export function validateObject(obj: unknown, opts: ValidateOptions = {}): FieldError[] {
  if (!isPlainObject(obj)) return [invalid('<root>', Array.isArray(obj) ? 'array' : typeof obj, 'an object must be a mapping')];
  const apiVersion = obj.apiVersion;
  const kindName = obj.kind;
  const head: Errors = [];
  if (typeof apiVersion !== 'string' || apiVersion === '') head.push(required('apiVersion'));
  if (typeof kindName !== 'string' || kindName === '') head.push(required('kind'));
  if (head.length) return head;
  const info = kindForVersion(apiVersion as string, kindName as string);
  if (!info) return [unregistered(apiVersion as string, kindName as string)];

  const schema = schemaFor(apiVersion as string, info.kind)!;
  const checked = checkSchema(obj, schema);
  let clean = checked.value as ApiObject;
  let old = opts.operation === 'update' && opts.old ? cleanOld(opts.old, schemaFor(opts.old.apiVersion, opts.old.kind) ?? schema) : undefined;

  const semantic: Errors = [];
  let v1TargetErrors: Errors | undefined;
  if (info.kind === 'HorizontalPodAutoscaler') {
    if (apiVersion === 'autoscaling/v1') {
      const target = (clean.spec as Record<string, unknown> | undefined)?.targetCPUUtilizationPercentage;
      v1TargetErrors = validateHPAV1TargetCPU(target);
      clean = hpaV1ToV2(clean);
    }
    if (old?.apiVersion === 'autoscaling/v1') old = hpaV1ToV2(old);
  }

  semantic.push(...validateObjectMeta(clean.metadata, info));
  if (old) semantic.push(...validateObjectMetaUpdate(clean.metadata ?? {}, old.metadata ?? {}));
  semantic.push(...validateKind(info, clean, old));
  if (v1TargetErrors) {
    // The v1 cpu target became spec.metrics[0]: report it under the field the user wrote.
    const converted = semantic.filter((e) => !e.field.startsWith('spec.metrics'));
    semantic.length = 0;
    semantic.push(...converted, ...v1TargetErrors);
  }

  // Errors at or below a value the schema dropped for its type are consequences, not news.
  const dropped = [...checked.dropped];
  const relevant = semantic.filter(
    (e) => !dropped.some((d) => e.field === d || e.field.startsWith(`${d}.`) || e.field.startsWith(`${d}[`)),
  );
  const seen = new Set<string>();
  return [...checked.errors, ...relevant].filter((e) => {
    const k = e.toString();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function unregistered(apiVersion: string, kindName: string): FieldError {
  const known = kindInfo(kindName);
  const detail = `no kind ${JSON.stringify(kindName)} is registered for version ${JSON.stringify(apiVersion)}`;
  if (known) return new FieldError('apiVersion', 'Not supported', apiVersion, `${detail} (berth serves ${kindName} as ${known.apiVersion})`);
  return new FieldError('kind', 'Not supported', kindName, detail);
}

/** The name rule of each kind, as the API server's Validate*Name functions. */
function nameValidator(kindName: string): NameValidator {
  switch (kindName) {
    case 'Namespace':
      return nameIsDNSLabel;
    case 'Service':
      return nameIsDNS1035Label;
    default:
      return nameIsDNSSubdomain;
  }
}

/** ValidateObjectMeta: names, namespace, labels, annotations, owners, finalizers. */
export function validateObjectMeta(meta: ObjectMeta | undefined, info: KindInfo): Errors {
  const errs: Errors = [];
  const m = meta ?? {};
  const nameFn = nameValidator(info.kind);
  if (m.generateName) {
    for (const msg of nameFn(m.generateName, true)) errs.push(invalid('metadata.generateName', m.generateName, msg));
  }
  if (m.name) {
    for (const msg of nameFn(m.name, false)) errs.push(invalid('metadata.name', m.name, msg));
  } else if (!m.generateName) {
    errs.push(required('metadata.name', 'name or generateName is required'));
  }
  if (info.namespaced) {
    if (!m.namespace) errs.push(required('metadata.namespace'));
    else for (const msg of isDNS1123Label(m.namespace)) errs.push(invalid('metadata.namespace', m.namespace, msg));
  } else if (m.namespace) {
    errs.push(forbidden('metadata.namespace', 'not allowed on this type'));
  }
  errs.push(...validateAtLeast(m.generation, 0, 'metadata.generation'));
  errs.push(...validateLabels(m.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
  let controller = '';
  (m.ownerReferences ?? []).forEach((ref, i) => {
    if (ref.controller === true) {
      const current = `${ref.kind}/${ref.name}`;
      if (controller) {
        errs.push(
          invalid(
            index('metadata.ownerReferences', i),
            ref,
            `Only one reference can have Controller set to true. Found "true" in references for ${controller} and ${current}`,
          ),
        );
      } else controller = current;
    }
  });
  const finalizers = m.finalizers ?? [];
  const seen = new Set<string>();
  finalizers.forEach((f, i) => {
    const p = index('metadata.finalizers', i);
    errs.push(...validateQualifiedName(f, p));
    if (seen.has(f)) errs.push(duplicate(p, f));
    seen.add(f);
  });
  if (seen.has('orphan') && seen.has('foregroundDeletion')) {
    errs.push(invalid('metadata.finalizers', finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return errs;
}

/** ValidateObjectMetaUpdate: identity fields are fixed; a deleting object gains no finalizers. */
export function validateObjectMetaUpdate(next: ObjectMeta, prev: ObjectMeta): Errors {
  const errs: Errors = [];
  errs.push(...validateImmutable(next.name, prev.name, 'metadata.name'));
  errs.push(...validateImmutable(next.namespace, prev.namespace, 'metadata.namespace'));
  if (next.uid) errs.push(...validateImmutable(next.uid, prev.uid, 'metadata.uid'));
  if (next.creationTimestamp && prev.creationTimestamp) {
    errs.push(...validateImmutable(next.creationTimestamp, prev.creationTimestamp, 'metadata.creationTimestamp'));
  }
  if (next.generation !== undefined && prev.generation !== undefined && next.generation < prev.generation) {
    errs.push(invalid('metadata.generation', next.generation, 'must not be decremented'));
  }
  if (prev.deletionTimestamp) {
    const added = (next.finalizers ?? []).filter((f) => !(prev.finalizers ?? []).includes(f));
    if (added.length) {
      errs.push(forbidden('metadata.finalizers', `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`));
    }
  }
  return errs;
}

function validateKind(info: KindInfo, obj: ApiObject, old: ApiObject | undefined): Errors {
  switch (info.kind) {
    case 'Pod': {
      const pod = obj as Pod;
      const errs = pod.spec ? validatePodSpec(pod.spec, 'spec') : [required('spec')];
      if (old) errs.push(...validatePodUpdate(pod, old as Pod));
      return errs;
    }
    case 'Deployment':
      return validateDeployment(obj as Deployment, old as Deployment | undefined);
    case 'ReplicaSet':
      return validateReplicaSet(obj as ReplicaSet, old as ReplicaSet | undefined);
    case 'Job':
      return validateJob(obj as Job, old as Job | undefined);
    case 'CronJob':
      return validateCronJob(obj as CronJob, old as CronJob | undefined);
    case 'Service':
      return validateService(obj as Service, old as Service | undefined);
    case 'Endpoints':
      return validateEndpoints(obj as Endpoints);
    case 'ConfigMap':
      return validateConfigMap(obj as ConfigMap, old as ConfigMap | undefined);
    case 'Secret':
      return validateSecret(obj as Secret, old as Secret | undefined);
    case 'Namespace':
      return validateNamespace(obj as Namespace);
    case 'Node':
      return validateNode(obj as Node);
    case 'HorizontalPodAutoscaler':
      return validateHPA(obj as HorizontalPodAutoscaler);
    case 'Event':
      return validateEvent(obj as Event);
    default:
      return [];
  }
}

/** Thrown by `assertValid`; carries the errors and reads like the API server's 422 message. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly errors: readonly FieldError[];
  constructor(obj: unknown, errors: readonly FieldError[]) {
    super(invalidMessage(obj, errors));
    this.errors = errors;
  }
}

/** `The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`. */
export function invalidMessage(obj: unknown, errors: readonly FieldError[]): string {
  const o = isPlainObject(obj) ? obj : {};
  const kindName = typeof o.kind === 'string' && o.kind ? o.kind : 'object';
  const meta = isPlainObject(o.metadata) ? o.metadata : {};
  const name = typeof meta.name === 'string' && meta.name ? meta.name : typeof meta.generateName === 'string' ? meta.generateName : '';
  if (errors.length <= 1) return `The ${kindName} ${JSON.stringify(name)} is invalid: ${formatFieldErrors(errors)}`;
  return `The ${kindName} ${JSON.stringify(name)} is invalid: \n${errors.map((e) => `* ${e.toString()}`).join('\n')}`;
}

/** Throws ValidationError unless `obj` is valid. */
export function assertValid(obj: unknown, opts: ValidateOptions = {}): void {
  const errors = validateObject(obj, opts);
  if (errors.length) throw new ValidationError(obj, errors);
}


