import test from 'ava';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { Binding, BindResult, Cluster, ClusterConfig, ControllerContext, PlainObject } from '../src/controllers/types.ts';
import { bindingFits } from '../src/scheduler/fit.ts';
import { Scheduler, type SchedulerOptions } from '../src/scheduler/scheduler.ts';
import { node, pod, type NodeOpts, type PodOpts } from './scheduler-fixtures.ts';

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  s: Scheduler;
}

async function env(config: Partial<ClusterConfig> = {}, opts: SchedulerOptions = {}): Promise<Env> {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock, bindCheck: bindingFits });
  return { clock, cluster, ctx: testContext(cluster, clock, { config }), s: new Scheduler(opts) };
}

const addNodes = (c: Cluster, specs: [string, NodeOpts?][]) => Promise.all(specs.map(([n, o]) => c.create(node(n, o))));
const addPods = (c: Cluster, n: number, prefix: string, o: PodOpts) => Promise.all(Array.from({ length: n }, (_, i) => c.create(pod(`${prefix}${i}`, o))));

const meta = (p: PlainObject) => p.metadata as { name: string; uid: string; resourceVersion: string; deletionTimestamp?: string };
const nodeOf = (p: PlainObject | undefined) => (p?.spec as { nodeName?: string } | undefined)?.nodeName;
const conditionOf = (p: PlainObject | undefined) => ((p?.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'PodScheduled');

/** Pods per node (nodes with none included). */
function perNode(cluster: LocalCluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of cluster.list('Node')) out[meta(n).name] = 0;
  for (const p of cluster.list('Pod')) {
    const n = nodeOf(p);
    if (n) out[n] = (out[n] ?? 0) + 1;
  }
  return out;
}

const fiveNodes: [string, NodeOpts][] = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => [n, { cpu: '4', memory: '8Gi' }]);

test('LeastAllocated spreads 30 pods evenly over 5 nodes', async (t) => {
  const { cluster, ctx, s } = await env({ scoringStrategy: 'LeastAllocated' });
  await addNodes(cluster, fiveNodes);
  await addPods(cluster, 30, 'web-', { cpu: '500m', memory: '1Gi' });
  s.start(ctx);
  await s.idle();
  t.deepEqual(perNode(cluster), { n1: 6, n2: 6, n3: 6, n4: 6, n5: 6 });
  t.is(ctx.events.withReason('Scheduled').length, 30);
  t.is(s.stats.bindFailures, 0);
  t.regex(ctx.events.withReason('Scheduled')[0]!.message, /^Successfully assigned default\/web-\d+ to n\d$/);
});

test('MostAllocated packs 30 pods onto as few nodes as possible', async (t) => {
  const { cluster, ctx, s } = await env({ scoringStrategy: 'MostAllocated' });
  await addNodes(cluster, fiveNodes);
  await addPods(cluster, 30, 'batch-', { cpu: '500m', memory: '1Gi' });
  s.start(ctx);
  await s.idle();
  // 8 fit per node: 30 pods need 4 nodes, filled one after another.
  t.deepEqual(Object.values(perNode(cluster)).sort((a, b) => b - a), [8, 8, 8, 6, 0]);
});

test('pods arriving while the scheduler runs are placed as they come, in one batch per turn', async (t) => {
  const { cluster, ctx, s } = await env();
  await addNodes(cluster, fiveNodes);
  s.start(ctx);
  await addPods(cluster, 10, 'a-', { cpu: '100m' });
  await s.idle();
  await addPods(cluster, 10, 'b-', { cpu: '100m' });
  await s.idle();
  t.is(Object.values(perNode(cluster)).reduce((a, b) => a + b, 0), 20);
  t.true(s.stats.batches <= 20);
});

