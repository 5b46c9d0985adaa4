/**
 * Defaulting, as the API server applies it on create (the SetDefaults_*
 * functions of Kubernetes' v1, apps/v1, batch/v1 and autoscaling/v2 APIs).
 *
 * `defaultObject` returns a new object and never mutates its input. It is
 * tolerant of malformed input: where a field has the wrong type it is left
 * alone for validation to report. Like Kubernetes, unset means missing, null
 * or the zero value ('' and, for a few probe and port fields, 0).
 */

import { toStorageVersion } from './convert.ts';
import { kindForVersion } from './kinds.ts';
import { tryParseQuantity } from './quantity.ts';
import type { FieldSchema } from './schema.ts';
import { schemaFor } from './schema-kinds.ts';
import type { ApiObject } from './types.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const unset = (v: unknown): boolean => v === undefined || v === null || v === '';
const unsetOrZero = (v: unknown): boolean => unset(v) || v === 0;

function setDefault(o: Obj, field: string, value: unknown, isUnset: (v: unknown) => boolean = unset): void {
  if (isUnset(o[field])) o[field] = value;
}

/** Returns the object child `o[field]`, creating it when unset; undefined when it has another type. */
function objField(o: Obj, field: string): Obj | undefined {
  if (unset(o[field])) o[field] = {};
  return isObj(o[field]) ? (o[field] as Obj) : undefined;
}

const objItems = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** The namespace given to namespaced objects created without one. */
export const DEFAULT_NAMESPACE = 'default';
/** Kubernetes' default for rolling-update bounds. */
export const DEFAULT_MAX_SURGE = '25%';
export const DEFAULT_MAX_UNAVAILABLE = '25%';
/** Target used when an HPA names no metric. */
export const DEFAULT_CPU_UTILIZATION = 80;

/**
 * Returns a copy of `obj` with every default the API server would apply on
 * create, converted to the stored version (autoscaling/v1 HPAs become v2).
 * Objects of unknown kinds are returned as a plain copy.
 */
/**
 * A deep copy of a JSON-shaped value (what API objects are): plain objects, arrays and
 * primitives are copied directly, much faster than structuredClone; anything else (a Date,
 * bytes, a Map) goes through structuredClone.
 */
function cloneValue<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = cloneValue(v[i]);
    return out as T;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = cloneValue((v as Record<string, unknown>)[k]);
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out as T;
}

export function defaultObject<T extends ApiObject>(obj: T): T {
  if (!isObj(obj)) return structuredClone(obj);
  const copy = toStorageVersion(cloneValue(obj)) as T;
  const o = copy as unknown as Obj;
  const info = typeof copy.kind === 'string' && typeof copy.apiVersion === 'string'
    ? kindForVersion(copy.apiVersion, copy.kind)
    : undefined;
  if (!info) return copy;

  const meta = objField(o, 'metadata');
  if (meta && info.namespaced) setDefault(meta, 'namespace', DEFAULT_NAMESPACE);

  switch (info.kind) {
    case 'Pod': {
      const spec = objField(o, 'spec');
      if (spec) {
        defaultPodSpec(spec, { job: false });
        defaultRequestsFromLimits(spec);
      }
      break;
    }
    case 'Deployment':
      defaultDeployment(o);
      break;
    case 'ReplicaSet': {
      const spec = objField(o, 'spec');
      if (spec) {
        setDefault(spec, 'replicas', 1);
        defaultTemplate(spec.template, { job: false });
      }
      break;
    }
    case 'Job':
      defaultJob(o);
      break;
    case 'CronJob':
      defaultCronJob(o);
      break;
    case 'Service':
      defaultService(o);
      break;
    case 'Endpoints':
      for (const subset of objItems(o.subsets)) {
        for (const port of objItems(subset.ports)) setDefault(port, 'protocol', 'TCP');
      }
      break;
    case 'Secret':
      defaultSecret(o);
      break;
    case 'HorizontalPodAutoscaler':
      defaultHPA(o);
      break;
    case 'Node': {
      const status = isObj(o.status) ? o.status : undefined;
      if (status && isObj(status.capacity) && unset(status.allocatable)) status.allocatable = { ...status.capacity };
      break;
    }
    default:
      break;
  }

  const schema = schemaFor(copy.apiVersion, copy.kind);
  return (schema ? canonicalizeQuantities(copy, schema) : copy) as T;
}

// ---- pods ----------------------------------------------------------------------

interface PodDefaultsOptions {
  /** Job and CronJob templates: restartPolicy is not defaulted (it must be Never or OnFailure). */
  job: boolean;
}

function defaultTemplate(template: unknown, opts: PodDefaultsOptions): void {
  if (!isObj(template)) return;
  if (isObj(template.spec)) defaultPodSpec(template.spec, opts);
}

/** SetDefaults_PodSpec and the defaults of everything inside a pod spec. */
export function defaultPodSpec(spec: Obj, opts: PodDefaultsOptions = { job: false }): void {
  if (!opts.job) setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  const hostNetwork = spec.hostNetwork === true;
  for (const c of [...objItems(spec.initContainers), ...objItems(spec.containers)]) defaultContainer(c, hostNetwork);
  for (const v of objItems(spec.volumes)) defaultVolume(v);
}

const VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'persistentVolumeClaim', 'projected', 'downwardAPI'];
/** 0644, the mode of projected files when none is given. */
const DEFAULT_MODE = 0o644;
/**
 * Secret files default to 0400 (owner read only): berth's rule, stricter than Kubernetes'
 * 0644, so a secret is not readable by other users of a shared host or container.
 */
const SECRET_DEFAULT_MODE = 0o400;

function defaultVolume(v: Obj): void {
  // A volume that names no source is an emptyDir (SetDefaults_Volume).
  if (VOLUME_SOURCES.every((s) => v[s] === undefined || v[s] === null)) v.emptyDir = {};
  for (const s of ['configMap', 'secret', 'projected', 'downwardAPI']) {
    if (isObj(v[s])) setDefault(v[s] as Obj, 'defaultMode', s === 'secret' ? SECRET_DEFAULT_MODE : DEFAULT_MODE);
  }
  if (isObj(v.downwardAPI)) {
    for (const item of objItems(v.downwardAPI.items)) defaultFieldRef(item);
  }
}

function defaultFieldRef(holder: Obj): void {
  if (isObj(holder.fieldRef)) setDefault(holder.fieldRef, 'apiVersion', 'v1');
}

/**
 * Always when the image has no tag or the tag `latest`, else IfNotPresent
 * (a digest pins the image, so IfNotPresent too).
 */
export function defaultImagePullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastSlash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const tag = colon > lastSlash ? image.slice(colon + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: Obj, hostNetwork: boolean): void {
  if (typeof c.image === 'string' && c.image !== '') setDefault(c, 'imagePullPolicy', defaultImagePullPolicy(c.image));
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'resources', {});
  for (const p of objItems(c.ports)) {
    setDefault(p, 'protocol', 'TCP');
    if (hostNetwork && typeof p.containerPort === 'number') setDefault(p, 'hostPort', p.containerPort, unsetOrZero);
  }
  for (const e of objItems(c.env)) {
    if (isObj(e.valueFrom)) defaultFieldRef(e.valueFrom);
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    if (isObj(c[probe])) defaultProbe(c[probe] as Obj);
  }
  if (isObj(c.lifecycle)) {
    for (const h of ['postStart', 'preStop']) {
      const handler = c.lifecycle[h];
      if (isObj(handler) && isObj(handler.httpGet)) defaultHTTPGet(handler.httpGet);
    }
  }
}

function defaultProbe(p: Obj): void {
  setDefault(p, 'timeoutSeconds', 1, unsetOrZero);
  setDefault(p, 'periodSeconds', 10, unsetOrZero);
  setDefault(p, 'successThreshold', 1, unsetOrZero);
  setDefault(p, 'failureThreshold', 3, unsetOrZero);
  if (isObj(p.httpGet)) defaultHTTPGet(p.httpGet);
}

function defaultHTTPGet(h: Obj): void {
  setDefault(h, 'path', '/');
  setDefault(h, 'scheme', 'HTTP');
}

/** SetDefaults_Pod: a container that sets a limit but no request for a resource requests the limit. */
function defaultRequestsFromLimits(spec: Obj): void {
  for (const c of [...objItems(spec.initContainers), ...objItems(spec.containers)]) {
    const resources = isObj(c.resources) ? c.resources : undefined;
    if (!resources || !isObj(resources.limits)) continue;
    const requests = objField(resources, 'requests');
    if (!requests) continue;
    for (const [name, limit] of Object.entries(resources.limits)) {
      // A malformed limit is reported once, on the limit; copying it would report it twice.
      if (tryParseQuantity(limit) === undefined) continue;
      if (requests[name] === undefined || requests[name] === null) requests[name] = limit;
    }
  }
}

// ---- workloads -----------------------------------------------------------------

function defaultDeployment(o: Obj): void {
  const spec = objField(o, 'spec');
  if (!spec) return;
  setDefault(spec, 'replicas', 1);
  const strategy = objField(spec, 'strategy');
  if (strategy) {
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = objField(strategy, 'rollingUpdate');
      if (ru) {
        setDefault(ru, 'maxUnavailable', DEFAULT_MAX_UNAVAILABLE);
        setDefault(ru, 'maxSurge', DEFAULT_MAX_SURGE);
      }
    }
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  defaultTemplate(spec.template, { job: false });
}

