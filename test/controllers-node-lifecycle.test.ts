import test from 'ava';
import {
  NodeLifecycleController,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_UNSCHEDULABLE,
  TokenBucket,
  computeZoneState,
  evictionTime,
} from '../src/controllers/node-lifecycle.ts';
import { formatTime } from '../src/controllers/pod-util.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { Logger } from '../src/controllers/types.ts';
import type { Taint, Toleration } from '../src/api/index.ts';

// ---- pure -------------------------------------------------------------------------------------

test('zone state: partial at the threshold with more than two down, full when none is ready', (t) => {
  t.is(computeZoneState(10, 0, 0.55), 'Normal');
  t.is(computeZoneState(8, 2, 0.55), 'Normal');
  t.is(computeZoneState(1, 2, 0.55), 'Normal', 'two down never disrupts a zone');
  t.is(computeZoneState(4, 6, 0.55), 'PartialDisruption');
  t.is(computeZoneState(5, 5, 0.55), 'Normal');
  t.is(computeZoneState(0, 3, 0.55), 'FullDisruption');
});

test('token bucket: burst 1, then one per 1/rate seconds; rate 0 never', (t) => {
  const b = new TokenBucket(0.1, 1, 0);
  t.true(b.tryTake(0));
  t.false(b.tryTake(5000));
  t.is(b.nextAt(5000), 10_000);
  t.true(b.tryTake(10_000));
  b.setRate(0, 10_000);
  t.false(b.tryTake(100_000));
  t.is(b.nextAt(100_000), undefined);
  b.setRate(0.1, 200_000);
  t.true(b.tryTake(200_000), 'a restarted limiter starts full');
});

test('eviction time: tolerationSeconds, the admission default, forever, untolerated', (t) => {
  const unreachable: Taint = { key: TAINT_UNREACHABLE, effect: 'NoExecute' };
  const custom: Taint = { key: 'example.com/drain', effect: 'NoExecute' };
  const start = () => 1000_000;
  const tol = (seconds?: number): Toleration => ({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}) });
  t.is(evictionTime([], [unreachable], 300, start), 1000_000 + 300_000);
  t.is(evictionTime([tol(60)], [unreachable], 300, start), 1000_000 + 60_000);
  t.is(evictionTime([tol()], [unreachable], 300, start), Number.POSITIVE_INFINITY);
  t.is(evictionTime([{ operator: 'Exists' }], [unreachable, custom], 300, start), Number.POSITIVE_INFINITY, 'tolerate everything');
  t.is(evictionTime([tol()], [unreachable, custom], 300, start), 1000_000, 'an untolerated taint evicts at once');
  t.is(evictionTime([{ key: TAINT_UNREACHABLE, operator: 'Equal', value: 'x', effect: 'NoExecute', tolerationSeconds: 5 }], [unreachable], 300, start), 1000_000 + 300_000, 'a value mismatch does not tolerate');
});

// ---- the controller ------------------------------------------------------------------------------

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  nlc: NodeLifecycleController;
  warnings: string[];
  /** Nodes that keep sending heartbeats. */
  alive: Set<string>;
  settle(): Promise<void>;
  /** Advance in 1 s steps, with heartbeats from the live nodes. */
  run(ms: number): Promise<void>;
}

async function setup(nodes: number, config: Record<string, number> = {}): Promise<Env> {
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock });
  const warnings: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
  const ctx = testContext(cluster, clock, { config, log });
  const alive = new Set<string>();
  for (let i = 0; i < nodes; i++) {
    const name = `n${i}`;
    await cluster.create({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'topology.kubernetes.io/zone': 'z1' } },
      status: { capacity: { cpu: '8', memory: '16Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(clock.now()) }] },
    });
    alive.add(name);
    ctx.liveness.heartbeat(name);
  }
  const nlc = new NodeLifecycleController();
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      const before = cluster.proposals;
      await flush();
      await nlc.idle();
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controller did not settle');
  };
  const run = async (ms: number) => {
    for (let left = ms; left > 0; left -= 1000) {
      for (const n of alive) ctx.liveness.heartbeat(n);
      await clock.advance(Math.min(1000, left));
      await settle();
    }
  };
  return { clock, cluster, ctx, nlc, warnings, alive, settle, run };
}