test("a pod that fits nowhere gets Kubernetes' message, once, and is scheduled when a node is added", async (t) => {
  const { cluster, clock, ctx, s } = await env();
  const gpu = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  await addNodes(cluster, [['a', { cpu: '1' }], ['b', { cpu: '1' }], ['c', { cpu: '1' }], ['g1', { taints: [gpu] }], ['g2', { taints: [gpu] }]]);
  await cluster.create(pod('big', { cpu: '2' }));
  s.start(ctx);
  await s.idle();
  const want = '0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient cpu.';
  const p = cluster.get('Pod', 'default', 'big')!;
  t.is(nodeOf(p), undefined);
  t.like(conditionOf(p), { status: 'False', reason: 'Unschedulable', message: want });
  t.deepEqual(ctx.events.withReason('FailedScheduling').map((e) => [e.type, e.message]), [['Warning', want]]);
  const rv = meta(p).resourceVersion;

  // A change that does not help: the pod is retried, the message is the same, nothing is written.
  const a = cluster.get('Node', '', 'a')!;
  await cluster.update({ ...a, metadata: { ...(a.metadata as object), labels: { ...(a.metadata as { labels: object }).labels, tier: 'x' } } });
  await s.idle();
  t.is(s.stats.unschedulable, 1, 'moved, but its back-off (1 s) is not over yet');
  await clock.advance(1000);
  await s.idle();
  t.is(s.stats.unschedulable, 2);
  t.is(meta(cluster.get('Pod', 'default', 'big')!).resourceVersion, rv, 'status written only when the message changes');

  await cluster.create(node('roomy', { cpu: '8' }));
  await clock.advance(2000); // its second back-off
  await s.idle();
  t.is(nodeOf(cluster.get('Pod', 'default', 'big')), 'roomy');
  t.is(ctx.events.withReason('Scheduled').at(-1)!.message, 'Successfully assigned default/big to roomy');
});

test('a pod that was refused for its taint waits through back-off and unrelated events, and is scheduled when the taint goes', async (t) => {
  const { cluster, clock, ctx, s } = await env();
  await addNodes(cluster, [['g', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }]]);
  await cluster.create(pod('p'));
  s.start(ctx);
  await s.idle();
  t.is(s.pending().unschedulable, 1);
  // Another pod comes and goes: no help for a taint, the pod stays parked.
  await cluster.create(pod('other', { nodeName: 'g' }));
  await cluster.delete('Pod', 'default', 'other', { gracePeriodSeconds: 0 });
  await clock.advance(15_000);
  await s.idle();
  t.is(s.stats.attempts, 1);
  const g = cluster.get('Node', '', 'g')!;
  await cluster.update({ ...g, spec: {} });
  await clock.advance(2_000); // past any back-off
  await s.idle();
  t.is(nodeOf(cluster.get('Pod', 'default', 'p')), 'g');
});

test('decisions of one batch see each other (assumed pods): no binding is refused', async (t) => {
  const { cluster, ctx, s } = await env();
  await addNodes(cluster, [['n', { cpu: '2' }]]);
  await addPods(cluster, 5, 'p', { cpu: '1' });
  s.start(ctx);
  await s.idle();
  t.deepEqual(perNode(cluster), { n: 2 });
  t.is(s.stats.bindFailures, 0);
  t.is(s.stats.batches, 1);
  t.is(s.pending().unschedulable, 3);
});

test('preemption evicts the fewest pods of the lowest priority on one node, and the pod lands there', async (t) => {
  const { cluster, clock, ctx, s } = await env();
  await addNodes(cluster, [['a', { cpu: '4' }], ['b', { cpu: '4' }], ['c', { cpu: '4' }]]);
  const bound: [string, string, number, string][] = [
    ['a1', 'a', 5, '1'],
    ['a2', 'a', 5, '1'],
    ['a3', 'a', 5, '1'],
    ['a4', 'a', 5, '1'],
    ['b1', 'b', 1, '1'],
    ['b2', 'b', 1, '1'],
    ['b3', 'b', 10, '2'],
    ['c1', 'c', 1, '2'],
    ['c2', 'c', 10, '2'],
  ];
  for (const [name, nodeName, priority, cpu] of bound) await cluster.create(pod(name, { nodeName, priority, cpu }));
  await cluster.create(pod('vip', { cpu: '2', priority: 100 }));
  await cluster.create(pod('meek', { cpu: '2', priority: 100, preemptionPolicy: 'Never' }));
  s.start(ctx);
  await s.idle();

  // Node a would cost two priority-5 pods, b two priority-1 pods, c one priority-1 pod.
  const marked = cluster.list('Pod').filter((p) => meta(p).deletionTimestamp !== undefined).map((p) => meta(p).name);
  t.deepEqual(marked, ['c1']);
  t.is((cluster.get('Pod', 'default', 'vip')!.status as { nominatedNodeName?: string }).nominatedNodeName, 'c');
  t.like(conditionOf(cluster.get('Pod', 'default', 'meek')), { reason: 'Unschedulable' });
  t.is((cluster.get('Pod', 'default', 'meek')!.status as { nominatedNodeName?: string }).nominatedNodeName, undefined, 'preemptionPolicy Never');
  t.deepEqual(ctx.events.withReason('Preempted').map((e) => meta(e.object).name), ['c1']);
  t.is(s.stats.preemptions, 1, 'the victim is still terminating: no second preemption');

  // The agent finishes the victim; the room appears and the nominated pod takes it, not the other.
  await cluster.delete('Pod', 'default', 'c1', { gracePeriodSeconds: 0 });
  await clock.advance(1000);
  await s.idle();
  t.is(nodeOf(cluster.get('Pod', 'default', 'vip')), 'c');
  t.is(nodeOf(cluster.get('Pod', 'default', 'meek')), undefined);
});

