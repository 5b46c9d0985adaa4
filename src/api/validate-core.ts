/** Validation of Services, Endpoints, ConfigMaps, Secrets, Namespaces, Nodes and Events. */

import { FieldError, child, duplicate, forbidden, index, invalid, key, required, tooLong } from './field-error.ts';
import { isDNS1123Subdomain, isValidCIDR, isValidIP, isValidPortNum, isValidLabelValue } from './names.ts';
import { tryParseQuantity } from './quantity.ts';
import type { ConfigMap, Endpoints, Event, Namespace, Node, Secret, Service } from './types.ts';
import {
  type Errors,
  deepEqual,
  validateDNSLabel,
  validateDNSSubdomain,
  validateDataKeys,
  validateImmutable,
  validateLabelName,
  validateLabels,
  validatePortNumOrName,
  validateProtocol,
  validateQualifiedName,
  validateRequiredEnum,
} from './validate-common.ts';

// ---- Service ---------------------------------------------------------------------------

export function validateService(svc: Service, old: Service | undefined): Errors {
  const errs: Errors = [];
  const spec = svc.spec;
  if (!spec) return [required('spec')];
  const type = spec.type;
  const headless = spec.clusterIP === 'None';
  const ports = spec.ports ?? [];
  errs.push(...validateRequiredEnum(type, 'spec.type'));
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));

  if (type === 'ExternalName') {
    if (!spec.externalName) errs.push(required('spec.externalName'));
    else {
      const name = spec.externalName.endsWith('.') ? spec.externalName.slice(0, -1) : spec.externalName;
      for (const msg of isDNS1123Subdomain(name)) errs.push(invalid('spec.externalName', spec.externalName, msg));
    }
    if (spec.clusterIP) errs.push(forbidden('spec.clusterIP', 'may not be set for ExternalName services'));
    if (spec.clusterIPs?.length) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
  }

  const names = new Set<string>();
  const portKeys = new Set<string>();
  const nodePorts = new Set<string>();
  ports.forEach((port, i) => {
    const p = index('spec.ports', i);
    if (ports.length > 1 && !port.name) errs.push(required(child(p, 'name')));
    else if (port.name) {
      errs.push(...validateDNSLabel(port.name, child(p, 'name')));
      if (names.has(port.name)) errs.push(duplicate(child(p, 'name'), port.name));
      names.add(port.name);
    }
    if (port.port !== undefined) for (const msg of isValidPortNum(port.port)) errs.push(invalid(child(p, 'port'), port.port, msg));
    errs.push(...validateProtocol(port.protocol, child(p, 'protocol')));
    errs.push(...validatePortNumOrName(port.targetPort, child(p, 'targetPort')));
    if (port.appProtocol) errs.push(...validateQualifiedName(port.appProtocol, child(p, 'appProtocol')));
    if (port.nodePort !== undefined && port.nodePort !== 0) {
      if (type === 'ClusterIP') errs.push(forbidden(child(p, 'nodePort'), "may not be used when `type` is 'ClusterIP'"));
      for (const msg of isValidPortNum(port.nodePort)) errs.push(invalid(child(p, 'nodePort'), port.nodePort, msg));
      const nk = `${port.nodePort}/${port.protocol ?? 'TCP'}`;
      if (nodePorts.has(nk)) errs.push(duplicate(child(p, 'nodePort'), port.nodePort));
      nodePorts.add(nk);
    }
    const pk = `${port.port}/${port.protocol ?? 'TCP'}`;
    if (portKeys.has(pk)) errs.push(duplicate(p, pk));
    portKeys.add(pk);
  });

  errs.push(...validateLabels(spec.selector, 'spec.selector'));
  errs.push(...validateRequiredEnum(spec.sessionAffinity, 'spec.sessionAffinity'));
  if (spec.sessionAffinity !== 'ClientIP' && spec.sessionAffinityConfig !== undefined) {
    errs.push(forbidden('spec.sessionAffinityConfig', "must not be set when session affinity is 'None'"));
  }
  const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (timeout !== undefined && (timeout <= 0 || timeout > 86400)) {
    errs.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'));
  }

  if (spec.clusterIP && spec.clusterIP !== 'None') {
    for (const msg of isValidIP(spec.clusterIP)) errs.push(invalid('spec.clusterIP', spec.clusterIP, msg));
  }
  (spec.clusterIPs ?? []).forEach((ip, i) => {
    const p = index('spec.clusterIPs', i);
    if (ip === 'None') {
      if (i > 0) errs.push(invalid(p, ip, "may not be set to 'None' for dual-stack services"));
      return;
    }
    for (const msg of isValidIP(ip)) errs.push(invalid(p, ip, msg));
  });
  if (spec.clusterIP && spec.clusterIPs?.length && spec.clusterIPs[0] !== spec.clusterIP) {
    errs.push(invalid('spec.clusterIPs', spec.clusterIPs, 'first value must match `clusterIP`'));
  }
  if (headless && (type === 'NodePort' || type === 'LoadBalancer')) {
    errs.push(invalid('spec.clusterIP', 'None', "may not be set to 'None' for LoadBalancer or NodePort services"));
  }
  (spec.externalIPs ?? []).forEach((ip, i) => {
    for (const msg of isValidIP(ip)) errs.push(invalid(index('spec.externalIPs', i), ip, msg));
  });
  (spec.loadBalancerSourceRanges ?? []).forEach((r, i) => {
    for (const msg of isValidCIDR(r)) errs.push(invalid(index('spec.loadBalancerSourceRanges', i), r, msg));
  });
  if (spec.externalTrafficPolicy !== undefined && type !== 'NodePort' && type !== 'LoadBalancer') {
    errs.push(invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set when `type` is \'NodePort\' or \'LoadBalancer\''));
  }

  if (old?.spec) {
    // An assigned virtual IP cannot change (changing to ExternalName releases it).
    if (old.spec.clusterIP && spec.clusterIP !== old.spec.clusterIP && type !== 'ExternalName' && old.spec.type !== 'ExternalName') {
      errs.push(invalid('spec.clusterIP', spec.clusterIP ?? '', 'field is immutable'));
    }
  }
  return errs;
}

