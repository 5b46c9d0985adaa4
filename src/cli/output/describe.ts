/**
 * `berth describe` output, laid out as kubectl's describers lay it out: `Field:\tvalue`
 * lines through a tabwriter (padding 2), nested sections indented two spaces per level,
 * and the object's Events last. Pure: objects and related objects in, text out.
 */
import { formatLabelSelector, tryParseQuantity, Quantity, type LabelSelector } from '../../api/index.ts';
import type { PlainObject } from '../../client/client.ts';
import { age, humanDuration, parseTime } from './age.ts';
import { formatEndpoints, nodeRoles } from './columns.ts';
import { PrefixWriter, TabWriter } from './tabwriter.ts';

type Obj = Record<string, unknown>;

function rec(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as unknown[]).map(rec) : [];
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? (v as unknown[]).map((x) => String(x)) : [];
}

function s(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function meta(o: Obj): Obj {
  return rec(o.metadata);
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) out[k] = s(x);
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's RFC1123Z in the local time zone: `Mon, 02 Jun 2025 10:00:00 +0000`. */
export function rfc1123z(timestamp: unknown): string {
  const t = parseTime(timestamp);
  // Go formats the zero time: kubectl prints it for unset timestamps.
  if (t === undefined) return 'Mon, 01 Jan 0001 00:00:00 +0000';
  const d = new Date(t);
  const pad = (x: number) => String(x).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${DAYS[d.getDay()]}, ${pad(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.trunc(abs / 60))}${pad(abs % 60)}`;
}

/** A quantity in canonical form (`1Gi`, `500m`); the text itself when it does not parse. */
function quantity(v: unknown): string {
  const q = tryParseQuantity(v);
  return q ? q.toString() : s(v);
}

// ---- shared pieces -------------------------------------------------------------------------

const SKIP_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);
const MAX_ANNOTATION_LEN = 140;

function printLabelsMultiline(w: PrefixWriter, title: string, labels: unknown): void {
  w.write(0, `${title}:\t`);
  const l = strMap(labels);
  const keys = Object.keys(l).sort();
  if (keys.length === 0) {
    w.line('<none>');
    return;
  }
  keys.forEach((k, i) => {
    if (i > 0) w.write(0, '\t');
    w.write(0, `${k}=${l[k]}\n`);
  });
}

function printAnnotationsMultiline(w: PrefixWriter, title: string, annotations: unknown): void {
  w.write(0, `${title}:\t`);
  const a = strMap(annotations);
  const keys = Object.keys(a).filter((k) => !SKIP_ANNOTATIONS.has(k)).sort();
  if (keys.length === 0) {
    w.line('<none>');
    return;
  }
  keys.forEach((k, i) => {
    if (i > 0) w.write(0, '\t');
    const value = a[k]!.replace(/\n$/, '');
    if (value.length + k.length + 2 > MAX_ANNOTATION_LEN || value.includes('\n')) {
      w.write(0, `${k}:\n`);
      for (const line of value.split('\n')) {
        const short = line.length > MAX_ANNOTATION_LEN - 2 ? `${line.slice(0, MAX_ANNOTATION_LEN - 2)}...` : line;
        w.write(0, `\t  ${short}\n`);
      }
    } else {
      w.write(0, `${k}: ${value}\n`);
    }
  });
}

/** `key=value:Effect` (`key:Effect` without a value), as Taint.ToString. */
export function taintString(t: Obj): string {
  const v = s(t.value);
  return v ? `${s(t.key)}=${v}:${s(t.effect)}` : `${s(t.key)}:${s(t.effect)}`;
}

function printTaintsMultiline(w: PrefixWriter, title: string, taints: Obj[]): void {
  w.write(0, `${title}:\t`);
  if (taints.length === 0) {
    w.line('<none>');
    return;
  }
  const sorted = [...taints].sort((a, b) => {
    const ka = `${s(a.effect)},${s(a.key)}`;
    const kb = `${s(b.effect)},${s(b.key)}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  sorted.forEach((t, i) => {
    if (i > 0) w.write(0, '\t');
    w.write(0, `${taintString(t)}\n`);
  });
}

function printTolerationsMultiline(w: PrefixWriter, title: string, tolerations: Obj[]): void {
  w.write(0, `${title}:\t`);
  if (tolerations.length === 0) {
    w.line('<none>');
    return;
  }
  const sorted = [...tolerations].sort((a, b) => (s(a.key) < s(b.key) ? -1 : s(a.key) > s(b.key) ? 1 : 0));
  sorted.forEach((t, i) => {
    if (i > 0) w.write(0, '\t');
    let text = s(t.key);
    if (s(t.value)) text += `=${s(t.value)}`;
    if (s(t.effect)) text += `:${s(t.effect)}`;
    if (t.operator === 'Exists' && !s(t.value)) text += s(t.key) || s(t.effect) ? ' op=Exists' : 'op=Exists';
    if (typeof t.tolerationSeconds === 'number') text += ` for ${t.tolerationSeconds}s`;
    w.write(0, `${text}\n`);
  });
}

function stringOrNone(v: string): string {
  return v === '' ? '<none>' : v;
}

function portsText(ports: Obj[], field: 'containerPort' | 'hostPort'): string {
  return ports
    .map((p) => {
      let text = `${n(p[field])}/${s(p.protocol) || 'TCP'}`;
      if (s(p.name)) text += ` (${s(p.name)})`;
      return text;
    })
    .join(', ');
}

function intOrString(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

/** A probe as kubectl summarizes it: `http-get http://:8080/healthz delay=0s timeout=1s ...`. */
export function describeProbe(p: Obj): string {
  const attrs = `delay=${n(p.initialDelaySeconds)}s timeout=${n(p.timeoutSeconds)}s period=${n(p.periodSeconds)}s #success=${n(p.successThreshold)} #failure=${n(p.failureThreshold)}`;
  if (p.exec !== undefined) return `exec [${strs(rec(p.exec).command).join(' ')}] ${attrs}`;
  if (p.httpGet !== undefined) {
    const h = rec(p.httpGet);
    const scheme = (s(h.scheme) || 'HTTP').toLowerCase();
    const port = intOrString(h.port);
    const host = s(h.host);
    const hostPort = port ? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) : host;
    return `http-get ${scheme}://${hostPort}${s(h.path)} ${attrs}`;
  }
  if (p.tcpSocket !== undefined) {
    const t = rec(p.tcpSocket);
    return `tcp-socket ${s(t.host)}:${intOrString(t.port)} ${attrs}`;
  }
  if (p.grpc !== undefined) {
    const g = rec(p.grpc);
    return `grpc <pod>:${n(g.port)} ${s(g.service)} ${attrs}`;
  }
  return `unknown ${attrs}`;
}

function describeStatus(w: PrefixWriter, title: string, state: Obj): void {
  if (state.running !== undefined) {
    w.write(2, `${title}:\tRunning\n`);
    w.write(3, `Started:\t${rfc1123z(rec(state.running).startedAt)}\n`);
  } else if (state.waiting !== undefined) {
    w.write(2, `${title}:\tWaiting\n`);
    const reason = s(rec(state.waiting).reason);
    if (reason) w.write(3, `Reason:\t${reason}\n`);
  } else if (state.terminated !== undefined) {
    const t = rec(state.terminated);
    w.write(2, `${title}:\tTerminated\n`);
    if (s(t.reason)) w.write(3, `Reason:\t${s(t.reason)}\n`);
    if (s(t.message)) w.write(3, `Message:\t${s(t.message)}\n`);
    w.write(3, `Exit Code:\t${n(t.exitCode)}\n`);
    if (n(t.signal) > 0) w.write(3, `Signal:\t${n(t.signal)}\n`);
    w.write(3, `Started:\t${rfc1123z(t.startedAt)}\n`);
    w.write(3, `Finished:\t${rfc1123z(t.finishedAt)}\n`);
  } else {
    w.write(2, `${title}:\tWaiting\n`);
  }
}

function describeResources(w: PrefixWriter, resources: Obj, level: number): void {
  for (const kind of ['limits', 'requests'] as const) {
    const list = rec(resources[kind]);
    const names = Object.keys(list).sort();
    if (names.length === 0) continue;
    w.write(level, `${kind === 'limits' ? 'Limits' : 'Requests'}:\n`);
    for (const name of names) w.write(level + 1, `${name}:\t${quantity(list[name])}\n`);
  }
}

function describeContainers(w: PrefixWriter, label: string, containers: Obj[], statuses: Obj[] | undefined, space: string): void {
  const byName = new Map((statuses ?? []).map((st) => [s(st.name), st]));
  w.write(0, `${space}${label}:${containers.length === 0 ? ' <none>' : ''}\n`);
  const nameIndent = space ? ' ' : '';
  for (const c of containers) {
    const st = byName.get(s(c.name));
    w.write(1, `${nameIndent}${s(c.name)}:\n`);
    if (st) w.write(2, `Container ID:\t${s(st.containerID)}\n`);
    w.write(2, `Image:\t${s(c.image)}\n`);
    if (st) w.write(2, `Image ID:\t${s(st.imageID)}\n`);
    const ports = arr(c.ports);
    const portText = portsText(ports, 'containerPort');
    if (portText.includes(',')) w.write(2, `Ports:\t${portText}\n`);
    else w.write(2, `Port:\t${stringOrNone(portText)}\n`);
    const hostText = portsText(ports, 'hostPort');
    if (hostText.includes(',')) w.write(2, `Host Ports:\t${hostText}\n`);
    else w.write(2, `Host Port:\t${stringOrNone(hostText)}\n`);
    for (const [title, list] of [['Command', strs(c.command)], ['Args', strs(c.args)]] as const) {
      if (list.length === 0) continue;
      w.write(2, `${title}:\n`);
      for (const item of list) for (const line of item.split('\n')) w.write(3, `${line}\n`);
    }
    if (st) {
      describeStatus(w, 'State', rec(st.state));
      if (rec(st.lastState).terminated !== undefined) describeStatus(w, 'Last State', rec(st.lastState));
      w.write(2, `Ready:\t${st.ready === true ? 'True' : 'False'}\n`);
      w.write(2, `Restart Count:\t${n(st.restartCount)}\n`);
    }
    describeResources(w, rec(c.resources), 2);
    if (c.livenessProbe !== undefined) w.write(2, `Liveness:\t${describeProbe(rec(c.livenessProbe))}\n`);
    if (c.readinessProbe !== undefined) w.write(2, `Readiness:\t${describeProbe(rec(c.readinessProbe))}\n`);
    if (c.startupProbe !== undefined) w.write(2, `Startup:\t${describeProbe(rec(c.startupProbe))}\n`);
    const envFrom = arr(c.envFrom);
    if (envFrom.length > 0) {
      w.write(2, 'Environment Variables from:\n');
      for (const e of envFrom) {
        const cm = e.configMapRef !== undefined ? rec(e.configMapRef) : undefined;
        const sec = e.secretRef !== undefined ? rec(e.secretRef) : undefined;
        const from = cm ? 'ConfigMap' : sec ? 'Secret' : '';
        const ref = cm ?? sec ?? {};
        const optional = ref.optional === true;
        if (s(e.prefix)) w.write(3, `${s(ref.name)}\t${from} with prefix '${s(e.prefix)}'\tOptional: ${optional}\n`);
        else w.write(3, `${s(ref.name)}\t${from}\tOptional: ${optional}\n`);
      }
    }
    const env = arr(c.env);
    w.write(2, `Environment:${env.length === 0 ? '\t<none>' : ''}\n`);
    for (const e of env) {
      if (e.valueFrom === undefined) {
        s(e.value)
          .split('\n')
          .forEach((line, i) => w.write(3, i === 0 ? `${s(e.name)}:\t${line}\n` : `\t${line}\n`));
        continue;
      }
      const vf = rec(e.valueFrom);
      if (vf.fieldRef !== undefined) {
        const f = rec(vf.fieldRef);
        w.write(3, `${s(e.name)}:\t (${s(f.apiVersion) || 'v1'}:${s(f.fieldPath)})\n`);
      } else if (vf.resourceFieldRef !== undefined) {
        w.write(3, `${s(e.name)}:\t (${s(rec(vf.resourceFieldRef).resource)})\n`);
      } else if (vf.secretKeyRef !== undefined) {
        const r = rec(vf.secretKeyRef);
        w.write(3, `${s(e.name)}:\t<set to the key '${s(r.key)}' in secret '${s(r.name)}'>\tOptional: ${r.optional === true}\n`);
      } else if (vf.configMapKeyRef !== undefined) {
        const r = rec(vf.configMapKeyRef);
        w.write(3, `${s(e.name)}:\t<set to the key '${s(r.key)}' of config map '${s(r.name)}'>\tOptional: ${r.optional === true}\n`);
      }
    }
    const mounts = arr(c.volumeMounts);
    w.write(2, `Mounts:${mounts.length === 0 ? '\t<none>' : ''}\n`);
    for (const m of [...mounts].sort((a, b) => (s(a.mountPath) < s(b.mountPath) ? -1 : 1))) {
      const flags = [m.readOnly === true ? 'ro' : 'rw'];
      if (s(m.subPath)) flags.push(`path=${JSON.stringify(s(m.subPath))}`);
      w.write(3, `${s(m.mountPath)} from ${s(m.name)} (${flags.join(',')})\n`);
    }
  }
}

function describeVolumes(w: PrefixWriter, volumes: Obj[], space: string): void {
  if (volumes.length === 0) {
    w.write(0, `${space}Volumes:\t<none>\n`);
    return;
  }
  w.write(0, `${space}Volumes:\n`);
  const nameIndent = space ? ' ' : '';
  for (const v of volumes) {
    w.write(1, `${nameIndent}${s(v.name)}:\n`);
    if (v.hostPath !== undefined) {
      const h = rec(v.hostPath);
      w.write(2, `Type:\tHostPath (bare host directory volume)\n    Path:\t${s(h.path)}\n    HostPathType:\t${s(h.type) || '<none>'}\n`);
    } else if (v.emptyDir !== undefined) {
      const e = rec(v.emptyDir);
      const limit = e.sizeLimit !== undefined && tryParseQuantity(e.sizeLimit)?.sign() === 1 ? quantity(e.sizeLimit) : '<unset>';
      w.write(2, `Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t${s(e.medium)}\n    SizeLimit:\t${limit}\n`);
    } else if (v.secret !== undefined) {
      const x = rec(v.secret);
      w.write(2, `Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t${s(x.secretName)}\n    Optional:\t${x.optional === true}\n`);
    } else if (v.configMap !== undefined) {
      const x = rec(v.configMap);
      w.write(2, `Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t${s(x.name)}\n    Optional:\t${x.optional === true}\n`);
    } else if (v.persistentVolumeClaim !== undefined) {
      const x = rec(v.persistentVolumeClaim);
      w.write(2, `Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t${s(x.claimName)}\n    ReadOnly:\t${x.readOnly === true}\n`);
    } else if (v.downwardAPI !== undefined) {
      w.write(2, 'Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n');
      for (const item of arr(rec(v.downwardAPI).items)) {
        if (item.fieldRef !== undefined) w.write(3, `${s(rec(item.fieldRef).fieldPath)} -> ${s(item.path)}\n`);
        else if (item.resourceFieldRef !== undefined) w.write(3, `${s(rec(item.resourceFieldRef).resource)} -> ${s(item.path)}\n`);
      }
    } else if (v.projected !== undefined) {
      w.write(2, 'Type:\tProjected (a volume that contains injected data from multiple sources)\n');
      for (const src of arr(rec(v.projected).sources)) {
        if (src.secret !== undefined) w.write(2, `SecretName:\t${s(rec(src.secret).name)}\n    Optional:\t${rec(src.secret).optional === true}\n`);
        else if (src.configMap !== undefined) w.write(2, `ConfigMapName:\t${s(rec(src.configMap).name)}\n    Optional:\t${rec(src.configMap).optional === true}\n`);
        else if (src.downwardAPI !== undefined) w.write(2, 'DownwardAPI:\ttrue\n');
        else if (src.serviceAccountToken !== undefined) w.write(2, `TokenExpirationSeconds:\t${n(rec(src.serviceAccountToken).expirationSeconds)}\n`);
      }
    } else {
      w.write(1, '<unknown>\n');
    }
  }
}

function printController(o: Obj): string {
  const ref = arr(meta(o).ownerReferences).find((r) => r.controller === true);
  return ref ? `${s(ref.kind)}/${s(ref.name)}` : '';
}

/** The Pod Template section of workload describers. */
function describePodTemplate(w: PrefixWriter, template: Obj): void {
  w.write(0, 'Pod Template:\n');
  const tm = meta(template);
  const spec = rec(template.spec);
  printLabelsMultiline(w, '  Labels', tm.labels);
  if (Object.keys(rec(tm.annotations)).length > 0) printAnnotationsMultiline(w, '  Annotations', tm.annotations);
  if (s(spec.serviceAccountName)) w.write(1, `Service Account:\t${s(spec.serviceAccountName)}\n`);
  const inits = arr(spec.initContainers);
  if (inits.length > 0) describeContainers(w, 'Init Containers', inits, undefined, '  ');
  describeContainers(w, 'Containers', arr(spec.containers), undefined, '  ');
  describeVolumes(w, arr(spec.volumes), '  ');
  if (s(spec.priorityClassName)) w.write(1, `Priority Class Name:\t${s(spec.priorityClassName)}\n`);
  printLabelsMultiline(w, '  Node-Selectors', spec.nodeSelector);
  printTolerationsMultiline(w, '  Tolerations', arr(spec.tolerations));
}

/** A pod template as `rollout history --revision` prints it (kubectl: tabs left as they are). */
export function podTemplateText(template: unknown): string {
  const w = new PrefixWriter(new TabWriter({ raw: true }));
  describePodTemplate(w, rec(template));
  return w.toString();
}

function conditionsTable(w: PrefixWriter, conditions: Obj[]): void {
  if (conditions.length === 0) return;
  w.write(0, 'Conditions:\n  Type\tStatus\tReason\n');
  w.write(1, '----\t------\t------\n');
  for (const c of conditions) w.write(1, `${s(c.type)} \t${s(c.status)}\t${s(c.reason)}\n`);
}

function eventTime(e: Obj): number {
  const series = e.series === undefined ? undefined : rec(e.series);
  return parseTime(series?.lastObservedTime) ?? parseTime(e.lastTimestamp) ?? parseTime(e.eventTime) ?? 0;
}

/** How long ago an event happened, with its repetitions: `5m (x3 over 10m)`. */
export function eventInterval(e: Obj, now: number): string {
  const first = parseTime(e.eventTime) !== undefined ? age(e.eventTime, now) : age(e.firstTimestamp, now);
  if (e.series !== undefined) {
    const series = rec(e.series);
    return `${age(series.lastObservedTime, now)} (x${n(series.count)} over ${first})`;
  }
  if (n(e.count) > 1) return `${age(e.lastTimestamp, now)} (x${n(e.count)} over ${first})`;
  return first;
}

/** Events sorted oldest first, as kubectl sorts them. */
export function sortEvents(events: readonly PlainObject[]): PlainObject[] {
  return [...events].sort((a, b) => eventTime(a as Obj) - eventTime(b as Obj));
}

/** The Events section (the table is aligned by itself: what came before is flushed first). */
export function describeEvents(w: PrefixWriter, events: readonly PlainObject[] | undefined, now: number): void {
  if (events === undefined) return;
  if (events.length === 0) {
    w.write(0, 'Events:\t<none>\n');
    return;
  }
  w.flush();
  w.write(0, 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n');
  w.write(1, '----\t------\t----\t----\t-------\n');
  for (const ev of sortEvents(events)) {
    const e = ev as Obj;
    const source = s(rec(e.source).component) || s(e.reportingController) || s(e.reportingComponent);
    let message = s(e.message).trim();
    const fieldPath = s(rec(e.involvedObject).fieldPath);
    if (fieldPath) message = `${fieldPath}: ${message}`;
    w.write(1, `${s(e.type)}\t${s(e.reason)}\t${eventInterval(e, now)}\t${source}\t${message}\n`);
  }
}

// ---- per kind ------------------------------------------------------------------------------

/** kubectl's QoS class of a pod (status.qosClass when the server set it). */
export function podQos(pod: Obj): string {
  const given = s(rec(pod.status).qosClass);
  if (given) return given;
  const spec = rec(pod.spec);
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const add = (m: Map<string, Quantity>, name: string, v: unknown) => {
    const q = tryParseQuantity(v);
    if (!q || q.sign() <= 0) return;
    m.set(name, m.has(name) ? m.get(name)!.add(q) : q);
  };
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const r = rec(c.resources);
    for (const [name, v] of Object.entries(rec(r.requests))) if (name === 'cpu' || name === 'memory') add(requests, name, v);
    const found = new Set<string>();
    for (const [name, v] of Object.entries(rec(r.limits))) {
      if (name !== 'cpu' && name !== 'memory') continue;
      const q = tryParseQuantity(v);
      if (q && q.sign() > 0) found.add(name);
      add(limits, name, v);
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, q] of requests) if (!limits.get(name)?.equals(q)) guaranteed = false;
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

export function describePod(pod: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = pod as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  if (typeof spec.priority === 'number') w.write(0, `Priority:\t${spec.priority}\n`);
  if (s(spec.priorityClassName)) w.write(0, `Priority Class Name:\t${s(spec.priorityClassName)}\n`);
  if (s(spec.runtimeClassName)) w.write(0, `Runtime Class Name:\t${s(spec.runtimeClassName)}\n`);
  if (s(spec.serviceAccountName)) w.write(0, `Service Account:\t${s(spec.serviceAccountName)}\n`);
  w.write(0, s(spec.nodeName) ? `Node:\t${s(spec.nodeName)}/${s(st.hostIP)}\n` : 'Node:\t<none>\n');
  if (st.startTime !== undefined) w.write(0, `Start Time:\t${rfc1123z(st.startTime)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  if (m.deletionTimestamp !== undefined && st.phase !== 'Failed' && st.phase !== 'Succeeded') {
    w.write(0, `Status:\tTerminating (lasts ${age(m.deletionTimestamp, now)})\n`);
    w.write(0, `Termination Grace Period:\t${n(m.deletionGracePeriodSeconds)}s\n`);
  } else {
    w.write(0, `Status:\t${s(st.phase)}\n`);
  }
  if (s(st.reason)) w.write(0, `Reason:\t${s(st.reason)}\n`);
  if (s(st.message)) w.write(0, `Message:\t${s(st.message)}\n`);
  w.write(0, `IP:\t${s(st.podIP)}\n`);
  const ips = arr(st.podIPs);
  if (ips.length === 0) w.write(0, 'IPs:\t<none>\n');
  else {
    w.write(0, 'IPs:\n');
    for (const ip of ips) w.write(1, `IP:\t${s(ip.ip)}\n`);
  }
  const controlledBy = printController(o);
  if (controlledBy) w.write(0, `Controlled By:\t${controlledBy}\n`);
  if (s(st.nominatedNodeName)) w.write(0, `NominatedNodeName:\t${s(st.nominatedNodeName)}\n`);
  const inits = arr(spec.initContainers);
  if (inits.length > 0) describeContainers(w, 'Init Containers', inits, arr(st.initContainerStatuses), '');
  describeContainers(w, 'Containers', arr(spec.containers), arr(st.containerStatuses), '');
  const gates = arr(spec.readinessGates);
  if (gates.length > 0) {
    w.write(0, 'Readiness Gates:\n  Type\tStatus\n');
    for (const g of gates) {
      const c = arr(st.conditions).find((x) => x.type === g.conditionType);
      w.write(1, `${s(g.conditionType)} \t${c ? s(c.status) : '<none>'} \n`);
    }
  }
  const conditions = arr(st.conditions);
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n  Type\tStatus\n');
    for (const c of conditions) w.write(1, `${s(c.type)} \t${s(c.status)} \n`);
  }
  describeVolumes(w, arr(spec.volumes), '');
  w.write(0, `QoS Class:\t${podQos(o)}\n`);
  printLabelsMultiline(w, 'Node-Selectors', spec.nodeSelector);
  printTolerationsMultiline(w, 'Tolerations', arr(spec.tolerations));
  describeEvents(w, events, now);
  return w.toString();
}

/** `web-5d4f8 (3/3 replicas created)`, joined; `<none>` for none. */
function replicaSetsText(sets: readonly PlainObject[]): string {
  const list = sets.map((rs) => {
    const o = rs as Obj;
    const desired = rec(o.spec).replicas === undefined ? 1 : n(rec(o.spec).replicas);
    return `${s(meta(o).name)} (${n(rec(o.status).replicas)}/${desired} replicas created)`;
  });
  return list.length === 0 ? '<none>' : list.join(', ');
}

export function describeDeployment(
  d: PlainObject,
  oldSets: readonly PlainObject[],
  newSet: PlainObject | undefined,
  events: readonly PlainObject[] | undefined,
  now: number,
): string {
  const o = d as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  w.write(0, `CreationTimestamp:\t${rfc1123z(m.creationTimestamp)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, `Selector:\t${selectorText(spec.selector)}\n`);
  const desired = spec.replicas === undefined ? 1 : n(spec.replicas);
  w.write(0, `Replicas:\t${desired} desired | ${n(st.updatedReplicas)} updated | ${n(st.replicas)} total | ${n(st.availableReplicas)} available | ${n(st.unavailableReplicas)} unavailable\n`);
  const strategy = rec(spec.strategy);
  w.write(0, `StrategyType:\t${s(strategy.type)}\n`);
  w.write(0, `MinReadySeconds:\t${n(spec.minReadySeconds)}\n`);
  if (strategy.rollingUpdate !== undefined) {
    const ru = rec(strategy.rollingUpdate);
    w.write(0, `RollingUpdateStrategy:\t${intOrString(ru.maxUnavailable)} max unavailable, ${intOrString(ru.maxSurge)} max surge\n`);
  }
  describePodTemplate(w, rec(spec.template));
  conditionsTable(w, arr(st.conditions));
  if (oldSets.length > 0 || newSet) {
    w.write(0, `OldReplicaSets:\t${replicaSetsText(oldSets)}\n`);
    w.write(0, `NewReplicaSet:\t${replicaSetsText(newSet ? [newSet] : [])}\n`);
  }
  describeEvents(w, events, now);
  return w.toString();
}

/** Pods of a controller by phase: `Running / Waiting / Succeeded / Failed`. */
export interface PodPhaseCounts {
  running: number;
  waiting: number;
  succeeded: number;
  failed: number;
}

/** Counts the pods a controller (by uid) controls, by phase. */
export function countPodPhases(pods: readonly PlainObject[], controllerUid: string): PodPhaseCounts {
  const c: PodPhaseCounts = { running: 0, waiting: 0, succeeded: 0, failed: 0 };
  for (const p of pods) {
    const ref = arr(meta(p as Obj).ownerReferences).find((r) => r.controller === true);
    if (!ref || ref.uid !== controllerUid) continue;
    const phase = rec((p as Obj).status).phase;
    if (phase === 'Running') c.running++;
    else if (phase === 'Pending') c.waiting++;
    else if (phase === 'Succeeded') c.succeeded++;
    else if (phase === 'Failed') c.failed++;
  }
  return c;
}

function selectorText(sel: unknown): string {
  if (sel === undefined || sel === null) return '<none>';
  const text = formatLabelSelector(sel as LabelSelector);
  return text === '<none>' ? '' : text;
}

export function describeReplicaSet(rs: PlainObject, pods: PodPhaseCounts, events: readonly PlainObject[] | undefined, now: number): string {
  const o = rs as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  w.write(0, `Selector:\t${formatLabelSelector(spec.selector as LabelSelector)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  const controlledBy = printController(o);
  if (controlledBy) w.write(0, `Controlled By:\t${controlledBy}\n`);
  const desired = spec.replicas === undefined ? 1 : n(spec.replicas);
  w.write(0, `Replicas:\t${n(rec(o.status).replicas)} current / ${desired} desired\n`);
  w.write(0, `Pods Status:\t${pods.running} Running / ${pods.waiting} Waiting / ${pods.succeeded} Succeeded / ${pods.failed} Failed\n`);
  describePodTemplate(w, rec(spec.template));
  conditionsTable(w, arr(rec(o.status).conditions));
  describeEvents(w, events, now);
  return w.toString();
}

export function describeJob(job: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = job as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  w.write(0, `Selector:\t${selectorText(spec.selector)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  const controlledBy = printController(o);
  if (controlledBy) w.write(0, `Controlled By:\t${controlledBy}\n`);
  if (typeof spec.parallelism === 'number') w.write(0, `Parallelism:\t${spec.parallelism}\n`);
  w.write(0, typeof spec.completions === 'number' ? `Completions:\t${spec.completions}\n` : 'Completions:\t<unset>\n');
  if (s(spec.completionMode)) w.write(0, `Completion Mode:\t${s(spec.completionMode)}\n`);
  if (typeof spec.suspend === 'boolean') w.write(0, `Suspend:\t${spec.suspend}\n`);
  if (typeof spec.backoffLimit === 'number') w.write(0, `Backoff Limit:\t${spec.backoffLimit}\n`);
  if (typeof spec.ttlSecondsAfterFinished === 'number') w.write(0, `TTL Seconds After Finished:\t${spec.ttlSecondsAfterFinished}\n`);
  if (st.startTime !== undefined) w.write(0, `Start Time:\t${rfc1123z(st.startTime)}\n`);
  if (st.completionTime !== undefined) w.write(0, `Completed At:\t${rfc1123z(st.completionTime)}\n`);
  const start = parseTime(st.startTime);
  const end = parseTime(st.completionTime);
  if (start !== undefined && end !== undefined) w.write(0, `Duration:\t${humanDuration(end - start)}\n`);
  if (typeof spec.activeDeadlineSeconds === 'number') w.write(0, `Active Deadline Seconds:\t${spec.activeDeadlineSeconds}s\n`);
  if (typeof st.ready === 'number') {
    w.write(0, `Pods Statuses:\t${n(st.active)} Active (${st.ready} Ready) / ${n(st.succeeded)} Succeeded / ${n(st.failed)} Failed\n`);
  } else {
    w.write(0, `Pods Statuses:\t${n(st.active)} Active / ${n(st.succeeded)} Succeeded / ${n(st.failed)} Failed\n`);
  }
  if (spec.completionMode === 'Indexed') {
    const idx = s(st.completedIndexes);
    w.write(0, `Completed Indexes:\t${idx || '<none>'}\n`);
  }
  describePodTemplate(w, rec(spec.template));
  describeEvents(w, events, now);
  return w.toString();
}

export function describeCronJob(cj: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = cj as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const w = new PrefixWriter();
  const orUnset = (v: unknown, suffix = '') => (typeof v === 'number' ? `${v}${suffix}` : '<unset>');
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, `Schedule:\t${s(spec.schedule)}\n`);
  w.write(0, `Concurrency Policy:\t${s(spec.concurrencyPolicy)}\n`);
  w.write(0, `Suspend:\t${spec.suspend === true ? 'True' : spec.suspend === false ? 'False' : '<unset>'}\n`);
  w.write(0, `Time Zone:\t${s(spec.timeZone) || '<unset>'}\n`);
  w.write(0, `Successful Job History Limit:\t${orUnset(spec.successfulJobsHistoryLimit)}\n`);
  w.write(0, `Failed Job History Limit:\t${orUnset(spec.failedJobsHistoryLimit)}\n`);
  w.write(0, `Starting Deadline Seconds:\t${orUnset(spec.startingDeadlineSeconds, 's')}\n`);
  const jobSpec = rec(rec(spec.jobTemplate).spec);
  w.write(0, `Selector:\t${jobSpec.selector !== undefined ? selectorText(jobSpec.selector) : '<unset>'}\n`);
  w.write(0, `Parallelism:\t${orUnset(jobSpec.parallelism)}\n`);
  w.write(0, `Completions:\t${orUnset(jobSpec.completions)}\n`);
  if (typeof jobSpec.activeDeadlineSeconds === 'number') w.write(0, `Active Deadline Seconds:\t${jobSpec.activeDeadlineSeconds}s\n`);
  describePodTemplate(w, rec(jobSpec.template));
  w.write(0, `Last Schedule Time:\t${st.lastScheduleTime !== undefined ? rfc1123z(st.lastScheduleTime) : '<unset>'}\n`);
  const active = arr(st.active);
  w.write(0, `Active Jobs:\t${active.length === 0 ? '<none>' : active.map((j) => s(j.name)).join(', ')}\n`);
  describeEvents(w, events, now);
  return w.toString();
}

/** The endpoints of one service port: `10.0.0.1:8080,10.0.0.2:8080`, `<none>`. */
function endpointsForPort(endpoints: PlainObject | undefined, portName: string): string {
  if (!endpoints) return '<none>';
  const subsets = arr((endpoints as Obj).subsets).map((ss) => ({ ...ss, ports: arr(ss.ports).filter((p) => s(p.name) === portName) }));
  const kept = subsets.filter((ss) => ss.ports.length > 0 || arr((endpoints as Obj).subsets).every((x) => arr(x.ports).length === 0));
  return formatEndpoints({ subsets: kept });
}

export function describeService(svc: PlainObject, endpoints: PlainObject | undefined, events: readonly PlainObject[] | undefined, now: number): string {
  const o = svc as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  const sel = strMap(spec.selector);
  const selKeys = Object.keys(sel).sort();
  w.write(0, `Selector:\t${selKeys.length === 0 ? '<none>' : selKeys.map((k) => `${k}=${sel[k]}`).join(',')}\n`);
  w.write(0, `Type:\t${s(spec.type) || 'ClusterIP'}\n`);
  if (s(spec.ipFamilyPolicy)) w.write(0, `IP Family Policy:\t${s(spec.ipFamilyPolicy)}\n`);
  const families = strs(spec.ipFamilies);
  w.write(0, `IP Families:\t${families.length > 0 ? families.join(',') : '<none>'}\n`);
  w.write(0, `IP:\t${s(spec.clusterIP)}\n`);
  const ips = strs(spec.clusterIPs);
  w.write(0, `IPs:\t${ips.length > 0 ? ips.join(',') : '<none>'}\n`);
  const external = strs(spec.externalIPs);
  if (external.length > 0) w.write(0, `External IPs:\t${external.join(',')}\n`);
  if (s(spec.loadBalancerIP)) w.write(0, `Desired LoadBalancer IP:\t${s(spec.loadBalancerIP)}\n`);
  if (s(spec.externalName)) w.write(0, `External Name:\t${s(spec.externalName)}\n`);
  const ingress = arr(rec(rec(o.status).loadBalancer).ingress);
  if (ingress.length > 0) w.write(0, `LoadBalancer Ingress:\t${ingress.map((i) => s(i.ip) || s(i.hostname)).join(', ')}\n`);
  for (const p of arr(spec.ports)) {
    const name = s(p.name) || '<unset>';
    const proto = s(p.protocol) || 'TCP';
    w.write(0, `Port:\t${name}\t${n(p.port)}/${proto}\n`);
    const target = p.targetPort === undefined ? String(n(p.port)) : intOrString(p.targetPort);
    w.write(0, `TargetPort:\t${target}/${proto}\n`);
    if (s(p.appProtocol)) w.write(0, `AppProtocol:\t${s(p.appProtocol)}\n`);
    if (n(p.nodePort) !== 0) w.write(0, `NodePort:\t${name}\t${n(p.nodePort)}/${proto}\n`);
    w.write(0, `Endpoints:\t${endpointsForPort(endpoints, s(p.name))}\n`);
  }
  w.write(0, `Session Affinity:\t${s(spec.sessionAffinity) || 'None'}\n`);
  if (s(spec.externalTrafficPolicy)) w.write(0, `External Traffic Policy:\t${s(spec.externalTrafficPolicy)}\n`);
  if (s(spec.internalTrafficPolicy)) w.write(0, `Internal Traffic Policy:\t${s(spec.internalTrafficPolicy)}\n`);
  if (n(spec.healthCheckNodePort) !== 0) w.write(0, `HealthCheck NodePort:\t${n(spec.healthCheckNodePort)}\n`);
  describeEvents(w, events, now);
  return w.toString();
}

export function describeEndpoints(ep: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = ep as Obj;
  const m = meta(o);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, 'Subsets:\n');
  for (const ss of arr(o.subsets)) {
    w.write(1, `Addresses:\t${arr(ss.addresses).map((a) => s(a.ip)).join(',') || '<none>'}\n`);
    w.write(1, `NotReadyAddresses:\t${arr(ss.notReadyAddresses).map((a) => s(a.ip)).join(',') || '<none>'}\n`);
    const ports = arr(ss.ports);
    if (ports.length > 0) {
      w.write(1, 'Ports:\n');
      w.write(2, 'Name\tPort\tProtocol\n');
      w.write(2, '----\t----\t--------\n');
      for (const p of ports) w.write(2, `${s(p.name) || '<unset>'}\t${n(p.port)}\t${s(p.protocol) || 'TCP'}\n`);
    }
    w.write(0, '\n');
  }
  describeEvents(w, events, now);
  return w.toString();
}

export function describeConfigMap(cm: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = cm as Obj;
  const m = meta(o);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, '\nData\n====\n');
  const data = strMap(o.data);
  for (const k of Object.keys(data).sort()) {
    w.write(0, `${k}:\n----\n`);
    w.write(0, `${data[k]}\n`);
    w.write(0, '\n');
  }
  w.write(0, '\nBinaryData\n====\n');
  const bin = strMap(o.binaryData);
  for (const k of Object.keys(bin).sort()) w.write(0, `${k}: ${Buffer.from(bin[k]!, 'base64').length} bytes\n`);
  w.write(0, '\n');
  describeEvents(w, events, now);
  return w.toString();
}

export function describeSecret(secret: PlainObject): string {
  const o = secret as Obj;
  const m = meta(o);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, `\nType:\t${s(o.type) || 'Opaque'}\n`);
  w.write(0, '\nData\n====\n');
  const data = strMap(o.data);
  for (const k of Object.keys(data).sort()) w.write(0, `${k}:\t${Buffer.from(data[k]!, 'base64').length} bytes\n`);
  return w.toString();
}

export function describeNamespace(ns: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = ns as Obj;
  const m = meta(o);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, `Status:\t${s(rec(o.status).phase)}\n`);
  w.write(0, '\nNo resource quota.\n');
  w.write(0, '\nNo LimitRange resource.\n');
  describeEvents(w, events, now);
  return w.toString();
}