/** A Cluster whose bindings wait until released (two decisions in flight at once). */
class GatedCluster implements Cluster {
  private waiting: (() => void)[] = [];
  constructor(private readonly inner: LocalCluster) {}
  get held(): number {
    return this.waiting.length;
  }
  release(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }
  async bind(b: Binding[]): Promise<BindResult[]> {
    await new Promise<void>((r) => this.waiting.push(r));
    return this.inner.bind(b);
  }
  get: Cluster['get'] = (...a) => this.inner.get(...a);
  list: Cluster['list'] = (...a) => this.inner.list(...a);
  watch: Cluster['watch'] = (...a) => this.inner.watch(...a);
  create: Cluster['create'] = (o) => this.inner.create(o);
  update: Cluster['update'] = (o) => this.inner.update(o);
  updateStatus: Cluster['updateStatus'] = (o) => this.inner.updateStatus(o);
  delete: Cluster['delete'] = (...a) => this.inner.delete(...a);
}

test('two racing decisions never overcommit a node: the store refuses one binding and that pod is retried', async (t) => {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock, bindCheck: bindingFits });
  const gated = new GatedCluster(cluster);
  await addNodes(cluster, [['n', { cpu: '1' }]]);
  // Two schedulers that do not see each other's pods (as two leaders, or two profiles, would not).
  await cluster.create(pod('a', { cpu: '1', schedulerName: 'sched-a' }));
  await cluster.create(pod('b', { cpu: '1', schedulerName: 'sched-b' }));
  const ctxA: ControllerContext = { ...testContext(cluster, clock), cluster: gated };
  const ctxB: ControllerContext = { ...testContext(cluster, clock), cluster: gated };
  const sa = new Scheduler({ schedulerNames: ['sched-a'] });
  const sb = new Scheduler({ schedulerNames: ['sched-b'] });
  let maxOnNode = 0;
  cluster.watch('Pod', () => {
    const cpu = cluster.list('Pod').filter((p) => nodeOf(p) === 'n').length;
    maxOnNode = Math.max(maxOnNode, cpu);
  });
  sa.start(ctxA);
  sb.start(ctxB);
  await flush();
  t.is(gated.held, 2, 'both decided the same node before either binding landed');
  gated.release();
  await flush();
  await Promise.all([sa.idle(), sb.idle()]);
  t.is(sa.stats.bindFailures + sb.stats.bindFailures, 1);
  t.is(maxOnNode, 1);
  const loser = sa.stats.bindFailures === 1 ? { s: sa, name: 'a' } : { s: sb, name: 'b' };
  t.is(nodeOf(cluster.get('Pod', 'default', loser.name)), undefined);
  // Retried after its back-off, on a view that now has the winner: unschedulable.
  await clock.advance(1000);
  gated.release();
  await flush();
  await loser.s.idle();
  t.is(loser.s.stats.attempts, 2);
  t.like(conditionOf(cluster.get('Pod', 'default', loser.name)), { reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.' });
  t.deepEqual(perNode(cluster), { n: 1 });
});