// ---- Endpoints -------------------------------------------------------------------------

export function validateEndpoints(ep: Endpoints): Errors {
  const errs: Errors = [];
  (ep.subsets ?? []).forEach((subset, i) => {
    const sp = index('subsets', i);
    const addresses = subset.addresses ?? [];
    const notReady = subset.notReadyAddresses ?? [];
    if (addresses.length === 0 && notReady.length === 0) {
      errs.push(required(sp, 'must specify `addresses` or `notReadyAddresses`'));
    }
    for (const [f, list] of [['addresses', addresses], ['notReadyAddresses', notReady]] as const) {
      list.forEach((a, j) => {
        const ap = index(child(sp, f), j);
        if (a.ip) for (const msg of isValidIP(a.ip)) errs.push(invalid(child(ap, 'ip'), a.ip, msg));
        if (a.hostname) errs.push(...validateDNSLabel(a.hostname, child(ap, 'hostname')));
        if (a.nodeName) errs.push(...validateDNSSubdomain(a.nodeName, child(ap, 'nodeName')));
      });
    }
    const ports = subset.ports ?? [];
    const names = new Set<string>();
    ports.forEach((port, j) => {
      const pp = index(child(sp, 'ports'), j);
      if (ports.length > 1 && !port.name) errs.push(required(child(pp, 'name')));
      else if (port.name) {
        errs.push(...validateDNSLabel(port.name, child(pp, 'name')));
        if (names.has(port.name)) errs.push(duplicate(child(pp, 'name'), port.name));
        names.add(port.name);
      }
      if (port.port !== undefined) for (const msg of isValidPortNum(port.port)) errs.push(invalid(child(pp, 'port'), port.port, msg));
      errs.push(...validateProtocol(port.protocol, child(pp, 'protocol')));
      if (port.appProtocol) errs.push(...validateQualifiedName(port.appProtocol, child(pp, 'appProtocol')));
    });
  });
  return errs;
}

// ---- ConfigMap and Secret ---------------------------------------------------------------