async function podOn(env: Env, name: string, node: string, tolerations?: Toleration[]): Promise<void> {
  const p = await env.cluster.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'nginx:1' }], ...(tolerations ? { tolerations } : {}) },
  });
  const [r] = await env.cluster.bind([{ namespace: 'default', name, uid: (p.metadata as { uid: string }).uid, nodeName: node }]);
  if (!r!.ok) throw new Error(r!.message);
  const cur = env.cluster.get('Pod', 'default', name)!;
  await env.cluster.updateStatus({
    ...structuredClone(cur),
    status: { phase: 'Running', podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(env.clock.now()) }] },
  });
}

const taints = (env: Env, node: string) => ((env.cluster.get('Node', '', node)!.spec as { taints?: Taint[] } | undefined)?.taints ?? []);
const noExecute = (env: Env, node: string) => taints(env, node).filter((t) => t.effect === 'NoExecute');
const evicted = (env: Env, pod: string) => {
  const p = env.cluster.get('Pod', 'default', pod);
  return !p || Boolean((p.metadata as { deletionTimestamp?: string }).deletionTimestamp);
};
const podReady = (env: Env, pod: string) => ((env.cluster.get('Pod', 'default', pod)!.status as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === 'Ready')!.status);

test('a silent node is tainted unreachable; its pods go when their toleration runs out', async (t) => {
  const env = await setup(4);
  await podOn(env, 'plain', 'n1');
  await podOn(env, 'short', 'n1', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }]);
  await podOn(env, 'forever', 'n1', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }]);
  await podOn(env, 'elsewhere', 'n2');
  env.nlc.start(env.ctx);
  await env.settle();
  t.deepEqual(taints(env, 'n1'), []);

  env.alive.delete('n1');
  const down = env.clock.now();
  await env.run(40_000);
  t.deepEqual(taints(env, 'n1'), [], 'not before the grace period');
  await env.run(5000); // health is looked at every 5 s
  t.true(noExecute(env, 'n1').length > 0);
  const at = Date.parse(noExecute(env, 'n1')[0]!.timeAdded!);
  t.true(at - down > 40_000 && at - down <= 45_000);
  await env.run(at - env.clock.now());
  t.deepEqual(
    taints(env, 'n1').map((x) => `${x.key}:${x.effect}`).sort(),
    [`${TAINT_UNREACHABLE}:NoExecute`, `${TAINT_UNREACHABLE}:NoSchedule`],
  );
  t.is(noExecute(env, 'n1')[0]!.timeAdded, formatTime(at));
  t.is(podReady(env, 'plain'), 'False', 'pods on the node are marked not ready');

  await env.run(59_000);
  t.false(evicted(env, 'short'));
  await env.run(1000);
  t.true(evicted(env, 'short'), 'evicted after its 60 s');
  t.false(evicted(env, 'plain'));
  await env.run(239_000);
  t.false(evicted(env, 'plain'));
  await env.run(1000);
  t.true(evicted(env, 'plain'), 'evicted after the default 300 s');
  await env.run(600_000);
  t.false(evicted(env, 'forever'));
  t.false(evicted(env, 'elsewhere'));
  t.is(env.ctx.events.withReason('TaintManagerEviction').length, 2);

  // It comes back: taints go.
  env.alive.add('n1');
  await env.run(5000);
  t.deepEqual(taints(env, 'n1'), []);
});

test('a node reporting Ready False gets the not-ready taints; unschedulable gets its own', async (t) => {
  const env = await setup(3);
  env.nlc.start(env.ctx);
  await env.settle();
  const n = env.cluster.get('Node', '', 'n0')!;
  await env.cluster.updateStatus({ ...structuredClone(n), status: { ...(n.status as object), conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: formatTime(env.clock.now()) }] } });
  await env.run(1000);
  t.deepEqual(taints(env, 'n0').map((x) => `${x.key}:${x.effect}`).sort(), [`${TAINT_NOT_READY}:NoExecute`, `${TAINT_NOT_READY}:NoSchedule`]);

  const m = env.cluster.get('Node', '', 'n1')!;
  await env.cluster.update({ ...structuredClone(m), spec: { unschedulable: true } });
  await env.run(1000);
  t.deepEqual(taints(env, 'n1').map((x) => `${x.key}:${x.effect}`), [`${TAINT_UNSCHEDULABLE}:NoSchedule`]);
  const m2 = env.cluster.get('Node', '', 'n1')!;
  await env.cluster.update({ ...structuredClone(m2), spec: { ...(m2.spec as object), unschedulable: false } });
  await env.run(1000);
  t.deepEqual(taints(env, 'n1'), []);
});