test('only unbound pods of our scheduler names, not being deleted, are scheduled', async (t) => {
  const { cluster, ctx, s } = await env();
  await addNodes(cluster, [['n']]);
  await cluster.create(pod('ours', {}));
  await cluster.create(pod('named', { schedulerName: 'berth-scheduler' }));
  await cluster.create(pod('theirs', { schedulerName: 'other-scheduler' }));
  s.start(ctx);
  await s.idle();
  t.is(nodeOf(cluster.get('Pod', 'default', 'ours')), 'n');
  t.is(nodeOf(cluster.get('Pod', 'default', 'named')), 'n');
  t.is(nodeOf(cluster.get('Pod', 'default', 'theirs')), undefined);
  t.is(conditionOf(cluster.get('Pod', 'default', 'theirs')), undefined);
});

test('finished and deleted pods free their room for waiting pods', async (t) => {
  const { cluster, clock, ctx, s } = await env();
  await addNodes(cluster, [['n', { cpu: '1' }]]);
  const done = await cluster.create(pod('job', { nodeName: 'n', cpu: '1' }));
  await cluster.create(pod('next', { cpu: '1' }));
  await clock.advance(1000); // creation times are in seconds
  await cluster.create(pod('last', { cpu: '1' }));
  s.start(ctx);
  await s.idle();
  t.deepEqual(perNode(cluster), { n: 1 });
  await cluster.updateStatus({ ...done, status: { phase: 'Succeeded' } });
  await clock.advance(1000);
  await s.idle();
  const placed = ['next', 'last'].filter((n) => nodeOf(cluster.get('Pod', 'default', n)) === 'n');
  t.deepEqual(placed, ['next'], 'the older of the two');
});

test('a new leader puts the listed pods in its cache over several turns; changes meanwhile are applied after, in order', async (t) => {
  const { cluster, ctx, s } = await env({}, { startChunk: 1 });
  await addNodes(cluster, [['n1', { cpu: '4' }], ['n2', { cpu: '2' }]]);
  // Room already taken: 3 cpu on n1, 1 cpu on n2.
  for (let i = 0; i < 3; i++) await cluster.create(pod(`b${i}`, { cpu: '1', nodeName: 'n1' }));
  await cluster.create(pod('b3', { cpu: '1', nodeName: 'n2' }));
  await addPods(cluster, 5, 'small-', { cpu: '100m' });
  // Needs all of n2: fits only once b3 is gone (and goes first).
  await cluster.create(pod('big', { cpu: '2', priority: 100 }));
  s.start(ctx);
  t.true(s.loading, 'the listing is not put in the cache in one turn');
  await cluster.delete('Pod', 'default', 'b3', { gracePeriodSeconds: 0 });
  await cluster.create(pod('late', { cpu: '400m' }));
  t.true(s.loading, 'the changes came while loading');
  t.is(s.stats.attempts, 0, 'nothing is scheduled before the cache is complete');
  await s.idle();
  t.false(s.loading);
  t.is(s.stats.bindFailures, 0);
  t.is(nodeOf(cluster.get('Pod', 'default', 'big')), 'n2');
  const cpu: Record<string, number> = { n1: 0, n2: 0 };
  for (const p of cluster.list('Pod')) {
    const n = nodeOf(p);
    t.truthy(n, `${meta(p).name} is placed`);
    const req = (((p.spec as { containers: { resources?: { requests?: { cpu?: string } } }[] }).containers[0]!.resources?.requests?.cpu) ?? '0');
    cpu[n!]! += req.endsWith('m') ? Number(req.slice(0, -1)) : Number(req) * 1000;
  }
  t.true(cpu.n1! <= 4000 && cpu.n2! <= 2000, JSON.stringify(cpu));
  t.is(cpu.n1! + cpu.n2!, 3000 + 500 + 2000 + 400);
});

test('losing leadership stops the scheduler at once', async (t) => {
  const { cluster, clock, ctx, s } = await env();
  await addNodes(cluster, [['n']]);
  s.start(ctx);
  await s.idle();
  ctx.abort();
  await cluster.create(pod('late'));
  await clock.advance(60_000);
  await s.idle();
  t.is(nodeOf(cluster.get('Pod', 'default', 'late')), undefined);
  t.is(clock.pending, 0);
});
