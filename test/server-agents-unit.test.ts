/**
 * The agent API's control-plane pieces on an in-memory store (no Raft, no gRPC): the
 * Assignments dispatcher (checked against a model of what each node should hold, with
 * reconnects and resumes), node liveness and the Ready monitor on a fake clock, and
 * the batched status writer.
 */
import test from 'ava';
import { MemoryKV, ObjectStore, type Command, type Result, type StoredObject } from '../src/store/index.ts';
import { EntryFeeder, testKindInfo } from '../src/store/testing.ts';
import type { Clock } from '../src/controllers/types.ts';
import { AssignmentDispatcher, statusOnlyChange, type AssignmentBatchOut, type Subscription } from '../src/server/agents/dispatcher.ts';
import { Liveness } from '../src/server/agents/liveness.ts';
import { NodeMonitor, readyCondition, UNKNOWN_MESSAGE, UNKNOWN_REASON } from '../src/server/agents/node-monitor.ts';
import { keyOf, nodeOf, podRefs, splitKey } from '../src/server/agents/refs.ts';
import { StatusWriter } from '../src/server/agents/status-writer.ts';
import { UsageStore } from '../src/server/agents/usage.ts';
import { allStopped, podStatusErrors } from '../src/server/agents/index.ts';
import { defaultObject, validateObject, type ApiObject } from '../src/api/index.ts';

const NOW = '2025-03-01T10:00:00Z';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

async function memStore(historySize = 10_000): Promise<{ store: ObjectStore; feed: EntryFeeder }> {
  const store = await ObjectStore.open(new MemoryKV(), { kindInfo: testKindInfo, historySize, warmUp: false });
  return { store, feed: new EntryFeeder(store) };
}

let uidSeq = 0;

function pod(name: string, node: string | undefined, refs: { cms?: string[]; secrets?: string[] } = {}, ns = 'default'): StoredObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid: `pod-${name}-${++uidSeq}` },
    spec: {
      ...(node ? { nodeName: node } : {}),
      volumes: (refs.cms ?? []).map((c, i) => ({ name: `v${i}`, configMap: { name: c } })),
      containers: [{ name: 'c', image: 'busybox', env: (refs.secrets ?? []).map((s, i) => ({ name: `E${i}`, valueFrom: { secretKeyRef: { name: s, key: 'k' } } })) }],
    },
    status: { phase: 'Pending' },
  };
}

function cm(kind: 'ConfigMap' | 'Secret', name: string, v: string, ns = 'default'): StoredObject {
  return { apiVersion: 'v1', kind, metadata: { name, namespace: ns, uid: `${kind}-${name}-${++uidSeq}` }, data: { v } };
}

const create = (object: StoredObject): Command => ({ op: 'create', object, now: NOW });
const update = (object: StoredObject): Command => ({ op: 'update', object, now: NOW });
const del = (kind: string, name: string, grace?: number, ns = 'default'): Command => ({ op: 'delete', kind, namespace: ns, name, ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}), now: NOW });

/** A node agent as the API describes it: applies batches to what it holds. */
class ModelAgent {
  held = new Map<string, { uid: string; rv: string; object: StoredObject }>();
  rv = '';
  batches: AssignmentBatchOut[] = [];
  duplicates: string[] = [];
  sub: Subscription | undefined;

  apply(b: AssignmentBatchOut): void {
    this.batches.push(b);
    if (b.full) this.held.clear();
    for (const it of b.items) {
      const k = keyOf(it.object);
      const have = this.held.get(k);
      const uid = String(it.object.metadata.uid);
      const rv = String(it.object.metadata.resourceVersion);
      if (it.type === 'DELETED') {
        this.held.delete(k);
        continue;
      }
      // Sending what the agent already holds is a duplicate.
      if (have && have.uid === uid && Number(have.rv) >= Number(rv)) this.duplicates.push(`${it.type} ${k}@${rv}`);
      if (it.type === 'MODIFIED' && !have) this.duplicates.push(`MODIFIED of unknown ${k}`);
      this.held.set(k, { uid, rv, object: it.object });
    }
    this.rv = b.resourceVersion;
  }

  state(): Record<string, string> {
    return Object.fromEntries([...this.held].map(([k, v]) => [k, `${v.uid}@${v.rv}`]).sort());
  }
}

