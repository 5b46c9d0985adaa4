/**
 * Validation of pod specs and templates (Kubernetes' ValidatePodSpec and
 * friends): containers, ports, env, probes, resources, volumes and mounts,
 * scheduling constraints, and the narrow set of fields a Pod update may change.
 */

import {
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  key,
  notFound,
  notSupported,
  required,
} from './field-error.ts';
import {
  inclusiveRangeError,
  isConfigMapKey,
  isDNS1123Subdomain,
  isEnvVarName,
  isHTTPHeaderName,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from './names.ts';
import { Quantity, tryParseQuantity } from './quantity.ts';
import type {
  Affinity,
  Container,
  ContainerPort,
  EnvFromSource,
  EnvVar,
  HTTPGetAction,
  LifecycleHandler,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  Pod,
  PodAffinityTerm,
  PodSpec,
  PodTemplateSpec,
  Probe,
  ResourceRequirements,
  Toleration,
  TopologySpreadConstraint,
  Volume,
  VolumeMount,
} from './types.ts';
import {
  type Errors,
  deepEqual,
  validateAnnotations,
  validateAtLeast,
  validateDNSLabel,
  validateDNSSubdomain,
  validateLabelName,
  validateLabelSelector,
  validateLabels,
  validateNonNegative,
  validatePortNumOrName,
  validateProtocol,
  validateQualifiedName,
  validateRequiredEnum,
} from './validate-common.ts';

export interface PodSpecOptions {
  /** A Job's template: restartPolicy is checked by the Job validator instead. */
  job?: boolean;
}

const MAX_INT32 = 2147483647;

/** Validates a pod template: its labels and annotations, and its pod spec. */
export function validatePodTemplateSpec(
  template: PodTemplateSpec | undefined,
  path: string,
  opts: PodSpecOptions = {},
): Errors {
  if (!template) return [];
  const errs: Errors = [];
  const meta = template.metadata;
  if (meta) {
    errs.push(...validateLabels(meta.labels, child(child(path, 'metadata'), 'labels')));
    errs.push(...validateAnnotations(meta.annotations, child(child(path, 'metadata'), 'annotations')));
  }
  if (template.spec) errs.push(...validatePodSpec(template.spec, child(path, 'spec'), opts));
  return errs;
}

export function validatePodSpec(spec: PodSpec, path: string, opts: PodSpecOptions = {}): Errors {
  const errs: Errors = [];
  const volumes = validateVolumes(spec.volumes ?? [], child(path, 'volumes'), errs);

  // Container names are unique across init and app containers.
  const names = new Set<string>();
  const checkName = (c: Container, p: string) => {
    if (!c.name) return;
    errs.push(...validateDNSLabel(c.name, child(p, 'name')));
    if (names.has(c.name)) errs.push(duplicate(child(p, 'name'), c.name));
    else names.add(c.name);
  };
  const hostPorts = new Set<string>();
  const initPath = child(path, 'initContainers');
  (spec.initContainers ?? []).forEach((c, i) => {
    const p = index(initPath, i);
    checkName(c, p);
    errs.push(...validateContainer(c, p, volumes, 'init'));
  });
  const ctrPath = child(path, 'containers');
  (spec.containers ?? []).forEach((c, i) => {
    const p = index(ctrPath, i);
    checkName(c, p);
    errs.push(...validateContainer(c, p, volumes, 'regular'));
    errs.push(...validateHostPorts(c.ports ?? [], child(p, 'ports'), hostPorts, spec.hostNetwork === true));
  });

  if (!opts.job) errs.push(...validateRequiredEnum(spec.restartPolicy, child(path, 'restartPolicy')));
  errs.push(...validateRequiredEnum(spec.dnsPolicy, child(path, 'dnsPolicy')));
  if (spec.dnsPolicy === 'None' && !(spec.dnsConfig?.nameservers?.length)) {
    errs.push(required(child(path, 'dnsConfig'), 'must provide `dnsConfig` when `dnsPolicy` is None'));
  }
  errs.push(...validateLabels(spec.nodeSelector, child(path, 'nodeSelector')));
  if (spec.nodeName) errs.push(...validateDNSSubdomain(spec.nodeName, child(path, 'nodeName')));
  if (spec.serviceAccountName) errs.push(...validateDNSSubdomain(spec.serviceAccountName, child(path, 'serviceAccountName')));
  if (spec.schedulerName) errs.push(...validateDNSSubdomain(spec.schedulerName, child(path, 'schedulerName')));
  if (spec.priorityClassName) errs.push(...validateDNSSubdomain(spec.priorityClassName, child(path, 'priorityClassName')));
  if (spec.hostname) errs.push(...validateDNSLabel(spec.hostname, child(path, 'hostname')));
  if (spec.subdomain) errs.push(...validateDNSLabel(spec.subdomain, child(path, 'subdomain')));
  if (spec.activeDeadlineSeconds !== undefined && (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > MAX_INT32)) {
    errs.push(invalid(child(path, 'activeDeadlineSeconds'), spec.activeDeadlineSeconds, inclusiveRangeError(1, MAX_INT32)));
  }
  errs.push(...validateNonNegative(spec.terminationGracePeriodSeconds, child(path, 'terminationGracePeriodSeconds')));
  const sc = spec.securityContext;
  if (sc) {
    const scPath = child(path, 'securityContext');
    for (const f of ['runAsUser', 'runAsGroup', 'fsGroup'] as const) errs.push(...validateId(sc[f], child(scPath, f)));
    (sc.supplementalGroups ?? []).forEach((g, i) => errs.push(...validateId(g, index(child(scPath, 'supplementalGroups'), i))));
  }
  errs.push(...validateTolerations(spec.tolerations ?? [], child(path, 'tolerations')));
  if (spec.affinity) errs.push(...validateAffinity(spec.affinity, child(path, 'affinity')));
  errs.push(...validateTopologySpread(spec.topologySpreadConstraints ?? [], child(path, 'topologySpreadConstraints')));
  const gates = new Set<string>();
  (spec.schedulingGates ?? []).forEach((g, i) => {
    const p = child(index(child(path, 'schedulingGates'), i), 'name');
    if (g.name) errs.push(...validateQualifiedName(g.name, p));
    if (gates.has(g.name)) errs.push(duplicate(p, g.name));
    gates.add(g.name);
  });
  return errs;
}

function validateId(id: number | undefined, path: string): Errors {
  if (id === undefined) return [];
  return id < 0 || id > 4294967295 ? [invalid(path, id, inclusiveRangeError(0, 4294967295))] : [];
}

// ---- containers ----------------------------------------------------------------

function validateContainer(
  c: Container,
  path: string,
  volumes: ReadonlyMap<string, Volume>,
  role: 'init' | 'regular',
): Errors {
  const errs: Errors = [];
  if (c.image !== undefined && c.image !== c.image.trim()) {
    errs.push(invalid(child(path, 'image'), c.image, 'must not have leading or trailing whitespace'));
  }
  // The pull policy is defaulted from the image; without an image, only the image is reported.
  if (c.image) errs.push(...validateRequiredEnum(c.imagePullPolicy, child(path, 'imagePullPolicy')));
  errs.push(...validateRequiredEnum(c.terminationMessagePolicy, child(path, 'terminationMessagePolicy')));
  if (c.terminationMessagePath !== undefined && Buffer.byteLength(c.terminationMessagePath) > 4096) {
    errs.push(invalid(child(path, 'terminationMessagePath'), c.terminationMessagePath, 'must not be longer than 4096'));
  }
  errs.push(...validateContainerPorts(c.ports ?? [], child(path, 'ports')));
  errs.push(...validateEnv(c.env ?? [], child(path, 'env')));
  errs.push(...validateEnvFrom(c.envFrom ?? [], child(path, 'envFrom')));
  errs.push(...validateVolumeMounts(c.volumeMounts ?? [], child(path, 'volumeMounts'), volumes, c));
  if (c.resources) errs.push(...validateResourceRequirements(c.resources, child(path, 'resources')));
  if (c.securityContext) {
    const scPath = child(path, 'securityContext');
    errs.push(...validateId(c.securityContext.runAsUser, child(scPath, 'runAsUser')));
    errs.push(...validateId(c.securityContext.runAsGroup, child(scPath, 'runAsGroup')));
    if (c.securityContext.privileged === true && c.securityContext.allowPrivilegeEscalation === false) {
      errs.push(invalid(scPath, c.securityContext, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
    }
  }

  const sidecar = role === 'init' && c.restartPolicy === 'Always';
  if (role === 'init' && !sidecar) {
    for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      if (c[f] !== undefined) errs.push(forbidden(child(path, f), 'may not be set for init containers without restartPolicy=Always'));
    }
  } else {
    if (c.livenessProbe) errs.push(...validateProbe(c.livenessProbe, child(path, 'livenessProbe'), 'liveness'));
    if (c.readinessProbe) errs.push(...validateProbe(c.readinessProbe, child(path, 'readinessProbe'), 'readiness'));
    if (c.startupProbe) errs.push(...validateProbe(c.startupProbe, child(path, 'startupProbe'), 'startup'));
    if (c.lifecycle) {
      for (const h of ['postStart', 'preStop'] as const) {
        const handler = c.lifecycle[h];
        if (handler) errs.push(...validateHandler(handler, child(child(path, 'lifecycle'), h), ['exec', 'httpGet', 'tcpSocket', 'sleep']));
      }
    }
  }
  if (role === 'regular' && c.restartPolicy !== undefined) {
    errs.push(forbidden(child(path, 'restartPolicy'), 'may not be set for non-init containers'));
  }
  return errs;
}

function validateContainerPorts(ports: ContainerPort[], path: string): Errors {
  const errs: Errors = [];
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const p = index(path, i);
    if (port.name) {
      const msgs = isValidPortName(port.name);
      if (msgs.length) for (const msg of msgs) errs.push(invalid(child(p, 'name'), port.name, msg));
      else if (names.has(port.name)) errs.push(duplicate(child(p, 'name'), port.name));
      else names.add(port.name);
    }
    if (port.containerPort === 0) errs.push(required(child(p, 'containerPort')));
    else if (port.containerPort !== undefined) {
      for (const msg of isValidPortNum(port.containerPort)) errs.push(invalid(child(p, 'containerPort'), port.containerPort, msg));
    }
    if (port.hostPort !== undefined && port.hostPort !== 0) {
      for (const msg of isValidPortNum(port.hostPort)) errs.push(invalid(child(p, 'hostPort'), port.hostPort, msg));
    }
    errs.push(...validateProtocol(port.protocol, child(p, 'protocol')));
  });
  return errs;
}