/** Sums of the cpu and memory requests and limits of pods (a pod: its containers, or its largest init container). */
function podResources(pod: Obj): { requests: Map<string, Quantity>; limits: Map<string, Quantity> } {
  const spec = rec(pod.spec);
  const sum = (containers: Obj[], field: 'requests' | 'limits') => {
    const out = new Map<string, Quantity>();
    for (const c of containers) {
      for (const [name, v] of Object.entries(rec(rec(c.resources)[field]))) {
        const q = tryParseQuantity(v);
        if (!q) continue;
        out.set(name, out.has(name) ? out.get(name)!.add(q) : q);
      }
    }
    return out;
  };
  const result = { requests: sum(arr(spec.containers), 'requests'), limits: sum(arr(spec.containers), 'limits') };
  for (const field of ['requests', 'limits'] as const) {
    for (const init of arr(spec.initContainers)) {
      for (const [name, v] of Object.entries(rec(rec(init.resources)[field]))) {
        const q = tryParseQuantity(v);
        if (!q) continue;
        const have = result[field].get(name);
        if (!have || q.cmp(have) > 0) result[field].set(name, q);
      }
    }
  }
  return result;
}

function percent(part: Quantity | undefined, whole: Quantity | undefined, milli: boolean): number {
  if (!part || !whole) return 0;
  const w = milli ? Number(whole.milliValue()) : Number(whole.value());
  if (w === 0) return 0;
  const p = milli ? Number(part.milliValue()) : Number(part.value());
  return Math.trunc((p / w) * 100);
}

