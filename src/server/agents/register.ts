/**
 * Node registration (any replica): create the Node, or bring a known Node's
 * agent-owned fields up to date while keeping its identity (uid) and what others own.
 *
 * The agent owns: status capacity/allocatable/addresses/nodeInfo/daemonEndpoints, and
 * the labels, annotations and taints it registers with. Others own the rest: users label
 * and cordon nodes, and the node-lifecycle controller adds not-ready taints, so labels,
 * annotations and taints are merged (the agent's keys win), never replaced, and
 * status.conditions (the leader's node monitor) is never taken from the agent.
 */
import { status } from '@grpc/grpc-js';
import { defaultObject, validateObject, type ApiObject } from '../../api/index.ts';
import type { PlainObject } from '../convert.ts';
import { ApiError, fieldErrors, invalidArgument } from '../errors.ts';
import type { ObjectsApi } from '../objects.ts';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const AGENT_STATUS_FIELDS = ['capacity', 'allocatable', 'addresses', 'nodeInfo', 'daemonEndpoints'] as const;

/** Parse and check a registration's Node JSON; the result is defaulted and valid as a new Node. */
export function parseNode(nodeJson: string): PlainObject {
  if (!nodeJson) throw invalidArgument('node_json: Required value');
  let v: unknown;
  try {
    v = JSON.parse(nodeJson);
  } catch (e) {
    throw invalidArgument(`node_json: Invalid value: not JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw invalidArgument('node_json: Invalid value: must be a JSON object');
  const kind = v.kind ?? 'Node';
  const apiVersion = v.apiVersion ?? 'v1';
  if (kind !== 'Node') throw invalidArgument(`node_json.kind: Unsupported value: ${JSON.stringify(kind)}: supported values: "Node"`);
  if (apiVersion !== 'v1') throw invalidArgument(`node_json.apiVersion: Unsupported value: ${JSON.stringify(apiVersion)}: supported values: "v1"`);
  const meta = isObj(v.metadata) ? v.metadata : {};
  const st = isObj(v.status) ? { ...v.status } : v.status;
  if (isObj(st)) delete st.conditions;
  // Only what registration may set; the server assigns identity and bookkeeping.
  const node: PlainObject = {
    ...v,
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: meta.name,
      ...(meta.labels !== undefined ? { labels: meta.labels } : {}),
      ...(meta.annotations !== undefined ? { annotations: meta.annotations } : {}),
    },
    ...(st !== undefined ? { status: st } : {}),
  };
  if (typeof meta.name !== 'string' || meta.name === '') throw invalidArgument('node_json.metadata.name: Required value');
  const errs = validateObject(node, { operation: 'create' });
  if (errs.length > 0) throw fieldErrors('Node', meta.name, errs);
  return defaultObject(node as ApiObject) as PlainObject;
}

function mergeTaints(have: unknown, want: unknown): unknown[] | undefined {
  const h = Array.isArray(have) ? have.filter(isObj) : [];
  const w = Array.isArray(want) ? want.filter(isObj) : [];
  if (h.length === 0 && w.length === 0) return undefined;
  const id = (t: Json) => `${String(t.key)}\u0000${String(t.effect)}`;
  const wanted = new Set(w.map(id));
  return [...h.filter((t) => !wanted.has(id(t))), ...w];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface RegisterDeps {
  api: ObjectsApi;
}

/** Create or update the Node; resolves with it as stored. */
export async function registerNode(d: RegisterDeps, node: PlainObject, deadline: number): Promise<PlainObject> {
  const name = String((node.metadata as Json).name);
  for (let attempt = 0; ; attempt++) {
    let cur: PlainObject | undefined;
    try {
      cur = await d.api.get('Node', '', name, { deadline });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === status.NOT_FOUND)) throw e;
    }
    try {
      if (!cur) return await d.api.create(node, { deadline });
      return await update(d, cur, node, deadline);
    } catch (e) {
      // Lost a race with another writer (a second registration, a user's label): look again.
      const raced = e instanceof ApiError && (e.code === status.ABORTED || e.code === status.ALREADY_EXISTS || e.code === status.NOT_FOUND);
      if (!raced || attempt >= 5 || Date.now() >= deadline) throw e;
    }
  }
}

async function update(d: RegisterDeps, cur: PlainObject, node: PlainObject, deadline: number): Promise<PlainObject> {
  const cm = (cur.metadata ?? {}) as Json;
  const nm = node.metadata as Json;
  const cs = isObj(cur.spec) ? cur.spec : {};
  const ns = isObj(node.spec) ? node.spec : {};
  const taints = mergeTaints(cs.taints, ns.taints);
  const labels = { ...(isObj(cm.labels) ? cm.labels : {}), ...(isObj(nm.labels) ? nm.labels : {}) };
  const annotations = { ...(isObj(cm.annotations) ? cm.annotations : {}), ...(isObj(nm.annotations) ? nm.annotations : {}) };
  const spec: Json = { ...cs };
  for (const k of ['podCIDR', 'podCIDRs', 'providerID'] as const) if (ns[k] !== undefined) spec[k] = ns[k];
  if (taints) spec.taints = taints;
  let stored = cur;
  const metaChanged = !same(cm.labels ?? {}, labels) || !same(cm.annotations ?? {}, annotations) || !same(cs, spec);
  if (metaChanged) {
    const next: PlainObject = {
      ...cur,
      metadata: {
        ...cm,
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      },
      spec,
    };
    stored = await d.api.update(next, { deadline });
  }
  const st = isObj(stored.status) ? stored.status : {};
  const want = isObj(node.status) ? node.status : {};
  const nextStatus: Json = { ...st };
  for (const k of AGENT_STATUS_FIELDS) if (want[k] !== undefined) nextStatus[k] = want[k];
  if (!same(st, nextStatus)) {
    stored = await d.api.update({ ...stored, status: nextStatus }, { deadline, status: true });
  }
  return stored;
}
