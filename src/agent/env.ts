/**
 * A container's environment as kubelet builds it: envFrom (ConfigMaps and Secrets, with
 * prefix), then env (value with `$(VAR)` expansion, configMapKeyRef, secretKeyRef, fieldRef,
 * resourceFieldRef), and finally `$(VAR)` expansion of command and args.
 */
import type { ConfigMap, Container, Pod, Secret } from '../api/index.ts';
import { resourceFieldValue, type NodeAllocatable } from './resources.ts';

/** The container cannot be configured yet (a missing ConfigMap, key, ...): kubelet's CreateContainerConfigError. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface PodContext {
  pod: Pod;
  nodeName: string;
  hostIP: string;
  podIPs: string[];
  node: NodeAllocatable;
  configMap(namespace: string, name: string): ConfigMap | undefined;
  secret(namespace: string, name: string): Secret | undefined;
}

/**
 * `$(VAR)` expansion exactly as Kubernetes: `$$` is a literal `$`, `$(NAME)` is replaced when
 * NAME is defined and left as written when not, anything else after `$` is kept.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  if (!input.includes('$')) return input;
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1]!;
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 2;
      } else {
        const name = input.slice(i + 2, close);
        const v = lookup(name);
        out += v ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += '$' + next;
      i += 2;
    }
  }
  return out;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function decodeSecretValue(v: string): string {
  return Buffer.from(v, 'base64').toString('utf8');
}

/** The keys and (text) values of a ConfigMap: data, then binaryData decoded. */
export function configMapEntries(cm: ConfigMap): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const [k, v] of Object.entries(cm.data ?? {})) out.push([k, Buffer.from(String(v), 'utf8')]);
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out.push([k, Buffer.from(String(v), 'base64')]);
  return out;
}

export function secretEntries(s: Secret): [string, Buffer][] {
  return Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')]);
}

/** A downward-API field of the pod (env fieldRef and downwardAPI volumes). */
export function podFieldValue(path: string, ctx: PodContext): string {
  const { pod } = ctx;
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path) ?? /^metadata\.(labels|annotations)\["(.*)"\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
    case 'metadata.annotations': {
      const map = (path === 'metadata.labels' ? pod.metadata.labels : pod.metadata.annotations) ?? {};
      return Object.keys(map)
        .sort()
        .map((k) => `${k}=${JSON.stringify(map[k])}`)
        .join('\n');
    }
    case 'spec.nodeName':
      return pod.spec.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.hostIP':
      return ctx.hostIP;
    case 'status.hostIPs':
      return ctx.hostIP;
    case 'status.podIP':
      return ctx.podIPs[0] ?? '';
    case 'status.podIPs':
      return ctx.podIPs.join(',');
  }
  throw new ConfigError(`unsupported fieldRef path ${JSON.stringify(path)}`);
}

export interface ContainerEnv {
  env: { name: string; value: string }[];
  command: string[];
  args: string[];
}

/** Builds env, command and args for `c`; throws ConfigError when a non-optional source is missing. */
export function containerEnv(c: Container, ctx: PodContext): ContainerEnv {
  const ns = ctx.pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    let entries: [string, Buffer][] | undefined;
    if (from.configMapRef) {
      const name = from.configMapRef.name ?? '';
      const cm = ctx.configMap(ns, name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ConfigError(`configmap "${name}" not found`);
      }
      entries = configMapEntries(cm).filter(([k]) => cm.data?.[k] !== undefined); // envFrom uses data only
    } else if (from.secretRef) {
      const name = from.secretRef.name ?? '';
      const s = ctx.secret(ns, name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ConfigError(`secret "${name}" not found`);
      }
      entries = secretEntries(s);
    }
    for (const [k, v] of entries ?? []) {
      const key = prefix + k;
      // Keys that are not valid variable names are skipped, as kubelet does.
      if (ENV_NAME.test(key)) vars.set(key, v.toString('utf8'));
    }
  }
  const lookup = (name: string) => vars.get(name);
  for (const e of c.env ?? []) {
    if (!e || typeof e.name !== 'string') continue;
    let value: string | undefined;
    const from = e.valueFrom;
    if (!from) {
      value = expandVars(e.value ?? '', lookup);
    } else if (from.fieldRef) {
      value = podFieldValue(from.fieldRef.fieldPath, ctx);
    } else if (from.resourceFieldRef) {
      const target = from.resourceFieldRef.containerName
        ? [...(ctx.pod.spec.containers ?? []), ...(ctx.pod.spec.initContainers ?? [])].find((x) => x.name === from.resourceFieldRef!.containerName)
        : c;
      if (!target) throw new ConfigError(`resourceFieldRef: no container named ${from.resourceFieldRef.containerName}`);
      try {
        value = resourceFieldValue(target, from.resourceFieldRef.resource, from.resourceFieldRef.divisor, ctx.node);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const cm = ctx.configMap(ns, ref.name ?? '');
      if (!cm) {
        if (ref.optional) continue;
        throw new ConfigError(`configmap "${ref.name ?? ''}" not found`);
      }
      const v = cm.data?.[ref.key] ?? (cm.binaryData?.[ref.key] !== undefined ? Buffer.from(cm.binaryData[ref.key]!, 'base64').toString('utf8') : undefined);
      if (v === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name ?? ''}`);
      }
      value = v;
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const s = ctx.secret(ns, ref.name ?? '');
      if (!s) {
        if (ref.optional) continue;
        throw new ConfigError(`secret "${ref.name ?? ''}" not found`);
      }
      const raw = s.data?.[ref.key];
      if (raw === undefined) {
        if (ref.optional) continue;
        throw new ConfigError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name ?? ''}`);
      }
      value = decodeSecretValue(raw);
    } else {
      value = '';
    }
    vars.set(e.name, value);
  }
  const env = [...vars].map(([name, value]) => ({ name, value }));
  return {
    env,
    command: (c.command ?? []).map((s) => expandVars(String(s), lookup)),
    args: (c.args ?? []).map((s) => expandVars(String(s), lookup)),
  };
}
