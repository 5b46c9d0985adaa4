/**
 * The columns `berth get` prints for each kind, as kubectl's printers define them: the
 * header row, the cells of one object, and the extra columns of `-o wide`. Pure: objects
 * and the current time in, strings out.
 */
import { formatLabelSelector, type KindInfo, type LabelSelector } from '../../api/index.ts';
import type { PlainObject } from '../../client/client.ts';
import { age, humanDuration, parseTime } from './age.ts';
import { resourceName } from './format.ts';

type Obj = Record<string, unknown>;

export interface TableOptions {
  /** `-o wide`: the extra columns. */
  wide?: boolean;
  /** Milliseconds since the epoch that ages are counted to. */
  now: number;
  /** `-A` on a namespaced kind: a NAMESPACE column first. */
  withNamespace?: boolean;
  /** Several kinds in one `get`: names as `deployment.apps/web`. */
  withKind?: boolean;
  /** `--show-labels`: a LABELS column last. */
  showLabels?: boolean;
  /** `-L KEY`: one column per label key with the object's value. */
  labelColumns?: readonly string[];
  /** `--no-headers`. */
  noHeaders?: boolean;
}

interface KindColumns {
  headers: string[];
  wideHeaders: string[];
  /** The whole wide header row, when the wide columns are not simply appended (events). */
  wideAll?: string[];
  /** Index of the NAME cell (-1: the kind has none in its default columns). */
  nameIndex: number;
  cells(o: Obj, now: number, wide: boolean): string[];
}

// ---- small readers -------------------------------------------------------------------

function rec(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v as unknown[]).map(rec) : [];
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

function created(o: Obj, now: number): string {
  return age(meta(o).creationTimestamp, now);
}

function orNone(v: string): string {
  return v === '' ? '<none>' : v;
}

/** `a=1,b=2` with keys sorted, as labels.FormatLabels; `<none>` when empty. */
export function formatLabels(labels: unknown): string {
  const l = rec(labels);
  const keys = Object.keys(l).sort();
  return keys.length === 0 ? '<none>' : keys.map((k) => `${k}=${s(l[k])}`).join(',');
}

function containerCells(containers: unknown): [string, string] {
  const cs = arr(containers);
  return [cs.map((c) => s(c.name)).join(','), cs.map((c) => s(c.image)).join(',')];
}

function selectorString(sel: unknown): string {
  if (sel === undefined || sel === null) return '<none>';
  return formatLabelSelector(sel as LabelSelector);
}

function conditionTrue(conditions: unknown, type: string): boolean {
  const c = arr(conditions).find((x) => x.type === type);
  return c !== undefined && c.status === 'True';
}

// ---- per kind ------------------------------------------------------------------------