/** What node `node` should hold according to the store. */
function expected(store: ObjectStore, node: string): Record<string, string> {
  const out: [string, string][] = [];
  const refs = new Set<string>();
  for (const p of store.list({ kind: 'Pod', filter: (o) => nodeOf(o) === node }).items) {
    out.push([keyOf(p), `${p.metadata.uid}@${p.metadata.resourceVersion}`]);
    for (const r of podRefs(p)) refs.add(r);
  }
  for (const r of refs) {
    const { kind, namespace, name } = splitKey(r);
    const o = store.get(kind, namespace, name);
    if (o) out.push([r, `${o.metadata.uid}@${o.metadata.resourceVersion}`]);
  }
  return Object.fromEntries(out.sort());
}

function harness(store: ObjectStore, opts: { maxBacklog?: number } = {}) {
  const queue: (() => void)[] = [];
  const d = new AssignmentDispatcher({ store, defer: (fn) => queue.push(fn), progressEveryMs: 0, ...opts });
  d.start();
  const drain = () => {
    while (queue.length > 0) queue.shift()!();
  };
  const connect = (agent: ModelAgent, node: string, from: string, send: (b: AssignmentBatchOut) => boolean = () => true) => {
    const closed: { err?: Error; closed: boolean } = { closed: false };
    agent.sub = d.subscribe(node, from, {
      send: (b) => {
        agent.apply(b);
        return send(b);
      },
      close: (err) => {
        closed.closed = true;
        if (err) closed.err = err;
      },
    });
    return closed;
  };
  return { d, drain, connect };
}

test('full batch: the node\'s pods and what they reference, nothing of other nodes', async (t) => {
  const { store, feed } = await memStore();
  await feed.apply(
    create(cm('ConfigMap', 'cfg', '1')),
    create(cm('Secret', 'only-a', 's')),
    create(cm('Secret', 'only-b', 's')),
    create(pod('a1', 'a', { cms: ['cfg'], secrets: ['only-a'] })),
    create(pod('b1', 'b', { cms: ['cfg'], secrets: ['only-b'] })),
    create(pod('u', undefined, { secrets: ['only-a'] })),
  );
  const h = harness(store);
  const a = new ModelAgent();
  h.connect(a, 'a', '');
  h.drain();
  t.is(a.batches.length, 1);
  t.true(a.batches[0]!.full);
  t.is(a.batches[0]!.resourceVersion, String(store.appliedIndex()));
  t.deepEqual(Object.keys(a.state()), ['ConfigMap/default/cfg', 'Pod/default/a1', 'Secret/default/only-a']);
  // What a pod needs comes before the pod.
  t.deepEqual(a.batches[0]!.items.map((i) => i.object.kind), ['ConfigMap', 'Secret', 'Pod']);
});

test('incremental: bind, reference changes, unreference and delete reach only the node concerned', async (t) => {
  const { store, feed } = await memStore();
  await feed.apply(create(cm('ConfigMap', 'cfg', '1')), create(cm('Secret', 's1', 'x')));
  const h = harness(store);
  const a = new ModelAgent();
  const b = new ModelAgent();
  h.connect(a, 'a', '');
  h.connect(b, 'b', '');
  h.drain();
  t.deepEqual(a.state(), {});
  const p = pod('p', undefined, { cms: ['cfg'], secrets: ['s1'] });
  await feed.one(create(p));
  h.drain();
  t.deepEqual(a.state(), {}, 'an unbound pod goes nowhere');
  await feed.one(update({ ...p, spec: { ...p.spec, nodeName: 'a' } }));
  h.drain();
  t.deepEqual(a.state(), expected(store, 'a'));
  t.deepEqual(Object.keys(a.state()), ['ConfigMap/default/cfg', 'Pod/default/p', 'Secret/default/s1']);
  t.deepEqual(a.batches.at(-1)!.items.map((i) => `${i.type} ${i.object.kind}`), ['ADDED ConfigMap', 'ADDED Secret', 'ADDED Pod']);
  const before = b.batches.length;
  await feed.one(update({ ...cm('Secret', 's1', 'y'), metadata: { name: 's1', namespace: 'default' } }));
  h.drain();
  t.is(b.batches.length, before, 'node b never hears of s1');
  t.deepEqual(a.batches.at(-1)!.items.map((i) => `${i.type} ${i.object.kind}`), ['MODIFIED Secret']);
  t.deepEqual(a.state(), expected(store, 'a'));
  // Graceful delete (marks), then the agent's grace-0 delete (removes): the pod, then its refs go.
  await feed.one(del('Pod', 'p'));
  h.drain();
  t.deepEqual(a.batches.at(-1)!.items.map((i) => `${i.type} ${i.object.kind}`), ['MODIFIED Pod']);
  await feed.one(del('Pod', 'p', 0));
  h.drain();
  t.deepEqual(a.batches.at(-1)!.items.map((i) => `${i.type} ${i.object.kind}`), ['DELETED Pod', 'DELETED ConfigMap', 'DELETED Secret']);
  t.deepEqual(a.state(), {});
  t.deepEqual(a.duplicates, []);
  t.is(Number(a.batches.at(-1)!.resourceVersion), store.appliedIndex());
});