export function describeNode(node: PlainObject, pods: readonly PlainObject[], events: readonly PlainObject[] | undefined, now: number): string {
  const o = node as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Roles:\t${nodeRoles(o)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, `CreationTimestamp:\t${rfc1123z(m.creationTimestamp)}\n`);
  printTaintsMultiline(w, 'Taints', arr(spec.taints));
  w.write(0, `Unschedulable:\t${spec.unschedulable === true}\n`);
  const conditions = arr(st.conditions);
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n');
    w.write(1, '----\t------\t-----------------\t------------------\t------\t-------\n');
    for (const c of conditions) {
      w.write(1, `${s(c.type)} \t${s(c.status)} \t${rfc1123z(c.lastHeartbeatTime)} \t${rfc1123z(c.lastTransitionTime)} \t${s(c.reason)} \t${s(c.message)}\n`);
    }
  }
  w.write(0, 'Addresses:\n');
  for (const a of arr(st.addresses)) w.write(1, `${s(a.type)}:\t${s(a.address)}\n`);
  const capacity = rec(st.capacity);
  const allocatableRaw = rec(st.allocatable);
  for (const [title, list] of [['Capacity', capacity], ['Allocatable', allocatableRaw]] as const) {
    const names = Object.keys(list).sort();
    if (names.length === 0) continue;
    w.write(0, `${title}:\n`);
    for (const name of names) w.write(0, `  ${name}:\t${quantity(list[name])}\n`);
  }
  const info = rec(st.nodeInfo);
  w.write(0, 'System Info:\n');
  w.write(0, `  Machine ID:\t${s(info.machineID)}\n`);
  w.write(0, `  System UUID:\t${s(info.systemUUID)}\n`);
  w.write(0, `  Boot ID:\t${s(info.bootID)}\n`);
  w.write(0, `  Kernel Version:\t${s(info.kernelVersion)}\n`);
  w.write(0, `  OS Image:\t${s(info.osImage)}\n`);
  w.write(0, `  Operating System:\t${s(info.operatingSystem)}\n`);
  w.write(0, `  Architecture:\t${s(info.architecture)}\n`);
  w.write(0, `  Container Runtime Version:\t${s(info.containerRuntimeVersion)}\n`);
  w.write(0, `  Kubelet Version:\t${s(info.kubeletVersion)}\n`);
  if (s(spec.podCIDR)) w.write(0, `PodCIDR:\t${s(spec.podCIDR)}\n`);
  if (strs(spec.podCIDRs).length > 0) w.write(0, `PodCIDRs:\t${strs(spec.podCIDRs).join(',')}\n`);
  if (s(spec.providerID)) w.write(0, `ProviderID:\t${s(spec.providerID)}\n`);

  // Non-terminated pods and what they request of the node.
  const allocatable = Object.keys(allocatableRaw).length > 0 ? allocatableRaw : capacity;
  const alloc = (name: string) => tryParseQuantity(allocatable[name]);
  const running = pods.filter((p) => {
    const phase = rec((p as Obj).status).phase;
    return phase !== 'Succeeded' && phase !== 'Failed';
  });
  w.write(0, `Non-terminated Pods:\t(${running.length} in total)\n`);
  w.write(1, 'Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n');
  w.write(1, '---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n');
  const zero = Quantity.zero();
  const totals = { requests: new Map<string, Quantity>(), limits: new Map<string, Quantity>() };
  for (const p of running) {
    const po = p as Obj;
    const r = podResources(po);
    const cpuReq = r.requests.get('cpu') ?? zero;
    const cpuLim = r.limits.get('cpu') ?? zero;
    const memReq = r.requests.get('memory') ?? zero;
    const memLim = r.limits.get('memory') ?? zero;
    w.write(
      1,
      `${s(meta(po).namespace)}\t${s(meta(po).name)}\t\t${cpuReq} (${percent(cpuReq, alloc('cpu'), true)}%)\t${cpuLim} (${percent(cpuLim, alloc('cpu'), true)}%)\t${memReq} (${percent(memReq, alloc('memory'), false)}%)\t${memLim} (${percent(memLim, alloc('memory'), false)}%)\t${age(meta(po).creationTimestamp, now)}\n`,
    );
    for (const field of ['requests', 'limits'] as const) {
      for (const [name, q] of r[field]) totals[field].set(name, totals[field].has(name) ? totals[field].get(name)!.add(q) : q);
    }
  }
  w.write(0, 'Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n');
  w.write(1, 'Resource\tRequests\tLimits\n');
  w.write(1, '--------\t--------\t------\n');
  for (const name of ['cpu', 'memory', 'ephemeral-storage']) {
    const req = totals.requests.get(name) ?? zero;
    const lim = totals.limits.get(name) ?? zero;
    const milli = name === 'cpu';
    w.write(1, `${name}\t${req} (${percent(req, alloc(name), milli)}%)\t${lim} (${percent(lim, alloc(name), milli)}%)\n`);
  }
  const standard = new Set(['cpu', 'memory', 'ephemeral-storage', 'storage', 'pods']);
  for (const name of Object.keys(allocatable).filter((x) => !standard.has(x) && !x.startsWith('hugepages-')).sort()) {
    w.write(1, `${name}\t${totals.requests.get(name) ?? zero}\t${totals.limits.get(name) ?? zero}\n`);
  }
  describeEvents(w, events, now);
  return w.toString();
}