/** Host ports must be unique per protocol in the pod, and equal the container port with hostNetwork. */
function validateHostPorts(ports: ContainerPort[], path: string, seen: Set<string>, hostNetwork: boolean): Errors {
  const errs: Errors = [];
  ports.forEach((port, i) => {
    const p = child(index(path, i), 'hostPort');
    if (hostNetwork && port.hostPort !== undefined && port.hostPort !== port.containerPort) {
      errs.push(invalid(p, port.hostPort, 'must match `containerPort` when `hostNetwork` is true'));
    }
    if (!port.hostPort) return;
    const k = `${port.hostPort}/${port.protocol ?? 'TCP'}`;
    if (seen.has(k)) errs.push(duplicate(p, k));
    seen.add(k);
  });
  return errs;
}

const ENV_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'metadata.labels',
  'metadata.annotations',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const RESOURCE_FIELD_PATHS = [
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
];

function validateFieldPath(fieldPath: string | undefined, path: string, allowed: readonly string[]): Errors {
  if (!fieldPath) return [];
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sub) {
    const errs = isQualifiedName(sub[2]!).map((msg) => invalid(path, fieldPath, msg));
    return errs;
  }
  return allowed.includes(fieldPath) ? [] : [notSupported(path, fieldPath, allowed)];
}