test('a node\'s own status report is not sent back to it; a status written by anyone else is, and a reconnect brings the latest', async (t) => {
  const { store, feed } = await memStore();
  const h = harness(store);
  const a = new ModelAgent();
  h.connect(a, 'a', '');
  const p = pod('p', 'a');
  await feed.one(create(p));
  h.drain();
  const uid = String(p.metadata.uid);
  const status = (phase: string, reporter?: string): Command => {
    const c: Command = { op: 'updateStatus', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid }, status: { phase } }, precondition: { uid }, now: NOW };
    if (reporter) c.reporter = reporter;
    return c;
  };
  const sent = () => a.batches.flatMap((b) => b.items.map((i) => `${i.type} ${(i.object.status as { phase?: string } | undefined)?.phase ?? ''}`));
  t.deepEqual(sent(), ['ADDED Pending']);
  await feed.one(status('Running', 'a'));
  h.drain();
  t.deepEqual(sent(), ['ADDED Pending'], 'its own report is not echoed');
  await feed.one(status('Failed', 'b'));
  h.drain();
  await feed.one(status('Unknown'));
  h.drain();
  t.deepEqual(sent(), ['ADDED Pending', 'MODIFIED Failed', 'MODIFIED Unknown'], 'a status from another reporter, or from none (a controller), is sent');
  // Anything else that changes goes out, whoever wrote it.
  await feed.one(update({ ...store.get('Pod', 'default', 'p')!, metadata: { name: 'p', namespace: 'default', labels: { x: 'y' } } }));
  h.drain();
  t.is(sent().length, 4);
  await feed.one(status('Running', 'a'));
  h.drain();
  t.is(sent().length, 4);
  // The index kept the newest object: a new stream starts from it.
  const again = new ModelAgent();
  h.connect(again, 'a', '');
  h.drain();
  t.deepEqual(again.state(), expected(store, 'a'));
  t.is((again.held.get('Pod/default/p')!.object.status as { phase: string }).phase, 'Running');
  t.deepEqual(a.duplicates, []);
});

test('statusOnlyChange: the status and resourceVersion alone differ', (t) => {
  const base = pod('q', 'a');
  const next = { ...base, metadata: { ...base.metadata, resourceVersion: '9' }, status: { phase: 'Running' } };
  t.true(statusOnlyChange(base, next));
  t.true(statusOnlyChange(base, { ...base, status: undefined as never }));
  t.false(statusOnlyChange(base, { ...next, metadata: { ...next.metadata, labels: { a: 'b' } } }));
  t.false(statusOnlyChange(base, { ...next, spec: { ...base.spec } }), 'an equal copy of the spec counts as a change');
  const { apiVersion: _v, ...noVersion } = next;
  t.false(statusOnlyChange(base, noVersion as StoredObject));
  const { uid: _u, ...noUid } = next.metadata;
  t.false(statusOnlyChange(base, { ...next, metadata: noUid }));
});

test('changes applied together are coalesced into one batch', async (t) => {
  const { store, feed } = await memStore();
  const h = harness(store);
  const a = new ModelAgent();
  h.connect(a, 'a', '');
  h.drain();
  const cmds: Command[] = [];
  for (let i = 0; i < 20; i++) cmds.push(create(pod(`p${i}`, 'a')));
  await feed.apply(...cmds.slice(0, 10));
  await feed.apply(...cmds.slice(10));
  h.drain();
  t.is(a.batches.length, 2, 'one full batch, then one batch for everything applied meanwhile');
  t.is(a.batches[1]!.items.length, 20);
  t.deepEqual(a.state(), expected(store, 'a'));
});