test('NoExecute taints are rate-limited: one node per 10 s at 0.1/s', async (t) => {
  const env = await setup(10);
  env.nlc.start(env.ctx);
  await env.settle();
  for (const n of ['n1', 'n2', 'n3']) env.alive.delete(n);
  const tainted = () => ['n1', 'n2', 'n3'].filter((n) => noExecute(env, n).length > 0);
  while (tainted().length === 0) await env.run(1000);
  const first = env.clock.now();
  t.is(tainted().length, 1);
  t.is(taints(env, 'n2').filter((x) => x.effect === 'NoSchedule').length + taints(env, 'n3').filter((x) => x.effect === 'NoSchedule').length, 2, 'NoSchedule at once for all');
  await env.run(9000);
  t.is(tainted().length, 1);
  await env.run(1000);
  t.is(tainted().length, 2);
  await env.run(10_000);
  t.is(tainted().length, 3);
  const times = ['n1', 'n2', 'n3'].map((n) => Date.parse(noExecute(env, n)[0]!.timeAdded!) - first).sort((a, b) => a - b);
  t.deepEqual(times, [0, 10_000, 20_000]);
});

test('no eviction when most nodes are down at once (partial disruption)', async (t) => {
  const env = await setup(10);
  for (let i = 0; i < 6; i++) await podOn(env, `p${i}`, `n${i}`);
  env.nlc.start(env.ctx);
  await env.settle();
  for (let i = 0; i < 6; i++) env.alive.delete(`n${i}`);
  await env.run(45_000);
  t.is(env.nlc.zones.get(':z1'), 'PartialDisruption');
  for (let i = 0; i < 6; i++) {
    t.deepEqual(noExecute(env, `n${i}`), [], 'no NoExecute taint');
    t.is(taints(env, `n${i}`)[0]?.key, TAINT_UNREACHABLE, 'but NoSchedule still');
  }
  await env.run(600_000);
  for (let i = 0; i < 6; i++) t.false(evicted(env, `p${i}`));
  t.true(env.ctx.events.withReason('EvictionsStopped').length >= 6);
  t.true(env.warnings.some((w) => w.includes('PartialDisruption')));
});

test('when every node is down the leader assumes it is cut off: taints lifted, nothing evicted', async (t) => {
  const env = await setup(3);
  await podOn(env, 'a', 'n0');
  await podOn(env, 'b', 'n1');
  env.nlc.start(env.ctx);
  await env.settle();
  env.alive.delete('n0');
  await env.run(45_000);
  t.is(noExecute(env, 'n0').length, 1, 'one node down: tainted');
  env.alive.clear();
  await env.run(45_000);
  t.is(env.nlc.zones.get(':z1'), 'FullDisruption');
  for (const n of ['n0', 'n1', 'n2']) t.deepEqual(noExecute(env, n), []);
  await env.run(600_000);
  t.false(evicted(env, 'a'));
  t.false(evicted(env, 'b'));
  t.true(env.warnings.some((w) => w.includes('no node is ready')));
  // Back to normal: the node still down is tainted again.
  env.alive.add('n1');
  env.alive.add('n2');
  await env.run(5000);
  t.is(noExecute(env, 'n0').length, 1);
  t.is(noExecute(env, 'n1').length, 0);
});

test('a new leader evicts at the same moment: the taint time is on the node', async (t) => {
  const env = await setup(4);
  // The next leader hears the same heartbeats (its own memory of them) from the start.
  const ctx2 = testContext(env.cluster, env.clock);
  const beat = () => {
    for (const n of env.alive) {
      env.ctx.liveness.heartbeat(n);
      ctx2.liveness.heartbeat(n);
    }
  };
  beat();
  ctx2.liveness.heartbeat('n3');
  await podOn(env, 'x', 'n3', [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 100 }]);
  env.nlc.start(env.ctx);
  await env.settle();
  env.alive.delete('n3');
  await env.run(45_000);
  const taintedAt = Date.parse(noExecute(env, 'n3')[0]!.timeAdded!);
  env.ctx.abort();
  const nlc2 = new NodeLifecycleController();
  nlc2.start(ctx2);
  const step = async (ms: number) => {
    for (let left = ms; left > 0; left -= 1000) {
      beat();
      await env.clock.advance(1000);
      for (let i = 0; i < 5; i++) {
        await flush();
        await nlc2.idle();
      }
    }
  };
  await step(50_000);
  t.is(Date.parse(noExecute(env, 'n3')[0]!.timeAdded!), taintedAt, 'the new leader keeps the taint as it was');
  await step(taintedAt + 99_000 - env.clock.now());
  t.false(evicted(env, 'x'));
  await step(1000);
  t.true(evicted(env, 'x'));
});