function validateEnv(env: EnvVar[], path: string): Errors {
  const errs: Errors = [];
  env.forEach((e, i) => {
    const p = index(path, i);
    if (e.name) for (const msg of isEnvVarName(e.name)) errs.push(invalid(child(p, 'name'), e.name, msg));
    const vf = e.valueFrom;
    if (!vf) return;
    const vfPath = child(p, 'valueFrom');
    let sources = 0;
    if (vf.fieldRef) {
      sources++;
      errs.push(...validateFieldPath(vf.fieldRef.fieldPath, child(child(vfPath, 'fieldRef'), 'fieldPath'), ENV_FIELD_PATHS));
      if (vf.fieldRef.apiVersion !== undefined && vf.fieldRef.apiVersion !== 'v1') {
        errs.push(notSupported(child(child(vfPath, 'fieldRef'), 'apiVersion'), vf.fieldRef.apiVersion, ['v1']));
      }
    }
    if (vf.resourceFieldRef) {
      sources++;
      const r = vf.resourceFieldRef.resource;
      if (r && !RESOURCE_FIELD_PATHS.includes(r) && !/^(limits|requests)\.hugepages-/.test(r)) {
        errs.push(notSupported(child(child(vfPath, 'resourceFieldRef'), 'resource'), r, RESOURCE_FIELD_PATHS));
      }
    }
    for (const f of ['configMapKeyRef', 'secretKeyRef'] as const) {
      const ref = vf[f];
      if (!ref) continue;
      sources++;
      const refPath = child(vfPath, f);
      if (ref.name) for (const msg of isDNS1123Subdomain(ref.name)) errs.push(invalid(child(refPath, 'name'), ref.name, msg));
      if (ref.key) for (const msg of isConfigMapKey(ref.key)) errs.push(invalid(child(refPath, 'key'), ref.key, msg));
    }
    if (sources === 0) {
      errs.push(invalid(vfPath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    } else if (e.value) {
      errs.push(invalid(vfPath, '', 'may not be specified when `value` is not empty'));
    } else if (sources > 1) {
      errs.push(invalid(vfPath, '', 'may not have more than one field specified at a time'));
    }
  });
  return errs;
}

function validateEnvFrom(envFrom: EnvFromSource[], path: string): Errors {
  const errs: Errors = [];
  envFrom.forEach((e, i) => {
    const p = index(path, i);
    if (e.prefix) for (const msg of isEnvVarName(e.prefix)) errs.push(invalid(child(p, 'prefix'), e.prefix, msg));
    let sources = 0;
    for (const f of ['configMapRef', 'secretRef'] as const) {
      const ref = e[f];
      if (!ref) continue;
      sources++;
      const namePath = child(child(p, f), 'name');
      if (!ref.name) errs.push(required(namePath));
      else for (const msg of isDNS1123Subdomain(ref.name)) errs.push(invalid(namePath, ref.name, msg));
    }
    if (sources === 0) errs.push(invalid(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (sources > 1) errs.push(invalid(p, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateLocalDescendingPath(value: string, path: string): Errors {
  const errs: Errors = [];
  if (value.startsWith('/')) errs.push(invalid(path, value, 'must be a relative path'));
  if (value.split('/').includes('..')) errs.push(invalid(path, value, "must not contain '..'"));
  return errs;
}

function validateVolumeMounts(mounts: VolumeMount[], path: string, volumes: ReadonlyMap<string, Volume>, c: Container): Errors {
  const errs: Errors = [];
  const paths = new Set<string>();
  mounts.forEach((m, i) => {
    const p = index(path, i);
    if (m.name && !volumes.has(m.name)) errs.push(notFound(child(p, 'name'), m.name));
    if (m.mountPath) {
      if (m.mountPath.includes(':')) errs.push(invalid(child(p, 'mountPath'), m.mountPath, "must not contain ':'"));
      if (paths.has(m.mountPath)) errs.push(invalid(child(p, 'mountPath'), m.mountPath, 'must be unique'));
      paths.add(m.mountPath);
    }
    if (m.subPath) errs.push(...validateLocalDescendingPath(m.subPath, child(p, 'subPath')));
    if (m.subPath && m.subPathExpr) errs.push(invalid(child(p, 'subPathExpr'), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
    if (m.mountPropagation === 'Bidirectional' && c.securityContext?.privileged !== true) {
      errs.push(forbidden(child(p, 'mountPropagation'), 'Bidirectional mount propagation is available only to privileged containers'));
    }
  });
  return errs;
}

// ---- probes and handlers ---------------------------------------------------------

type HandlerKind = 'exec' | 'httpGet' | 'tcpSocket' | 'grpc' | 'sleep';

function validateHandler(h: Probe | LifecycleHandler, path: string, kinds: readonly HandlerKind[]): Errors {
  const errs: Errors = [];
  const present = kinds.filter((k) => (h as Record<string, unknown>)[k] !== undefined);
  if (present.length === 0) return [required(path, 'must specify a handler type')];
  for (const extra of present.slice(1)) errs.push(forbidden(child(path, extra), 'may not specify more than 1 handler type'));
  const r = h as Probe & LifecycleHandler;
  if (r.exec && (r.exec.command ?? []).length === 0) errs.push(required(child(child(path, 'exec'), 'command')));
  if (r.httpGet) errs.push(...validateHTTPGet(r.httpGet, child(path, 'httpGet')));
  if (r.tcpSocket) errs.push(...validatePortNumOrName(r.tcpSocket.port, child(child(path, 'tcpSocket'), 'port')));
  if (r.grpc && r.grpc.port !== undefined) {
    for (const msg of isValidPortNum(r.grpc.port)) errs.push(invalid(child(child(path, 'grpc'), 'port'), r.grpc.port, msg));
  }
  if (r.sleep) errs.push(...validateNonNegative(r.sleep.seconds, child(child(path, 'sleep'), 'seconds')));
  return errs;
}

function validateHTTPGet(h: HTTPGetAction, path: string): Errors {
  const errs: Errors = [];
  if (!h.path) errs.push(required(child(path, 'path')));
  errs.push(...validatePortNumOrName(h.port, child(path, 'port')));
  if (!h.scheme) errs.push(required(child(path, 'scheme')));
  (h.httpHeaders ?? []).forEach((hdr, i) => {
    if (hdr.name) {
      for (const msg of isHTTPHeaderName(hdr.name)) errs.push(invalid(child(index(child(path, 'httpHeaders'), i), 'name'), hdr.name, msg));
    }
  });
  return errs;
}

function validateProbe(probe: Probe, path: string, kind: 'liveness' | 'readiness' | 'startup'): Errors {
  const errs = validateHandler(probe, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  errs.push(...validateNonNegative(probe.initialDelaySeconds, child(path, 'initialDelaySeconds')));
  for (const f of ['timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const) {
    errs.push(...validateAtLeast(probe[f], 1, child(path, f)));
  }
  if ((kind === 'liveness' || kind === 'startup') && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    errs.push(invalid(child(path, 'successThreshold'), probe.successThreshold, 'must be 1'));
  }
  if (probe.terminationGracePeriodSeconds !== undefined) {
    if (kind === 'readiness') {
      errs.push(invalid(child(path, 'terminationGracePeriodSeconds'), probe.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
    } else if (probe.terminationGracePeriodSeconds <= 0) {
      errs.push(invalid(child(path, 'terminationGracePeriodSeconds'), probe.terminationGracePeriodSeconds, 'must be greater than 0'));
    }
  }
  return errs;
}

// ---- resources ---------------------------------------------------------------------

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);

const isHugePages = (name: string): boolean => name.startsWith('hugepages-');
/** Extended resources are prefixed with a domain outside kubernetes.io; they are counted in whole units. */
const isExtended = (name: string): boolean =>
  name.includes('/') && !/^([a-z0-9-]+\.)*kubernetes\.io\//.test(name) && !name.startsWith('requests.');

function validateResourceName(name: string, path: string): Errors {
  if (STANDARD_CONTAINER_RESOURCES.has(name) || isHugePages(name)) return [];
  if (!name.includes('/')) return [invalid(path, name, 'must be a standard resource for containers')];
  const errs = validateQualifiedName(name, path);
  if (errs.length === 0 && !isExtended(name)) errs.push(invalid(path, name, 'must be a standard resource for containers'));
  return errs;
}

/** Quantities non-negative, names known, requests not above limits, extended resources whole and not overcommitted. */
export function validateResourceRequirements(res: ResourceRequirements, path: string): Errors {
  const errs: Errors = [];
  const limitsPath = child(path, 'limits');
  const requestsPath = child(path, 'requests');
  const limits = new Map<string, Quantity>();
  for (const [name, value] of Object.entries(res.limits ?? {})) {
    const p = key(limitsPath, name);
    errs.push(...validateResourceName(name, p));
    const q = tryParseQuantity(value);
    if (!q) continue;
    errs.push(...validateResourceQuantity(name, q, p));
    limits.set(name, q);
  }
  for (const [name, value] of Object.entries(res.requests ?? {})) {
    const p = key(requestsPath, name);
    errs.push(...validateResourceName(name, p));
    const q = tryParseQuantity(value);
    if (!q) continue;
    errs.push(...validateResourceQuantity(name, q, p));
    const limit = limits.get(name);
    if (isExtended(name) || isHugePages(name)) {
      if (!limit) {
        if (isExtended(name)) errs.push(required(key(limitsPath, name), 'Limit must be set for non overcommitable resources'));
      } else if (!q.equals(limit)) {
        errs.push(invalid(p, q.toString(), `must be equal to ${name} limit of ${limit.toString()}`));
      }
    } else if (limit && q.cmp(limit) > 0) {
      errs.push(invalid(p, q.toString(), `must be less than or equal to ${name} limit of ${limit.toString()}`));
    }
  }
  return errs;
}

function validateResourceQuantity(name: string, q: Quantity, path: string): Errors {
  if (q.sign() < 0) return [invalid(path, q.toString(), 'must be greater than or equal to 0')];
  if ((isExtended(name) || isHugePages(name)) && q.milliValue() % 1000n !== 0n) {
    return [invalid(path, q.toString(), 'must be an integer')];
  }
  return [];
}

// ---- volumes -------------------------------------------------------------------------

const VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'persistentVolumeClaim', 'projected', 'downwardAPI'] as const;

function validateMode(mode: number | undefined, path: string): Errors {
  return mode !== undefined && (mode < 0 || mode > 0o777)
    ? [invalid(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive')]
    : [];
}

function validateKeyToPaths(items: { key: string; path: string; mode?: number }[] | undefined, path: string): Errors {
  const errs: Errors = [];
  (items ?? []).forEach((item, i) => {
    const p = index(path, i);
    if (item.path) errs.push(...validateLocalDescendingPath(item.path, child(p, 'path')));
    errs.push(...validateMode(item.mode, child(p, 'mode')));
  });
  return errs;
}

/** Validates the volumes and returns them by name for the mount checks. */
function validateVolumes(volumes: Volume[], path: string, errs: Errors): Map<string, Volume> {
  const byName = new Map<string, Volume>();
  volumes.forEach((v, i) => {
    const p = index(path, i);
    if (v.name) {
      errs.push(...validateDNSLabel(v.name, child(p, 'name')));
      if (byName.has(v.name)) errs.push(duplicate(child(p, 'name'), v.name));
      else byName.set(v.name, v);
    }
    const sources = VOLUME_SOURCES.filter((s) => v[s] !== undefined);
    if (sources.length === 0) errs.push(required(p, 'must specify a volume type'));
    for (const extra of sources.slice(1)) errs.push(forbidden(child(p, extra), 'may not specify more than 1 volume type'));
    if (v.configMap) {
      const cp = child(p, 'configMap');
      if (v.configMap.name) errs.push(...validateDNSSubdomain(v.configMap.name, child(cp, 'name')));
      errs.push(...validateMode(v.configMap.defaultMode, child(cp, 'defaultMode')));
      errs.push(...validateKeyToPaths(v.configMap.items, child(cp, 'items')));
    }
    if (v.secret) {
      const sp = child(p, 'secret');
      if (v.secret.secretName) errs.push(...validateDNSSubdomain(v.secret.secretName, child(sp, 'secretName')));
      errs.push(...validateMode(v.secret.defaultMode, child(sp, 'defaultMode')));
      errs.push(...validateKeyToPaths(v.secret.items, child(sp, 'items')));
    }
    if (v.hostPath?.path && !v.hostPath.path.startsWith('/')) {
      errs.push(invalid(child(child(p, 'hostPath'), 'path'), v.hostPath.path, 'must be an absolute path'));
    }
    if (v.emptyDir?.sizeLimit !== undefined) {
      const q = tryParseQuantity(v.emptyDir.sizeLimit);
      if (q && q.sign() < 0) errs.push(invalid(child(child(p, 'emptyDir'), 'sizeLimit'), q.toString(), 'must be greater than or equal to 0'));
    }
    if (v.downwardAPI) {
      const dp = child(p, 'downwardAPI');
      errs.push(...validateMode(v.downwardAPI.defaultMode, child(dp, 'defaultMode')));
      (v.downwardAPI.items ?? []).forEach((item, j) => {
        const ip = index(child(dp, 'items'), j);
        if (item.path) errs.push(...validateLocalDescendingPath(item.path, child(ip, 'path')));
        errs.push(...validateMode(item.mode, child(ip, 'mode')));
        const n = (item.fieldRef ? 1 : 0) + (item.resourceFieldRef ? 1 : 0);
        if (n === 0) errs.push(required(ip, 'one of fieldRef and resourceFieldRef is required'));
        if (n > 1) errs.push(invalid(ip, '', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
        if (item.fieldRef) {
          errs.push(...validateFieldPath(item.fieldRef.fieldPath, child(child(ip, 'fieldRef'), 'fieldPath'), ENV_FIELD_PATHS.filter((f) => !f.startsWith('status.') && f !== 'spec.nodeName' && f !== 'spec.serviceAccountName')));
        }
        if (item.resourceFieldRef && !item.resourceFieldRef.containerName) {
          errs.push(required(child(child(ip, 'resourceFieldRef'), 'containerName')));
        }
      });
    }
    if (v.projected) {
      const pp = child(p, 'projected');
      errs.push(...validateMode(v.projected.defaultMode, child(pp, 'defaultMode')));
      (v.projected.sources ?? []).forEach((src, j) => {
        const sp = index(child(pp, 'sources'), j);
        const kinds = (['secret', 'configMap', 'downwardAPI', 'serviceAccountToken'] as const).filter((k) => src[k] !== undefined);
        if (kinds.length === 0) errs.push(required(sp, 'must specify exactly 1 of: secret, configMap, downwardAPI, serviceAccountToken'));
        for (const extra of kinds.slice(1)) errs.push(forbidden(child(sp, extra), 'may not specify more than 1 volume type per source'));
        errs.push(...validateKeyToPaths(src.secret?.items, child(child(sp, 'secret'), 'items')));
        errs.push(...validateKeyToPaths(src.configMap?.items, child(child(sp, 'configMap'), 'items')));
        const token = src.serviceAccountToken;
        if (token?.expirationSeconds !== undefined && token.expirationSeconds < 600) {
          errs.push(invalid(child(child(sp, 'serviceAccountToken'), 'expirationSeconds'), token.expirationSeconds, 'may not specify a duration less than 10 minutes'));
        }
        if (token?.path) errs.push(...validateLocalDescendingPath(token.path, child(child(sp, 'serviceAccountToken'), 'path')));
      });
    }
  });
  return byName;
}

// ---- scheduling ------------------------------------------------------------------

function validateTolerations(tolerations: Toleration[], path: string): Errors {
  const errs: Errors = [];
  tolerations.forEach((t, i) => {
    const p = index(path, i);
    if (t.key) errs.push(...validateLabelName(t.key, child(p, 'key')));
    if (!t.key && t.operator !== 'Exists') {
      errs.push(invalid(child(p, 'operator'), t.operator ?? '', 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      errs.push(invalid(child(p, 'effect'), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (t.operator === 'Exists') {
      if (t.value) errs.push(invalid(child(p, 'operator'), t, "value must be empty when `operator` is 'Exists'"));
    } else {
      const msgs = isValidLabelValue(t.value ?? '');
      if (msgs.length) errs.push(invalid(child(p, 'operator'), t.value ?? '', msgs.join(';')));
    }
  });
  return errs;
}

function validateNodeSelectorRequirement(r: NodeSelectorRequirement, path: string, fields: boolean): Errors {
  const errs: Errors = [];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) errs.push(forbidden(child(path, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) errs.push(required(child(path, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      else if (!/^-?[0-9]+$/.test(values[0]!)) errs.push(invalid(child(path, 'values'), values[0], 'must be an integer'));
      break;
    default:
      break; // the schema reports unknown operators
  }
  if (fields) {
    if (r.key && r.key !== 'metadata.name') errs.push(invalid(child(path, 'key'), r.key, 'not a valid field selector key'));
  } else if (r.key) errs.push(...validateLabelName(r.key, child(path, 'key')));
  return errs;
}

function validateNodeSelectorTerm(term: NodeSelectorTerm, path: string): Errors {
  const errs: Errors = [];
  (term.matchExpressions ?? []).forEach((r, i) =>
    errs.push(...validateNodeSelectorRequirement(r, index(child(path, 'matchExpressions'), i), false)),
  );
  (term.matchFields ?? []).forEach((r, i) =>
    errs.push(...validateNodeSelectorRequirement(r, index(child(path, 'matchFields'), i), true)),
  );
  return errs;
}

function validatePodAffinityTerm(term: PodAffinityTerm, path: string): Errors {
  const errs = validateLabelSelector(term.labelSelector, child(path, 'labelSelector'));
  errs.push(...validateLabelSelector(term.namespaceSelector, child(path, 'namespaceSelector')));
  (term.namespaces ?? []).forEach((ns, i) => errs.push(...validateDNSLabel(ns, index(child(path, 'namespaces'), i))));
  if (!term.topologyKey) errs.push(required(child(path, 'topologyKey'), 'can not be empty'));
  else errs.push(...validateLabelName(term.topologyKey, child(path, 'topologyKey')));
  return errs;
}

function validateWeight(weight: number | undefined, path: string): Errors {
  return weight !== undefined && (weight <= 0 || weight > 100) ? [invalid(path, weight, 'must be in the range 1-100')] : [];
}

function validateAffinity(a: Affinity, path: string): Errors {
  const errs: Errors = [];
  const na = a.nodeAffinity;
  if (na) {
    const np = child(path, 'nodeAffinity');
    const reqd = na.requiredDuringSchedulingIgnoredDuringExecution;
    if (reqd) {
      const rp = child(child(np, 'requiredDuringSchedulingIgnoredDuringExecution'), 'nodeSelectorTerms');
      const terms = reqd.nodeSelectorTerms ?? [];
      if (terms.length === 0) errs.push(required(rp, 'must have at least one node selector term'));
      terms.forEach((t, i) => errs.push(...validateNodeSelectorTerm(t, index(rp, i))));
    }
    (na.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
      const tp = index(child(np, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      errs.push(...validateWeight(t.weight, child(tp, 'weight')));
      if (t.preference) errs.push(...validateNodeSelectorTerm(t.preference, child(tp, 'preference')));
    });
  }
  for (const f of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = a[f];
    if (!pa) continue;
    const pp = child(path, f);
    (pa.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) =>
      errs.push(...validatePodAffinityTerm(t, index(child(pp, 'requiredDuringSchedulingIgnoredDuringExecution'), i))),
    );
    (pa.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
      const tp = index(child(pp, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      errs.push(...validateWeight(t.weight, child(tp, 'weight')));
      if (t.podAffinityTerm) errs.push(...validatePodAffinityTerm(t.podAffinityTerm, child(tp, 'podAffinityTerm')));
    });
  }
  return errs;
}

function validateTopologySpread(constraints: TopologySpreadConstraint[], path: string): Errors {
  const errs: Errors = [];
  const seen = new Set<string>();
  constraints.forEach((c, i) => {
    const p = index(path, i);
    if (c.maxSkew !== undefined && c.maxSkew <= 0) errs.push(invalid(child(p, 'maxSkew'), c.maxSkew, 'must be greater than zero'));
    if (c.topologyKey) errs.push(...validateQualifiedName(c.topologyKey, child(p, 'topologyKey')));
    if (c.minDomains !== undefined) {
      if (c.minDomains <= 0) errs.push(invalid(child(p, 'minDomains'), c.minDomains, 'must be greater than zero'));
      else if (c.whenUnsatisfiable !== 'DoNotSchedule') {
        errs.push(invalid(child(p, 'minDomains'), c.minDomains, `can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ${c.whenUnsatisfiable}`));
      }
    }
    errs.push(...validateLabelSelector(c.labelSelector, child(p, 'labelSelector')));
    const k = `{${c.topologyKey}, ${c.whenUnsatisfiable}}`;
    if (seen.has(k)) errs.push(duplicate(p, k));
    seen.add(k);
  });
  return errs;
}

// ---- updates ------------------------------------------------------------------------

const POD_UPDATE_MESSAGE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,' +
  '`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),' +
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/**
 * The spec of a running pod is immutable except for container images, a
 * shorter activeDeadlineSeconds, added tolerations, removed scheduling gates,
 * and the binding of an unscheduled pod to a node (spec.nodeName set once).
 */
export function validatePodUpdate(next: Pod, prev: Pod): Errors {
  const errs: Errors = [];
  const ns = next.spec;
  const os = prev.spec;
  if (!ns || !os) return errs;
  // Start from the old spec and let through every change that is allowed; any remaining difference is forbidden.
  const allowed: PodSpec = structuredClone(os);
  const copyImages = (from: Container[] | undefined, to: Container[] | undefined) => {
    if (!from || !to || from.length !== to.length) return;
    to.forEach((c, i) => {
      if (from[i]!.name === c.name && from[i]!.image) c.image = from[i]!.image;
    });
  };
  copyImages(ns.containers, allowed.containers);
  copyImages(ns.initContainers, allowed.initContainers);

  if (ns.activeDeadlineSeconds !== undefined) {
    if (os.activeDeadlineSeconds !== undefined && ns.activeDeadlineSeconds > os.activeDeadlineSeconds) {
      errs.push(invalid('spec.activeDeadlineSeconds', ns.activeDeadlineSeconds, 'must be less than or equal to previous value'));
    }
    allowed.activeDeadlineSeconds = ns.activeDeadlineSeconds;
  } else if (os.activeDeadlineSeconds !== undefined) {
    errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
    delete allowed.activeDeadlineSeconds;
  }

  const oldTolerations = os.tolerations ?? [];
  const newTolerations = ns.tolerations ?? [];
  if (oldTolerations.every((t) => newTolerations.some((u) => deepEqual(t, u)))) {
    if (ns.tolerations !== undefined) allowed.tolerations = ns.tolerations;
  }
  if ((os.terminationGracePeriodSeconds ?? 0) < 0 && ns.terminationGracePeriodSeconds === 1) {
    allowed.terminationGracePeriodSeconds = 1;
  }
  if (!os.nodeName && ns.nodeName) allowed.nodeName = ns.nodeName;
  const oldGates = os.schedulingGates ?? [];
  const newGates = ns.schedulingGates ?? [];
  if (newGates.every((g) => oldGates.some((o) => o.name === g.name))) {
    if (newGates.length) allowed.schedulingGates = newGates;
    else delete allowed.schedulingGates;
  }

  if (!deepEqual(allowed, ns)) {
    const changed = Object.keys({ ...allowed, ...ns })
      .filter((k) => !deepEqual((allowed as unknown as Record<string, unknown>)[k], (ns as unknown as Record<string, unknown>)[k]))
      .map((k) => `spec.${k}`);
    errs.push(forbidden('spec', `${POD_UPDATE_MESSAGE}; changed: ${changed.join(', ')}`));
  }
  return errs;
}