test('a pod and the object it references created in one apply step: one ADDED each', async (t) => {
  const { store, feed } = await memStore();
  const h = harness(store);
  const a = new ModelAgent();
  h.connect(a, 'a', '');
  h.drain();
  await feed.apply(create(pod('p', 'a', { cms: ['c'] })), create(cm('ConfigMap', 'c', '1')), update(cm('ConfigMap', 'c', '2')));
  h.drain();
  t.deepEqual(a.batches.at(-1)!.items.map((i) => `${i.type} ${keyOf(i.object)}`), ['ADDED ConfigMap/default/c', 'ADDED Pod/default/p']);
  t.deepEqual(a.state(), expected(store, 'a'));
  t.deepEqual(a.duplicates, []);
});

test('resume from a resource_version: the net change since, no gap, no duplicate; too old gives a full set', async (t) => {
  const { store, feed } = await memStore(30);
  await feed.apply(create(cm('ConfigMap', 'keep', '1')), create(cm('ConfigMap', 'gone', '1')), create(cm('Secret', 'sec', '1')));
  await feed.apply(create(pod('stay', 'a', { cms: ['keep'] })), create(pod('leave', 'a', { cms: ['gone'] })), create(pod('same', 'a')));
  const h = harness(store);
  const a = new ModelAgent();
  h.connect(a, 'a', '');
  h.drain();
  const rv = a.rv;
  a.sub!.cancel();
  // While the agent is away.
  await feed.one(del('Pod', 'leave', 0));
  await feed.one(update(cm('ConfigMap', 'keep', '2')));
  await feed.one(create(pod('new', 'a', { secrets: ['sec'] })));
  await feed.one(create(pod('elsewhere', 'b', { cms: ['keep'] })));
  const held = a.state();
  a.batches = [];
  h.connect(a, 'a', rv);
  h.drain();
  t.false(a.batches[0]!.full);
  const items = a.batches[0]!.items.map((i) => `${i.type} ${keyOf(i.object)}`).sort();
  t.deepEqual(items, ['ADDED Pod/default/new', 'ADDED Secret/default/sec', 'DELETED ConfigMap/default/gone', 'DELETED Pod/default/leave', 'MODIFIED ConfigMap/default/keep'].sort());
  t.notDeepEqual(held, a.state());
  t.deepEqual(a.state(), expected(store, 'a'));
  t.deepEqual(a.duplicates, []);
  // Resuming from the latest version sends nothing new.
  a.sub!.cancel();
  a.batches = [];
  h.connect(a, 'a', a.rv);
  h.drain();
  t.deepEqual(a.batches[0]!.items, []);
  // Far behind the kept history: a full set.
  a.sub!.cancel();
  for (let i = 0; i < 40; i++) await feed.one(create(cm('ConfigMap', `noise${i}`, '1')));
  a.batches = [];
  h.connect(a, 'a', rv);
  h.drain();
  t.true(a.batches[0]!.full);
  t.deepEqual(a.state(), expected(store, 'a'));
});

test('model check: random changes, reconnects and resumes keep every agent exactly in line with the store', async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const r = rng(seed);
    const { store, feed } = await memStore(60);
    const h = harness(store);
    const nodes = ['a', 'b', 'c'];
    const agents = new Map(nodes.map((n) => [n, new ModelAgent()]));
    const online = new Map(nodes.map((n) => [n, true]));
    for (const n of nodes) h.connect(agents.get(n)!, n, '');
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const refName = () => `r${Math.floor(r() * 4)}`;
    for (let step = 0; step < 300; step++) {
      const cmds: Command[] = [];
      const count = 1 + Math.floor(r() * 3);
      for (let i = 0; i < count; i++) {
        const x = r();
        const name = `p${Math.floor(r() * 10)}`;
        const cur = store.get('Pod', 'default', name);
        if (x < 0.3) {
          if (cur) cmds.push(del('Pod', name, r() < 0.5 ? 0 : undefined));
          else cmds.push(create(pod(name, r() < 0.8 ? pick(nodes) : undefined, { cms: r() < 0.6 ? [refName()] : [], secrets: r() < 0.4 ? [refName()] : [] })));
        } else if (x < 0.45 && cur && !nodeOf(cur)) {
          cmds.push(update({ ...cur, spec: { ...cur.spec, nodeName: pick(nodes) } } as StoredObject));
        } else if (x < 0.5 && cur) {
          cmds.push({ op: 'updateStatus', object: { ...cur, status: { phase: 'Running', n: step } } as StoredObject, now: NOW });
        } else {
          const kind = r() < 0.5 ? 'ConfigMap' : 'Secret';
          const rn = refName();
          const have = store.get(kind, 'default', rn);
          if (!have) cmds.push(create(cm(kind, rn, String(step))));
          else if (r() < 0.3) cmds.push(del(kind, rn));
          else cmds.push(update({ ...have, data: { v: String(step) } } as StoredObject));
        }
      }
      await feed.apply(...cmds);
      // Agents come and go; a returning agent resumes from its last version (or starts over).
      for (const n of nodes) {
        const ag = agents.get(n)!;
        if (online.get(n) && r() < 0.08) {
          ag.sub!.cancel();
          online.set(n, false);
        } else if (!online.get(n) && r() < 0.3) {
          h.connect(ag, n, r() < 0.9 ? ag.rv : '');
          online.set(n, true);
        }
      }
      h.drain();
      for (const n of nodes) {
        if (!online.get(n)) continue;
        const ag = agents.get(n)!;
        t.deepEqual(ag.state(), expected(store, n), `seed ${seed} step ${step} node ${n}`);
        t.true(Number(ag.rv) <= store.appliedIndex());
      }
    }
    for (const n of nodes) t.deepEqual(agents.get(n)!.duplicates, [], `seed ${seed} node ${n}: no duplicates`);
    t.true([...agents.values()].some((ag) => ag.batches.some((b, i) => i > 0 && !b.full && b.items.length > 0)), 'resumed streams were exercised');
    h.d.stop();
  }
});