/** ConfigMaps and Secrets are limited to 1 MiB of data. */
export const MAX_DATA_SIZE = 1024 * 1024;

const IMMUTABLE_DETAIL = 'field is immutable when `immutable` is set';

function validateImmutableData(
  next: ConfigMap | Secret,
  prev: ConfigMap | Secret,
  fields: readonly ('data' | 'binaryData')[],
): Errors {
  const errs: Errors = [];
  if (prev.immutable !== true) return errs;
  if (next.immutable !== true) errs.push(forbidden('immutable', IMMUTABLE_DETAIL));
  for (const f of fields) {
    if (!deepEqual(next[f] ?? {}, prev[f] ?? {})) errs.push(forbidden(f, IMMUTABLE_DETAIL));
  }
  return errs;
}

export function validateConfigMap(cm: ConfigMap, old: ConfigMap | undefined): Errors {
  const errs = validateDataKeys(cm.data, 'data');
  errs.push(...validateDataKeys(cm.binaryData, 'binaryData'));
  let size = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) {
    if (cm.binaryData && k in cm.binaryData) errs.push(invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    size += Buffer.byteLength(v);
  }
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) {
    const decoded = decodeBase64(v);
    if (typeof decoded === 'string') errs.push(invalid(key('binaryData', k), '<binary contents redacted>', decoded));
    else size += decoded;
  }
  if (size > MAX_DATA_SIZE) errs.push(tooLong('data', MAX_DATA_SIZE));
  if (old) errs.push(...validateImmutableData(cm, old, ['data', 'binaryData']));
  return errs;
}

/**
 * Strict standard base64, as Go's encoding/json decodes []byte: returns the
 * decoded length, or Go's error message naming the first bad input byte.
 */
export function decodeBase64(text: string): number | string {
  const s = text.replace(/[\r\n]/g, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (/[A-Za-z0-9+/]/.test(c)) continue;
    if (c === '=') {
      // Padding: at most two, only at the very end of a complete quantum.
      const rest = s.slice(i);
      if (/^={1,2}$/.test(rest) && s.length % 4 === 0) break;
      return `illegal base64 data at input byte ${i}`;
    }
    return `illegal base64 data at input byte ${i}`;
  }
  if (s.length % 4 !== 0) return `illegal base64 data at input byte ${s.length - (s.length % 4)}`;
  return Buffer.from(s, 'base64').length;
}

/** Keys each type of Secret must carry. */
const REQUIRED_SECRET_KEYS: Readonly<Record<string, readonly string[]>> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

export function validateSecret(secret: Secret, old: Secret | undefined): Errors {
  const errs = validateDataKeys(secret.data, 'data');
  errs.push(...validateDataKeys(secret.stringData, 'stringData'));
  let size = 0;
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    const decoded = decodeBase64(v);
    if (typeof decoded === 'string') errs.push(invalid(key('data', k), '<secret contents redacted>', decoded));
    else size += decoded;
  }
  for (const v of Object.values(secret.stringData ?? {})) size += Buffer.byteLength(v);
  if (size > MAX_DATA_SIZE) errs.push(tooLong('data', MAX_DATA_SIZE));

  const present = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
  const type = secret.type ?? 'Opaque';
  for (const k of REQUIRED_SECRET_KEYS[type] ?? []) if (!present.has(k)) errs.push(required(key('data', k)));
  if (type === 'kubernetes.io/basic-auth' && !present.has('username') && !present.has('password')) {
    errs.push(required(key('data', 'username')), required(key('data', 'password')));
  }
  if (type === 'kubernetes.io/service-account-token' && !secret.metadata?.annotations?.['kubernetes.io/service-account.name']) {
    errs.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
  }
  if (type === 'kubernetes.io/dockerconfigjson' || type === 'kubernetes.io/dockercfg') {
    const k = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
    const raw = secret.data?.[k];
    if (raw !== undefined && typeof decodeBase64(raw) === 'number') {
      try {
        JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
      } catch (e) {
        errs.push(invalid(key('data', k), '<secret contents redacted>', (e as Error).message));
      }
    }
  }
  if (old) {
    errs.push(...validateImmutable(secret.type ?? 'Opaque', old.type ?? 'Opaque', 'type'));
    errs.push(...validateImmutableData(secret, old, ['data']));
  }
  return errs;
}