/** SetDefaults_Job (without the controller-uid selector, which the controller generates). */
export function defaultJobSpec(spec: Obj): void {
  if (unset(spec.completions) && unset(spec.parallelism)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  setDefault(spec, 'parallelism', 1);
  setDefault(spec, 'backoffLimit', unset(spec.backoffLimitPerIndex) ? 6 : 2147483647);
  setDefault(spec, 'completionMode', 'NonIndexed');
  setDefault(spec, 'suspend', false);
  if (isObj(spec.podFailurePolicy)) {
    for (const rule of objItems(spec.podFailurePolicy.rules)) {
      for (const pattern of objItems(rule.onPodConditions)) setDefault(pattern, 'status', 'True');
    }
  }
  setDefault(spec, 'podReplacementPolicy', isObj(spec.podFailurePolicy) ? 'Failed' : 'TerminatingOrFailed');
  defaultTemplate(spec.template, { job: true });
}

function defaultJob(o: Obj): void {
  const spec = objField(o, 'spec');
  if (!spec) return;
  defaultJobSpec(spec);
  // A Job without labels takes its pod template's labels.
  const meta = isObj(o.metadata) ? o.metadata : undefined;
  const template = isObj(spec.template) ? spec.template : undefined;
  const templateLabels = template && isObj(template.metadata) ? template.metadata.labels : undefined;
  if (meta && isObj(templateLabels) && (!isObj(meta.labels) || Object.keys(meta.labels).length === 0)) {
    meta.labels = { ...templateLabels };
  }
}

function defaultCronJob(o: Obj): void {
  const spec = objField(o, 'spec');
  if (!spec) return;
  setDefault(spec, 'concurrencyPolicy', 'Allow');
  setDefault(spec, 'suspend', false);
  setDefault(spec, 'successfulJobsHistoryLimit', 3);
  setDefault(spec, 'failedJobsHistoryLimit', 1);
  // Only the pod template inside the job template is defaulted (as in Kubernetes);
  // Job-level defaults apply when the controller creates each Job.
  const jobTemplate = isObj(spec.jobTemplate) ? spec.jobTemplate : undefined;
  const jobSpec = jobTemplate && isObj(jobTemplate.spec) ? jobTemplate.spec : undefined;
  if (jobSpec) defaultTemplate(jobSpec.template, { job: true });
}

// ---- services, secrets, autoscalers ------------------------------------------------

function defaultService(o: Obj): void {
  const spec = objField(o, 'spec');
  if (!spec) return;
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'ClientIP') {
    const config = objField(spec, 'sessionAffinityConfig');
    const clientIP = config && objField(config, 'clientIP');
    if (clientIP) setDefault(clientIP, 'timeoutSeconds', 10800, unsetOrZero);
  }
  for (const port of objItems(spec.ports)) {
    setDefault(port, 'protocol', 'TCP');
    if (unsetOrZero(port.targetPort) && port.port !== undefined) port.targetPort = port.port;
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type !== 'ExternalName') setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
}

function defaultSecret(o: Obj): void {
  setDefault(o, 'type', 'Opaque');
  // stringData is write-only: its values are base64-encoded into data, overriding keys there.
  if (isObj(o.stringData)) {
    const data = objField(o, 'data');
    if (data) {
      for (const [k, v] of Object.entries(o.stringData)) {
        if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
        else if (v === null) data[k] = '';
        else continue;
        delete o.stringData[k];
      }
      if (Object.keys(o.stringData).length === 0) delete o.stringData;
    }
  }
}

const scaleUpDefaults = () => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
});

const scaleDownDefaults = () => ({
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
});

function defaultHPA(o: Obj): void {
  const spec = objField(o, 'spec');
  if (!spec) return;
  setDefault(spec, 'minReplicas', 1);
  if (unset(spec.metrics) || (Array.isArray(spec.metrics) && spec.metrics.length === 0)) {
    spec.metrics = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } },
      },
    ];
  }
  // With a behavior section, every unset rule field takes its default.
  if (isObj(spec.behavior)) {
    for (const [dir, defaults] of [
      ['scaleUp', scaleUpDefaults()],
      ['scaleDown', scaleDownDefaults()],
    ] as const) {
      const given = spec.behavior[dir];
      if (unset(given)) spec.behavior[dir] = defaults;
      else if (isObj(given)) {
        for (const [k, v] of Object.entries(defaults)) setDefault(given, k, v);
      }
    }
  }
}

// ---- quantities ---------------------------------------------------------------------

/**
 * Rewrites every well-formed quantity in canonical form (`0.5` → `500m`,
 * `1024Mi` → `1Gi`, a YAML number 1 → "1"), as the API server does when it
 * stores an object. Malformed quantities are left for validation.
 */
function canonicalizeQuantities(value: unknown, schema: FieldSchema): unknown {
  switch (schema.type) {
    case 'quantity':
      if (typeof value === 'string' || typeof value === 'number') return tryParseQuantity(value)?.toString() ?? value;
      return value;
    case 'list':
      return Array.isArray(value) ? value.map((v) => canonicalizeQuantities(v, schema.items!)) : value;
    case 'map':
      if (!isObj(value)) return value;
      for (const k of Object.keys(value)) value[k] = canonicalizeQuantities(value[k], schema.values!);
      return value;
    case 'object':
      if (!isObj(value)) return value;
      for (const k of Object.keys(value)) {
        const fs = schema.fields?.[k];
        if (fs) value[k] = canonicalizeQuantities(value[k], fs);
      }
      return value;
    default:
      return value;
  }
}