export function describeHpa(hpa: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = hpa as Obj;
  const m = meta(o);
  const spec = rec(o.spec);
  const st = rec(o.status);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  w.write(0, `CreationTimestamp:\t${rfc1123z(m.creationTimestamp)}\n`);
  const ref = rec(spec.scaleTargetRef);
  w.write(0, `Reference:\t${s(ref.kind)}/${s(ref.name)}\n`);
  w.write(0, 'Metrics:\t( current / target )\n');
  const current = arr(st.currentMetrics);
  arr(spec.metrics).forEach((metric, i) => {
    const cur = current[i];
    if (metric.type === 'Resource' || metric.type === 'ContainerResource') {
      const field = metric.type === 'Resource' ? 'resource' : 'containerResource';
      const r = rec(metric[field]);
      const target = rec(r.target);
      const c = cur ? rec(rec(cur[field]).current) : {};
      const what = metric.type === 'Resource' ? `resource ${s(r.name)} on pods` : `resource ${s(r.name)} of container "${s(r.container)}" on pods`;
      if (target.averageValue !== undefined) {
        w.write(1, `${what}:\t${c.averageValue !== undefined ? quantity(c.averageValue) : '<unknown>'} / ${quantity(target.averageValue)}\n`);
      } else {
        const curText = c.averageUtilization !== undefined ? `${n(c.averageUtilization)}% (${quantity(c.averageValue)})` : '<unknown>';
        const goal = target.averageUtilization !== undefined ? `${n(target.averageUtilization)}%` : '<auto>';
        w.write(1, what);
        w.write(1, `(as a percentage of request):\t${curText} / ${goal}\n`);
      }
    } else if (metric.type === 'Pods') {
      const p = rec(metric.pods);
      const c = cur ? rec(rec(cur.pods).current) : {};
      w.write(1, `"${s(rec(p.metric).name)}" on pods:\t${c.averageValue !== undefined ? quantity(c.averageValue) : '<unknown>'} / ${quantity(rec(p.target).averageValue)}\n`);
    } else if (metric.type === 'Object' || metric.type === 'External') {
      const field = metric.type === 'Object' ? 'object' : 'external';
      const x = rec(metric[field]);
      const target = rec(x.target);
      const c = cur ? rec(rec(cur[field]).current) : {};
      const avg = target.averageValue !== undefined;
      const curText = avg ? (c.averageValue !== undefined ? quantity(c.averageValue) : '<unknown>') : c.value !== undefined ? quantity(c.value) : '<unknown>';
      const subject = metric.type === 'Object' ? `"${s(rec(x.metric).name)}" on ${s(rec(x.describedObject).kind)}/${s(rec(x.describedObject).name)} ` : `"${s(rec(x.metric).name)}" `;
      w.write(1, `${subject}(target ${avg ? 'average value' : 'value'}):\t${curText} / ${quantity(avg ? target.averageValue : target.value)}\n`);
    } else {
      w.write(1, '<unknown metric type>\n');
    }
  });
  w.write(0, `Min replicas:\t${typeof spec.minReplicas === 'number' ? spec.minReplicas : '<unset>'}\n`);
  w.write(0, `Max replicas:\t${n(spec.maxReplicas)}\n`);
  w.write(0, `${s(ref.kind)} pods:\t${n(st.currentReplicas)} current / ${n(st.desiredReplicas)} desired\n`);
  const conditions = arr(st.conditions);
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n');
    w.write(1, 'Type\tStatus\tReason\tMessage\n');
    w.write(1, '----\t------\t------\t-------\n');
    for (const c of conditions) w.write(1, `${s(c.type)}\t${s(c.status)}\t${s(c.reason)}\t${s(c.message)}\n`);
  }
  describeEvents(w, events, now);
  return w.toString();
}