test('a slow agent is cut off with RESOURCE_EXHAUSTED instead of buffering forever', async (t) => {
  const { store, feed } = await memStore();
  const h = harness(store, { maxBacklog: 50 });
  const a = new ModelAgent();
  const closed = h.connect(a, 'a', '', () => false);
  h.drain();
  t.is(a.batches.length, 1, 'the first batch went out; the transport is now full');
  for (let i = 0; i < 60; i++) await feed.one(create(pod(`p${i}`, 'a')));
  h.drain();
  t.true(closed.closed);
  t.regex(String(closed.err?.message), /too slow/);
  t.is((closed.err as { code?: number } | undefined)?.code, 8);
  t.is(h.d.streamCount(), 0);
});

test('a blocked stream resumes with everything coalesced once drained', async (t) => {
  const { store, feed } = await memStore();
  const h = harness(store);
  const a = new ModelAgent();
  let open = false;
  h.connect(a, 'a', '', () => open);
  h.drain();
  for (let i = 0; i < 10; i++) await feed.one(create(pod(`p${i}`, 'a')));
  for (let i = 0; i < 10; i++) await feed.one(del('Pod', `p${i}`, 0));
  await feed.one(create(pod('last', 'a')));
  h.drain();
  t.is(a.batches.length, 1);
  open = true;
  a.sub!.resume();
  h.drain();
  t.is(a.batches.length, 2);
  t.deepEqual(a.batches[1]!.items.map((i) => `${i.type} ${keyOf(i.object)}`), ['ADDED Pod/default/last'], 'pods that came and went while blocked are not sent');
  t.deepEqual(a.state(), expected(store, 'a'));
});

test('scale: 1,000 agents and 10,000 pods; a change is routed to the streams of its node only', async (t) => {
  const { store, feed } = await memStore();
  const h = harness(store);
  const nodes = Array.from({ length: 1000 }, (_, i) => `node-${i}`);
  const sends = new Map<string, number>();
  const held = new Map<string, number>();
  for (const n of nodes) {
    h.d.subscribe(n, '', {
      send: (b) => {
        sends.set(n, (sends.get(n) ?? 0) + 1);
        held.set(n, (b.full ? 0 : (held.get(n) ?? 0)) + b.items.filter((i) => i.type === 'ADDED').length - b.items.filter((i) => i.type === 'DELETED').length);
        return true;
      },
      close: () => {},
    });
  }
  h.drain();
  await feed.apply(create(cm('ConfigMap', 'shared', '1')), create(cm('Secret', 'one', '1')));
  for (let i = 0; i < 10_000; i += 1000) {
    const cmds: Command[] = [];
    for (let j = i; j < i + 1000; j++) cmds.push(create(pod(`p${j}`, nodes[j % 1000], j === 7 ? { secrets: ['one'] } : { cms: j % 100 === 0 ? ['shared'] : [] })));
    await feed.apply(...cmds);
    h.drain();
  }
  t.is(h.d.streamCount(), 1000);
  for (const n of nodes) t.is(held.get(n)! - (n === 'node-7' ? 1 : 0) - (Number(n.slice(5)) % 100 === 0 ? 1 : 0), 10, `${n} holds its ten pods`);
  const before = new Map(sends);
  await feed.one(update(cm('Secret', 'one', '2')));
  h.drain();
  const touched = nodes.filter((n) => sends.get(n) !== before.get(n));
  t.deepEqual(touched, ['node-7'], 'only the node whose pod uses the Secret hears of it');
  const before2 = new Map(sends);
  await feed.one(update(cm('ConfigMap', 'shared', '2')));
  h.drain();
  t.is(nodes.filter((n) => sends.get(n) !== before2.get(n)).length, 10, 'the ConfigMap goes to the ten nodes using it');
  h.d.stop();
});