/** Pod READY, STATUS and RESTARTS as kubectl derives them from the container statuses. */
export function podSummary(pod: Obj, now: number): { ready: string; status: string; restarts: string } {
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  const initSpecs = arr(spec.initContainers);
  const sidecar = (name: unknown) => initSpecs.some((c) => c.name === name && c.restartPolicy === 'Always');
  const total = arr(spec.containers).length + initSpecs.filter((c) => c.restartPolicy === 'Always').length;
  let ready = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart = 0;
  let lastSidecarRestart = 0;
  let reason = s(status.reason) || s(status.phase);
  if (arr(status.conditions).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';

  const finishedAt = (cs: Obj) => parseTime(rec(rec(cs.lastState).terminated).finishedAt) ?? 0;
  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i]!;
    const state = rec(cs.state);
    const terminated = state.terminated === undefined ? undefined : rec(state.terminated);
    const waiting = state.waiting === undefined ? undefined : rec(state.waiting);
    restarts += n(cs.restartCount);
    lastRestart = Math.max(lastRestart, finishedAt(cs));
    if (sidecar(cs.name)) {
      sidecarRestarts += n(cs.restartCount);
      lastSidecarRestart = Math.max(lastSidecarRestart, finishedAt(cs));
    }
    if (terminated && n(terminated.exitCode) === 0) continue;
    if (sidecar(cs.name) && cs.started === true) {
      if (cs.ready === true) ready++;
      continue;
    }
    if (terminated) {
      if (s(terminated.reason)) reason = `Init:${s(terminated.reason)}`;
      else if (n(terminated.signal) !== 0) reason = `Init:Signal:${n(terminated.signal)}`;
      else reason = `Init:ExitCode:${n(terminated.exitCode)}`;
    } else if (waiting && s(waiting.reason) && waiting.reason !== 'PodInitializing') {
      reason = `Init:${s(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status.conditions, 'Initialized')) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let running = false;
    const statuses = arr(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i]!;
      const state = rec(cs.state);
      const waiting = rec(state.waiting);
      const terminated = state.terminated === undefined ? undefined : rec(state.terminated);
      restarts += n(cs.restartCount);
      lastRestart = Math.max(lastRestart, finishedAt(cs));
      if (s(waiting.reason)) reason = s(waiting.reason);
      else if (terminated && s(terminated.reason)) reason = s(terminated.reason);
      else if (terminated) reason = n(terminated.signal) !== 0 ? `Signal:${n(terminated.signal)}` : `ExitCode:${n(terminated.exitCode)}`;
      else if (cs.ready === true && state.running !== undefined) {
        running = true;
        ready++;
      }
    }
    if (reason === 'Completed' && running) reason = conditionTrue(status.conditions, 'Ready') ? 'Running' : 'NotReady';
  }

  const deleting = Boolean(meta(pod).deletionTimestamp);
  const terminal = status.phase === 'Succeeded' || status.phase === 'Failed';
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown';
  else if (deleting && !terminal) reason = 'Terminating';

  let restartText = String(restarts);
  if (restarts !== 0 && lastRestart !== 0) restartText = `${restarts} (${humanDuration(now - lastRestart)} ago)`;
  return { ready: `${ready}/${total}`, status: reason, restarts: restartText };
}

const pods: KindColumns = {
  headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
  wideHeaders: ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
  nameIndex: 0,
  cells(o, now, wide) {
    const p = podSummary(o, now);
    const out = [s(meta(o).name), p.ready, p.status, p.restarts, created(o, now)];
    if (wide) {
      const spec = rec(o.spec);
      const status = rec(o.status);
      const ip = s(arr(status.podIPs)[0]?.ip) || s(status.podIP);
      const gates = arr(spec.readinessGates);
      let gateText = '<none>';
      if (gates.length > 0) {
        const ok = gates.filter((g) => conditionTrue(status.conditions, s(g.conditionType))).length;
        gateText = `${ok}/${gates.length}`;
      }
      out.push(orNone(ip), orNone(s(spec.nodeName)), orNone(s(status.nominatedNodeName)), gateText);
    }
    return out;
  },
};

const deployments: KindColumns = {
  headers: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
  wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  nameIndex: 0,
  cells(o, now, wide) {
    const spec = rec(o.spec);
    const st = rec(o.status);
    const desired = spec.replicas === undefined ? 1 : n(spec.replicas);
    const out = [s(meta(o).name), `${n(st.readyReplicas)}/${desired}`, String(n(st.updatedReplicas)), String(n(st.availableReplicas)), created(o, now)];
    if (wide) out.push(...containerCells(rec(rec(spec.template).spec).containers), selectorString(spec.selector));
    return out;
  },
};

const replicasets: KindColumns = {
  headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
  wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  nameIndex: 0,
  cells(o, now, wide) {
    const spec = rec(o.spec);
    const st = rec(o.status);
    const desired = spec.replicas === undefined ? 1 : n(spec.replicas);
    const out = [s(meta(o).name), String(desired), String(n(st.replicas)), String(n(st.readyReplicas)), created(o, now)];
    if (wide) out.push(...containerCells(rec(rec(spec.template).spec).containers), selectorString(spec.selector));
    return out;
  },
};

/** A job's STATUS column. */
export function jobStatus(o: Obj): string {
  const conditions = rec(o.status).conditions;
  if (conditionTrue(conditions, 'Complete')) return 'Complete';
  if (conditionTrue(conditions, 'Failed')) return 'Failed';
  if (meta(o).deletionTimestamp) return 'Terminating';
  if (conditionTrue(conditions, 'Suspended')) return 'Suspended';
  if (conditionTrue(conditions, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

const jobs: KindColumns = {
  headers: ['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE'],
  wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  nameIndex: 0,
  cells(o, now, wide) {
    const spec = rec(o.spec);
    const st = rec(o.status);
    let completions: string;
    if (spec.completions !== undefined && spec.completions !== null) completions = `${n(st.succeeded)}/${n(spec.completions)}`;
    else if (n(spec.parallelism) > 1) completions = `${n(st.succeeded)}/1 of ${n(spec.parallelism)}`;
    else completions = `${n(st.succeeded)}/1`;
    const start = parseTime(st.startTime);
    const end = parseTime(st.completionTime);
    const duration = start === undefined ? '' : humanDuration((end ?? now) - start);
    const out = [s(meta(o).name), jobStatus(o), completions, duration, created(o, now)];
    if (wide) out.push(...containerCells(rec(rec(spec.template).spec).containers), selectorString(spec.selector));
    return out;
  },
};

function boolPtr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  return '<unset>';
}

const cronjobs: KindColumns = {
  headers: ['NAME', 'SCHEDULE', 'TIMEZONE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'AGE'],
  wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  nameIndex: 0,
  cells(o, now, wide) {
    const spec = rec(o.spec);
    const st = rec(o.status);
    const last = st.lastScheduleTime === undefined ? '<none>' : age(st.lastScheduleTime, now);
    const out = [
      s(meta(o).name),
      s(spec.schedule),
      s(spec.timeZone) || '<none>',
      boolPtr(spec.suspend),
      String(arr(st.active).length),
      last,
      created(o, now),
    ];
    if (wide) {
      const jobSpec = rec(rec(spec.jobTemplate).spec);
      out.push(...containerCells(rec(rec(jobSpec.template).spec).containers), selectorString(jobSpec.selector));
    }
    return out;
  },
};

/** The EXTERNAL-IP of a Service. */
export function serviceExternalIP(o: Obj, wide: boolean): string {
  const spec = rec(o.spec);
  const external = Array.isArray(spec.externalIPs) ? (spec.externalIPs as unknown[]).map(s) : [];
  switch (s(spec.type) || 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length > 0 ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress = arr(rec(rec(o.status).loadBalancer).ingress);
      const ips = [...new Set(ingress.map((i) => s(i.ip) || s(i.hostname)).filter(Boolean))].sort();
      let lb = ips.join(',');
      if (!wide && lb.length > 16) lb = `${lb.slice(0, 13)}...`;
      if (external.length > 0) return [...(lb ? lb.split(',') : []), ...external].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return s(spec.externalName);
    default:
      return '<unknown>';
  }
}

/** `80/TCP,443:30443/TCP`. */
export function servicePorts(o: Obj): string {
  const ports = arr(rec(o.spec).ports);
  const text = ports
    .map((p) => {
      const proto = s(p.protocol) || 'TCP';
      return n(p.nodePort) > 0 ? `${n(p.port)}:${n(p.nodePort)}/${proto}` : `${n(p.port)}/${proto}`;
    })
    .join(',');
  return text || '<none>';
}

const services: KindColumns = {
  headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
  wideHeaders: ['SELECTOR'],
  nameIndex: 0,
  cells(o, now, wide) {
    const spec = rec(o.spec);
    const clusterIPs = Array.isArray(spec.clusterIPs) ? (spec.clusterIPs as unknown[]).map(s) : [];
    const clusterIP = clusterIPs[0] || s(spec.clusterIP) || '<none>';
    const out = [s(meta(o).name), s(spec.type) || 'ClusterIP', clusterIP, serviceExternalIP(o, wide), servicePorts(o), created(o, now)];
    if (wide) out.push(formatLabels(spec.selector));
    return out;
  },
};

/** `10.0.0.1:80,10.0.0.2:80 + 3 more...`: at most three addresses, `<none>` without subsets. */
export function formatEndpoints(o: Obj): string {
  const subsets = arr(o.subsets);
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  let more = false;
  const add = (text: string) => {
    if (list.length === max) more = true;
    else list.push(text);
  };
  for (const ss of subsets) {
    const addresses = arr(ss.addresses);
    const ports = arr(ss.ports);
    if (ports.length === 0) {
      count += addresses.length;
      for (const a of addresses) add(s(a.ip));
      continue;
    }
    for (const p of ports) {
      count += addresses.length;
      for (const a of addresses) {
        const ip = s(a.ip);
        add(ip.includes(':') ? `[${ip}]:${n(p.port)}` : `${ip}:${n(p.port)}`);
      }
    }
  }
  const text = list.join(',');
  return more ? `${text} + ${count - max} more...` : text;
}

const endpoints: KindColumns = {
  headers: ['NAME', 'ENDPOINTS', 'AGE'],
  wideHeaders: [],
  nameIndex: 0,
  cells: (o, now) => [s(meta(o).name), formatEndpoints(o), created(o, now)],
};

const configmaps: KindColumns = {
  headers: ['NAME', 'DATA', 'AGE'],
  wideHeaders: [],
  nameIndex: 0,
  cells: (o, now) => [s(meta(o).name), String(Object.keys(rec(o.data)).length + Object.keys(rec(o.binaryData)).length), created(o, now)],
};

const secrets: KindColumns = {
  headers: ['NAME', 'TYPE', 'DATA', 'AGE'],
  wideHeaders: [],
  nameIndex: 0,
  cells: (o, now) => [s(meta(o).name), s(o.type) || 'Opaque', String(Object.keys(rec(o.data)).length), created(o, now)],
};

const namespaces: KindColumns = {
  headers: ['NAME', 'STATUS', 'AGE'],
  wideHeaders: [],
  nameIndex: 0,
  cells: (o, now) => [s(meta(o).name), s(rec(o.status).phase), created(o, now)],
};

/** A node's STATUS: Ready / NotReady / Unknown, then SchedulingDisabled when cordoned. */
export function nodeStatus(o: Obj): string {
  const ready = arr(rec(o.status).conditions).find((c) => c.type === 'Ready');
  const parts = [ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady'];
  if (rec(o.spec).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

/** Roles from `node-role.kubernetes.io/ROLE` and `kubernetes.io/role=ROLE` labels. */
export function nodeRoles(o: Obj): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(rec(meta(o).labels))) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && s(v)) roles.add(s(v));
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

const nodes: KindColumns = {
  headers: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
  wideHeaders: ['INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
  nameIndex: 0,
  cells(o, now, wide) {
    const st = rec(o.status);
    const info = rec(st.nodeInfo);
    const out = [s(meta(o).name), nodeStatus(o), nodeRoles(o), created(o, now), s(info.kubeletVersion)];
    if (wide) {
      const addr = (type: string) => s(arr(st.addresses).find((a) => a.type === type)?.address) || '<none>';
      out.push(addr('InternalIP'), addr('ExternalIP'), s(info.osImage) || '<unknown>', s(info.kernelVersion) || '<unknown>', s(info.containerRuntimeVersion) || '<unknown>');
    }
    return out;
  },
};

const events: KindColumns = {
  headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
  wideHeaders: ['SUBOBJECT', 'SOURCE', 'FIRST SEEN', 'COUNT', 'NAME'],
  // kubectl puts SUBOBJECT and SOURCE before MESSAGE.
  wideAll: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'SUBOBJECT', 'SOURCE', 'MESSAGE', 'FIRST SEEN', 'COUNT', 'NAME'],
  nameIndex: -1,
  cells(o, now, wide) {
    let first = age(o.firstTimestamp, now);
    if (parseTime(o.firstTimestamp) === undefined) first = age(o.eventTime, now);
    let last = parseTime(o.lastTimestamp) === undefined ? first : age(o.lastTimestamp, now);
    let count = n(o.count);
    const series = o.series === undefined ? undefined : rec(o.series);
    if (series) {
      last = age(series.lastObservedTime, now);
      count = n(series.count);
    } else if (count === 0) {
      count = 1;
    }
    const involved = rec(o.involvedObject);
    const kind = s(involved.kind).toLowerCase();
    const target = s(involved.name) ? `${kind}/${s(involved.name)}` : kind;
    const message = s(o.message).trim();
    if (!wide) return [last, s(o.type), s(o.reason), target, message];
    const source = rec(o.source);
    const component = s(source.component) || s(o.reportingComponent);
    const host = s(source.host) || s(o.reportingInstance);
    return [last, s(o.type), s(o.reason), target, s(involved.fieldPath), host ? `${component}, ${host}` : component, message, first, String(count), s(meta(o).name)];
  },
};

/** The TARGETS of an autoscaler: `cpu: 40%/80%`, at most two metrics then `+ N more...`. */
export function formatHpaTargets(o: Obj): string {
  const specs = arr(rec(o.spec).metrics);
  if (specs.length === 0) return '<none>';
  const statuses = arr(rec(o.status).currentMetrics);
  const list: string[] = [];
  specs.forEach((spec, i) => {
    const st = statuses[i];
    const current = (src: string, field: string, pct = false): string => {
      const v = st ? rec(rec(st[src]).current)[field] : undefined;
      if (v === undefined || v === null) return '<unknown>';
      return pct ? `${s(v)}%` : s(v);
    };
    switch (spec.type) {
      case 'External':
      case 'Object': {
        const src = spec.type === 'External' ? 'external' : 'object';
        const target = rec(rec(spec[src]).target);
        if (target.averageValue !== undefined) list.push(`${current(src, 'averageValue')}/${s(target.averageValue)} (avg)`);
        else list.push(`${current(src, 'value')}/${s(target.value)}`);
        break;
      }
      case 'Pods':
        list.push(`${current('pods', 'averageValue')}/${s(rec(rec(spec.pods).target).averageValue)}`);
        break;
      case 'Resource':
      case 'ContainerResource': {
        const src = spec.type === 'Resource' ? 'resource' : 'containerResource';
        const r = rec(spec[src]);
        const target = rec(r.target);
        if (target.averageValue !== undefined) list.push(`${s(r.name)}: ${current(src, 'averageValue')}/${s(target.averageValue)}`);
        else {
          const goal = target.averageUtilization === undefined ? '<auto>' : `${n(target.averageUtilization)}%`;
          list.push(`${s(r.name)}: ${current(src, 'averageUtilization', true)}/${goal}`);
        }
        break;
      }
      default:
        list.push('<unknown type>');
    }
  });
  const max = 2;
  if (list.length > max) return `${list.slice(0, max).join(', ')} + ${list.length - max} more...`;
  return list.join(', ');
}

const hpas: KindColumns = {
  headers: ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE'],
  wideHeaders: [],
  nameIndex: 0,
  cells(o, now) {
    const spec = rec(o.spec);
    const ref = rec(spec.scaleTargetRef);
    const min = spec.minReplicas === undefined || spec.minReplicas === null ? '<unset>' : String(n(spec.minReplicas));
    return [s(meta(o).name), `${s(ref.kind)}/${s(ref.name)}`, formatHpaTargets(o), min, String(n(spec.maxReplicas)), String(n(rec(o.status).currentReplicas)), created(o, now)];
  },
};

const generic: KindColumns = {
  headers: ['NAME', 'AGE'],
  wideHeaders: [],
  nameIndex: 0,
  cells: (o, now) => [s(meta(o).name), created(o, now)],
};

const BY_KIND: Record<string, KindColumns> = {
  Pod: pods,
  Deployment: deployments,
  ReplicaSet: replicasets,
  Job: jobs,
  CronJob: cronjobs,
  Service: services,
  Endpoints: endpoints,
  ConfigMap: configmaps,
  Secret: secrets,
  Namespace: namespaces,
  Node: nodes,
  Event: events,
  HorizontalPodAutoscaler: hpas,
};

/** The header row for a kind under these options. */
export function tableHeaders(info: KindInfo, opts: Omit<TableOptions, 'now'>): string[] {
  const k = BY_KIND[info.kind] ?? generic;
  const headers = opts.wide ? (k.wideAll ?? [...k.headers, ...k.wideHeaders]) : k.headers;
  if (opts.withNamespace && info.namespaced) headers.unshift('NAMESPACE');
  for (const key of opts.labelColumns ?? []) headers.push(labelColumnHeader(key));
  if (opts.showLabels) headers.push('LABELS');
  return headers;
}

/** kubectl names a `-L` column after the key's last path segment, upper-cased. */
export function labelColumnHeader(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).toUpperCase();
}

/** The cells of one object. */
export function tableRow(info: KindInfo, o: PlainObject, opts: TableOptions): string[] {
  const k = BY_KIND[info.kind] ?? generic;
  const obj = o as Obj;
  const cells = k.cells(obj, opts.now, Boolean(opts.wide));
  if (opts.withKind && k.nameIndex >= 0) cells[k.nameIndex] = `${resourceName(info)}/${cells[k.nameIndex]}`;
  if (opts.withNamespace && info.namespaced) cells.unshift(s(meta(obj).namespace));
  const labels = rec(meta(obj).labels);
  for (const key of opts.labelColumns ?? []) cells.push(s(labels[key]));
  if (opts.showLabels) cells.push(formatLabels(labels));
  return cells;
}

/** Header (unless noHeaders) and one row per object. */
export function tableRows(info: KindInfo, objects: readonly PlainObject[], opts: TableOptions): string[][] {
  const rows = objects.map((o) => tableRow(info, o, opts));
  return opts.noHeaders ? rows : [tableHeaders(info, opts), ...rows];
}