// ---- any other kind --------------------------------------------------------------------------

/** `replicas` → `Replicas`, `podIP` → `Pod IP`, `apiVersion` → `API Version` (kubectl's smart labels). */
export function smartLabel(field: string): string {
  if (/[^A-Za-z-]/.test(field)) return field;
  const parts = field.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|-/g) ?? [field];
  const acronyms = ['API', 'URL', 'UID', 'GUID', 'IP'];
  return parts
    .map((p) => (acronyms.includes(p.toUpperCase()) ? p.toUpperCase() : p === p.toLowerCase() ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join(' ')
    .replace(/ - /g, '-');
}

function printContent(w: PrefixWriter, level: number, content: Obj, prefix: string, skip: ReadonlySet<string>): void {
  for (const field of Object.keys(content).sort()) {
    const value = content[field];
    const path = `${prefix}.${field}`;
    if (skip.has(path) || value === undefined) continue;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      w.write(level, `${smartLabel(field)}:\n`);
      printContent(w, level + 1, value as Obj, path, skip);
    } else if (Array.isArray(value)) {
      w.write(level, `${smartLabel(field)}:\n`);
      for (const child of value) {
        if (child !== null && typeof child === 'object' && !Array.isArray(child)) printContent(w, level + 1, child as Obj, path, skip);
        else w.write(level + 1, `${goText(child)}\n`);
      }
    } else {
      w.write(level, `${smartLabel(field)}:\t${goText(value)}\n`);
    }
  }
}

function goText(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goText).join(' ')}]`;
  return String(v);
}

/** The generic describer: name, namespace, labels, annotations, then every field. */
export function describeGeneric(obj: PlainObject, events: readonly PlainObject[] | undefined, now: number): string {
  const o = obj as Obj;
  const m = meta(o);
  const w = new PrefixWriter();
  w.write(0, `Name:\t${s(m.name)}\n`);
  w.write(0, `Namespace:\t${s(m.namespace)}\n`);
  printLabelsMultiline(w, 'Labels', m.labels);
  printAnnotationsMultiline(w, 'Annotations', m.annotations);
  printContent(w, 0, o, '', new Set(['.metadata.managedFields', '.metadata.name', '.metadata.namespace', '.metadata.labels', '.metadata.annotations']));
  describeEvents(w, events, now);
  return w.toString();
}