test('podRefs finds volumes, projected sources, env valueFrom and envFrom', (t) => {
  const p: StoredObject = {
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns' },
    spec: {
      volumes: [
        { name: 'a', configMap: { name: 'cm-vol' } },
        { name: 'b', secret: { secretName: 'sec-vol' } },
        { name: 'c', projected: { sources: [{ configMap: { name: 'cm-proj' } }, { secret: { name: 'sec-proj' } }, { downwardAPI: {} }] } },
      ],
      initContainers: [{ name: 'i', envFrom: [{ configMapRef: { name: 'cm-from' } }] }],
      containers: [{ name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec-env', key: 'k' } } }, { name: 'Y', value: 'y' }], envFrom: [{ secretRef: { name: 'sec-from' } }] }],
      imagePullSecrets: [{ name: 'pull' }],
    },
  };
  t.deepEqual(podRefs(p).sort(), [
    'ConfigMap/ns/cm-from',
    'ConfigMap/ns/cm-proj',
    'ConfigMap/ns/cm-vol',
    'Secret/ns/sec-env',
    'Secret/ns/sec-from',
    'Secret/ns/sec-proj',
    'Secret/ns/sec-vol',
  ]);
});

// ---------------------------------------------------------------------------------------
// Liveness and the Ready monitor

class FakeClock implements Clock {
  t = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const x = { at: this.t + ms, fn, live: true };
    this.timers.push(x);
    return () => {
      x.live = false;
    };
  }
  /** Move time forward, running timers as they fall due (and the promises they start). */
  async advance(ms: number, step = 100): Promise<void> {
    const end = this.t + ms;
    while (this.t < end) {
      this.t = Math.min(end, this.t + step);
      for (;;) {
        const due = this.timers.filter((x) => x.live && x.at <= this.t);
        if (due.length === 0) break;
        this.timers = this.timers.filter((x) => !due.includes(x));
        for (const x of due) x.fn();
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setImmediate(r));
    }
  }
}

test('liveness: a new leader gives every node a full grace period from when it became leader', (t) => {
  const clock = new FakeClock();
  const l = new Liveness(() => clock.now());
  t.is(l.silentForMs('n1'), undefined, 'not leader: nothing known');
  l.beat('n1');
  t.false(l.hasBeaten('n1'), 'heartbeats count only on the leader');
  l.becameLeader();
  l.observe('n1');
  clock.t += 5000;
  t.is(l.silentForMs('n1'), 5000);
  l.beat('n1');
  clock.t += 300;
  t.is(l.silentForMs('n1'), 300);
  t.is(l.silentForMs('never'), undefined);
  l.lostLeadership();
  clock.t += 60_000;
  l.becameLeader();
  l.observe('n1');
  clock.t += 1000;
  t.is(l.silentForMs('n1'), 1000, 'the old leadership\'s heartbeats do not count');
});

test('node monitor: Ready=True on heartbeats, Unknown once after the grace period, written only on change', async (t) => {
  const clock = new FakeClock();
  const { store, feed } = await memStore();
  await feed.one(create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1-uid' }, status: {} }));
  await feed.one(create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2', uid: 'n2-uid' }, status: {} }));
  let writes = 0;
  store.watch({ kind: 'Node' }, (ev) => {
    if (ev.type === 'MODIFIED') writes++;
  });
  const liveness = new Liveness(() => clock.now());
  liveness.becameLeader();
  const ac = new AbortController();
  const monitor = new NodeMonitor({
    store,
    liveness,
    clock,
    gracePeriodMs: 4000,
    checkEveryMs: 500,
    writeStatus: async (node) => {
      const r = await feed.one({ op: 'updateStatus', object: node as StoredObject, precondition: { resourceVersion: String((node.metadata as { resourceVersion: string }).resourceVersion) }, now: NOW });
      if (!r.ok) throw new Error(r.message);
      return r.object;
    },
  });
  monitor.start(ac.signal);
  // n1 heartbeats every 300 ms for 10 s; n2 says nothing.
  for (let i = 0; i < 33; i++) {
    liveness.beat('n1');
    monitor.poke();
    await clock.advance(300);
  }
  const n1 = store.get('Node', '', 'n1')!;
  const n2 = store.get('Node', '', 'n2')!;
  t.is(readyCondition(n1)?.status, 'True');
  t.is(readyCondition(n2)?.status, 'Unknown');
  t.is(readyCondition(n2)?.reason, UNKNOWN_REASON);
  t.is(readyCondition(n2)?.message, UNKNOWN_MESSAGE);
  t.is(writes, 2, 'one write per node: n1 True, n2 Unknown');
  // n1 falls silent: Unknown exactly once however long it stays silent.
  await clock.advance(20_000);
  t.is(readyCondition(store.get('Node', '', 'n1')!)?.status, 'Unknown');
  t.is(writes, 3);
  t.is(readyCondition(store.get('Node', '', 'n1')!)?.lastHeartbeatTime, readyCondition(n1)?.lastHeartbeatTime, 'Unknown keeps the last heartbeat time');
  // It comes back.
  liveness.beat('n1');
  monitor.poke();
  await clock.advance(100);
  t.is(readyCondition(store.get('Node', '', 'n1')!)?.status, 'True');
  t.is(writes, 4);
  ac.abort();
  // After a leader change nobody is judged before a full grace period.
  liveness.lostLeadership();
  liveness.becameLeader();
  const ac2 = new AbortController();
  const m2 = new NodeMonitor({ store, liveness, clock, gracePeriodMs: 4000, checkEveryMs: 500, writeStatus: async () => writes++ });
  m2.start(ac2.signal);
  for (let i = 0; i < 10; i++) {
    liveness.beat('n1');
    await clock.advance(300);
  }
  t.is(writes, 4, 'n1 heartbeats to the new leader: nothing written; n2 still within its fresh grace period');
  ac2.abort();
});

// ---------------------------------------------------------------------------------------
// Status writer

test('status writer: many reports in few proposals; a stale one is dropped and the rest retried; finished deletions complete', async (t) => {
  const { store, feed } = await memStore();
  const pods: StoredObject[] = [];
  for (let i = 0; i < 50; i++) pods.push(pod(`p${i}`, 'n1'));
  await feed.apply(...pods.map(create));
  await feed.one(del('Pod', 'p0'));
  t.truthy(store.get('Pod', 'default', 'p0')?.metadata.deletionTimestamp, 'p0 is being deleted');
  const queue: (() => void)[] = [];
  const w = new StatusWriter({
    propose: async (cmd: Command): Promise<Result> => feed.one(cmd),
    now: () => NOW,
    term: () => 7,
    notLeader: () => new Error('not leader'),
    defer: (fn) => queue.push(fn),
  });
  const reports = pods.map((p, i) => ({
    namespace: 'default',
    name: p.metadata.name,
    // p7 reports a uid the store no longer has.
    uid: i === 7 ? 'stale-uid' : String(p.metadata.uid),
    status: i === 0 ? { phase: 'Running', containerStatuses: [{ name: 'c', state: { terminated: { exitCode: 0 } } }] } : { phase: 'Running', podIP: `10.0.0.${i}` },
    complete: i === 0,
    size: 100,
  }));
  const a = w.submit(reports.slice(0, 25));
  const b = w.submit(reports.slice(25));
  while (queue.length > 0) queue.shift()!();
  const [oa, ob] = await Promise.all([a, b]);
  t.is(w.proposals, 2, 'one proposal failed (p7), then the rest went through in one more');
  t.is(oa[7], 'dropped');
  t.deepEqual(
    [...oa, ...ob].filter((o) => o !== 'written').length,
    1,
  );
  t.is(store.get('Pod', 'default', 'p0'), undefined, 'the finished pod being deleted is gone');
  t.is((store.get('Pod', 'default', 'p3')!.status as { podIP?: string }).podIP, '10.0.0.3');
  t.is((store.get('Pod', 'default', 'p7')!.status as { phase?: string }).phase, 'Pending');
});

test('status writer: every write carries the leader\'s term; a batch lost with the leadership is not reported as stale', async (t) => {
  const { store, feed } = await memStore();
  const p = pod('p', 'n1');
  await feed.one(create(p));
  let term: number | undefined = 3;
  const seen: Command[] = [];
  const w = new StatusWriter({
    propose: async (cmd: Command): Promise<Result> => {
      seen.push(cmd);
      term = 4;
      return { ok: false, code: 'Conflict', message: 'decided in term 3 but committed in term 4', failed: [0], results: [] };
    },
    now: () => NOW,
    term: () => term,
    notLeader: () => new Error('not the leader any more'),
  });
  const e = await w.submit([{ namespace: 'default', name: 'p', uid: String(p.metadata.uid), status: { phase: 'Running' }, complete: false, size: 10 }]).catch((x: Error) => x);
  t.is((e as Error).message, 'not the leader any more');
  t.deepEqual((seen[0] as { commands: { precondition: unknown }[] }).commands[0]!.precondition, { uid: p.metadata.uid, term: 3 });
  term = undefined;
  const e2 = await w.submit([{ namespace: 'default', name: 'p', uid: String(p.metadata.uid), status: { phase: 'Running' }, complete: false, size: 10 }]).catch((x: Error) => x);
  t.is((e2 as Error).message, 'not the leader any more');
  t.is(seen.length, 1, 'nothing proposed when not leading');
  t.is((store.get('Pod', 'default', 'p')!.status as { phase: string }).phase, 'Pending');
});

test('allStopped: finished, or no container running or waiting', (t) => {
  const p = pod('x', 'n', {});
  t.true(allStopped(p, { phase: 'Failed' }));
  t.true(allStopped(p, { phase: 'Running', containerStatuses: [{ name: 'c', state: { terminated: { exitCode: 137 } } }] }));
  t.true(allStopped(p, { phase: 'Pending' }), 'never started');
  t.false(allStopped(p, { phase: 'Running', containerStatuses: [{ name: 'c', state: { running: {} } }] }));
  t.false(allStopped(p, { phase: 'Pending', containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ContainerCreating' } } }] }));
});

test('usage: latest sample per pod and node; a node\'s report replaces its pod set; old samples expire', (t) => {
  let now = 1000;
  const u = new UsageStore(() => now, 60_000);
  u.record('n1', { cpuMillicores: 500, memoryBytes: 1 << 30 }, [
    { namespace: 'default', name: 'a', uid: 'ua', containers: [{ name: 'c', cpuMillicores: 100, memoryBytes: 1 << 20 }] },
    { namespace: 'default', name: 'b', uid: 'ub', containers: [{ name: 'c', cpuMillicores: 50, memoryBytes: 1 << 20 }] },
  ]);
  t.deepEqual(u.podUsage('default', 'a'), { timestamp: 1000, containers: [{ name: 'c', cpuMillicores: 100, memoryBytes: 1 << 20 }] });
  now = 2000;
  u.record('n1', undefined, [{ namespace: 'default', name: 'a', uid: 'ua', containers: [{ name: 'c', cpuMillicores: 200, memoryBytes: 1 << 20 }] }]);
  t.is(u.podUsage('default', 'a')?.containers[0]!.cpuMillicores, 200);
  t.is(u.podUsage('default', 'b'), undefined, 'b is no longer reported by its node');
  t.is(u.nodeSample('n1')?.cpuMillicores, 500);
  now = 100_000;
  t.is(u.podUsage('default', 'a'), undefined);
  t.is(u.nodeSample('n1'), undefined);
});

test('a reported pod status is checked as validateObject checks the pod with that status', (t) => {
  // As stored: defaulted and admitted.
  const pod = defaultObject({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u1', resourceVersion: '5', generation: 1, creationTimestamp: NOW },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m' } } }] },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  } as unknown as ApiObject);
  t.deepEqual(validateObject(pod), []);
  const statuses: Record<string, unknown>[] = [
    { phase: 'Running', podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: NOW }], containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: NOW } } }] },
    { phase: 7 },
    { conditions: 'ready' },
    { containerStatuses: [{ name: 3, restartCount: 'x' }] },
    { startTime: 'yesterday', unknownField: true },
    {},
  ];
  for (const st of statuses) {
    const full = validateObject({ ...pod, status: st }, { operation: 'update', old: pod as unknown as ApiObject }).map(String).sort();
    const mine = podStatusErrors(st).map(String).sort();
    t.deepEqual(mine, full, JSON.stringify(st));
  }
  t.true(podStatusErrors({ phase: 7 }).length > 0);
});