// ---- Namespace and Node ------------------------------------------------------------------

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export function validateNamespace(ns: Namespace): Errors {
  const errs: Errors = [];
  (ns.spec?.finalizers ?? []).forEach((f, i) => {
    const p = index('spec.finalizers', i);
    const msgs = validateQualifiedName(f, p);
    errs.push(...msgs);
    if (msgs.length === 0 && !f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
      errs.push(invalid(p, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  });
  return errs;
}

export function validateNode(node: Node): Errors {
  const errs: Errors = [];
  const spec = node.spec;
  if (spec) {
    if (spec.podCIDR) for (const msg of isValidCIDR(spec.podCIDR)) errs.push(invalid('spec.podCIDR', spec.podCIDR, msg));
    (spec.podCIDRs ?? []).forEach((c, i) => {
      for (const msg of isValidCIDR(c)) errs.push(invalid(index('spec.podCIDRs', i), c, msg));
    });
    if (spec.podCIDR && spec.podCIDRs?.length && spec.podCIDRs[0] !== spec.podCIDR) {
      errs.push(invalid('spec.podCIDRs', spec.podCIDRs, 'first value must match `podCIDR`'));
    }
    const seen = new Set<string>();
    (spec.taints ?? []).forEach((t, i) => {
      const p = index('spec.taints', i);
      if (t.key) errs.push(...validateLabelName(t.key, child(p, 'key')));
      const msgs = isValidLabelValue(t.value ?? '');
      if (msgs.length) errs.push(invalid(child(p, 'value'), t.value, msgs.join(';')));
      const k = `${t.key}:${t.effect}`;
      if (seen.has(k)) errs.push(new FieldError(p, 'Duplicate value', t, 'taints must be unique by key and effect pair'));
      seen.add(k);
    });
  }
  for (const f of ['capacity', 'allocatable'] as const) {
    for (const [name, value] of Object.entries(node.status?.[f] ?? {})) {
      const q = tryParseQuantity(value);
      if (q && q.sign() < 0) errs.push(invalid(key(`status.${f}`, name), q.toString(), 'must be greater than or equal to 0'));
    }
  }
  (node.status?.addresses ?? []).forEach((a, i) => {
    if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && a.address) {
      for (const msg of isValidIP(a.address)) errs.push(invalid(child(index('status.addresses', i), 'address'), a.address, msg));
    }
  });
  return errs;
}

// ---- Event -----------------------------------------------------------------------------

const REASON_LIMIT = 128;
const NOTE_LIMIT = 1024;

export function validateEvent(ev: Event): Errors {
  const errs: Errors = [];
  const ns = ev.metadata?.namespace ?? '';
  const involvedNs = ev.involvedObject?.namespace ?? '';
  // The event lives in the namespace of what it is about (cluster-scoped objects: default).
  if (involvedNs === '' ? ns !== '' && ns !== 'default' && ns !== 'kube-system' : ns !== involvedNs) {
    errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
  }
  if (ev.reason && ev.reason.length > REASON_LIMIT) {
    errs.push(invalid('reason', ev.reason, `can have at most ${REASON_LIMIT} characters`));
  }
  if (ev.action && ev.action.length > REASON_LIMIT) {
    errs.push(invalid('action', ev.action, `can have at most ${REASON_LIMIT} characters`));
  }
  if (ev.reportingInstance && ev.reportingInstance.length > REASON_LIMIT) {
    errs.push(invalid('reportingInstance', ev.reportingInstance, `can have at most ${REASON_LIMIT} characters`));
  }
  if (ev.reportingComponent) errs.push(...validateQualifiedName(ev.reportingComponent, 'reportingComponent'));
  if (ev.eventTime && ev.message && ev.message.length > NOTE_LIMIT) {
    errs.push(invalid('message', '', `can have at most ${NOTE_LIMIT} characters`));
  }
  if (ev.count !== undefined && ev.count < 0) errs.push(invalid('count', ev.count, 'must be greater than or equal to 0'));
  return errs;
}
