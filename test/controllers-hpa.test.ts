import test from 'ava';
import {
  HorizontalPodAutoscalerController,
  HpaRecommender,
  MetricError,
  computeResourceReplicas,
  convertDesiredReplicasWithRules,
  convertWithBehaviorRate,
  effectiveBehavior,
  scaleDownLimit,
  scaleUpLimit,
  type HpaPod,
  type ReplicaCalcInput,
  type ResourceTarget,
} from '../src/controllers/hpa.ts';
import { formatTime } from '../src/controllers/pod-util.ts';
import { FakeClock, flush, LocalCluster, testContext, type TestContext } from '../src/controllers/testing.ts';
import type { PlainObject } from '../src/controllers/types.ts';

// ---- the replica calculation, as a table ---------------------------------------------------------

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;

/** A pod running for 10 minutes, ready for 9, requesting 1 CPU, using `milli` (undefined: no sample). */
function p(name: string, milli: number | undefined, over: Partial<HpaPod> = {}): HpaPod {
  return {
    name,
    phase: 'Running',
    deleting: false,
    ready: { status: 'True', since: NOW - 9 * MIN },
    startTime: NOW - 10 * MIN,
    requestMilli: 1000,
    ...(milli !== undefined ? { usage: { milli, timestamp: NOW } } : {}),
    ...over,
  };
}

const util = (averageUtilization: number): ResourceTarget => ({ type: 'Utilization', averageUtilization });

function calc(currentReplicas: number, pods: HpaPod[], target: ResourceTarget = util(50)) {
  const input: ReplicaCalcInput = {
    currentReplicas,
    pods,
    resource: 'cpu',
    target,
    tolerance: { up: 0.1, down: 0.1 },
    now: NOW,
    cpuInitializationPeriodMs: 5 * MIN,
    delayOfInitialReadinessStatusMs: 30_000,
    metricWindowMs: 30_000,
  };
  return computeResourceReplicas(input);
}

const table: [string, number, HpaPod[], ResourceTarget, number][] = [
  ['at target', 3, [p('a', 500), p('b', 500), p('c', 500)], util(50), 3],
  ['above target: ceil(3 × 1.8)', 3, [p('a', 900), p('b', 900), p('c', 900)], util(50), 6],
  ['within tolerance (1.08)', 3, [p('a', 540), p('b', 540), p('c', 540)], util(50), 3],
  ['just past tolerance (1.12)', 3, [p('a', 560), p('b', 560), p('c', 560)], util(50), 4],
  ['below target: ceil(4 × 0.4)', 4, [p('a', 200), p('b', 200), p('c', 200), p('d', 200)], util(50), 2],
  ['missing sample on scale-down counts as its full request', 4, [p('a', 100), p('b', 100), p('c', 100), p('d', undefined)], util(50), 3],
  ['missing sample on scale-up counts as nothing', 3, [p('a', 1000), p('b', 1000), p('c', undefined)], util(50), 4],
  ['missing samples that would flip the direction: no change', 4, [p('a', 1200), p('b', undefined), p('c', undefined), p('d', undefined)], util(100), 4],
  ['unready (pending) pods count as 0 on scale-up', 3, [p('a', 1000), p('b', 1000), p('c', undefined, { phase: 'Pending' })], util(50), 4],
  ['unready pods are ignored on scale-down', 3, [p('a', 100), p('b', 100), p('c', 900, { phase: 'Pending' })], util(50), 1],
  [
    'a pod still starting with a sample from before a full ready window is unready',
    2,
    [p('a', 1000), p('b', 1000, { startTime: NOW - MIN, ready: { status: 'True', since: NOW - 10_000 } })],
    util(50),
    2,
  ],
  ['failed and deleting pods are ignored', 2, [p('a', 1000), p('b', 100, { phase: 'Failed' }), p('c', 100, { deleting: true })], util(50), 2],
  ['average value: ceil(3 × 300m / 200m)', 3, [p('a', 300), p('b', 300), p('c', 300)], { type: 'AverageValue', averageValueMilli: 200 }, 5],
  ['target above 100%: missing pods count at the target', 2, [p('a', 500), p('b', undefined)], util(150), 2],
];

for (const [name, current, pods, target, want] of table) {
  test(`replicas: ${name}`, (t) => {
    t.is(calc(current, pods, target).replicas, want);
  });
}

test('replicas: utilization is truncated to a whole percentage and reported', (t) => {
  const r = calc(3, [p('a', 333), p('b', 333), p('c', 334)]);
  t.is(r.utilization, 33);
  t.is(r.averageMilli, 333);
});

test('replicas: errors say why', (t) => {
  t.throws(() => calc(2, [p('a', undefined), p('b', undefined)]), { instanceOf: MetricError, message: /no metrics returned/ });
  t.throws(() => calc(1, [p('a', 500, { phase: 'Pending' })]), { message: /did not receive metrics for targeted pods/ });
  t.throws(() => calc(1, [p('a', 500, { requestMilli: undefined, missingRequestContainer: 'app' })]), { message: 'missing request for cpu in container app of Pod a' });
});

// ---- limits and stabilization --------------------------------------------------------------------

test('legacy limit: at most max(2 × current, 4) per step, within min and max', (t) => {
  t.deepEqual(convertDesiredReplicasWithRules(2, 20, 1, 100), { replicas: 4, reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' });
  t.is(convertDesiredReplicasWithRules(5, 20, 1, 100).replicas, 10);
  t.is(convertDesiredReplicasWithRules(5, 20, 1, 8).reason, 'TooManyReplicas');
  t.is(convertDesiredReplicasWithRules(5, 0, 2, 8).replicas, 2);
  t.is(convertDesiredReplicasWithRules(5, 0, 2, 8).reason, 'TooFewReplicas');
  t.is(convertDesiredReplicasWithRules(5, 6, 2, 8).reason, 'DesiredWithinRange');
});

test('behaviour: default scale-up is 4 pods or 100% per 15 s, whichever is more', (t) => {
  const b = effectiveBehavior({}, 300_000);
  t.is(scaleUpLimit(2, [], [], b.scaleUp, NOW), 6);
  t.is(scaleUpLimit(10, [], [], b.scaleUp, NOW), 20);
  // Within the period the start is what we had before the last step.
  t.is(scaleUpLimit(6, [{ at: NOW - 10_000, change: 4, outdated: false }], [], b.scaleUp, NOW), 6);
  t.is(scaleUpLimit(6, [{ at: NOW - 15_000, change: 4, outdated: false }], [], b.scaleUp, NOW), 12);
  t.is(b.scaleDown.stabilizationWindowSeconds, 300);
});

test('behaviour: selectPolicy Min picks the smallest change; Disabled none', (t) => {
  const rules = {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Min' as const,
    policies: [
      { type: 'Pods' as const, value: 4, periodSeconds: 60 },
      { type: 'Percent' as const, value: 50, periodSeconds: 60 },
    ],
  };
  t.is(scaleUpLimit(10, [], [], rules, NOW), 14);
  t.is(scaleUpLimit(2, [], [], rules, NOW), 3);
  t.is(scaleDownLimit(10, [], [], rules, NOW), 6);
  t.is(scaleDownLimit(10, [], [], { ...rules, selectPolicy: 'Max' }, NOW), 5);
  t.is(scaleUpLimit(10, [], [], { ...rules, selectPolicy: 'Disabled' }, NOW), 10);
});

test('behaviour: scale-down by one pod a minute holds after a step', (t) => {
  const b = effectiveBehavior({ scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }, 300_000);
  const st = new HpaRecommender();
  t.deepEqual(convertWithBehaviorRate(10, 2, 1, 20, b, st, NOW), {
    replicas: 9,
    reason: 'ScaleDownLimit',
    message: 'the desired replica count is decreasing faster than the maximum scale rate',
  });
  st.recordScale(b, 10, 9, NOW);
  t.is(convertWithBehaviorRate(9, 2, 1, 20, b, st, NOW + 30_000).replicas, 9);
  t.is(convertWithBehaviorRate(9, 2, 1, 20, b, st, NOW + 60_000).replicas, 8);
});

test('stabilization: the highest recommendation of the window wins a scale-down', (t) => {
  const st = new HpaRecommender();
  st.recordInitial(5, NOW);
  t.is(st.stabilizeLegacy(2, NOW + 60_000, 300_000), 5);
  t.is(st.stabilizeLegacy(3, NOW + 120_000, 300_000), 5);
  t.is(st.stabilizeLegacy(2, NOW + 300_001, 300_000), 3, 'the initial 5 left the window');
  t.is(st.stabilizeLegacy(2, NOW + 420_001, 300_000), 2);
  const b = effectiveBehavior({ scaleUp: { stabilizationWindowSeconds: 60 } }, 300_000);
  const up = new HpaRecommender();
  up.recordInitial(3, NOW);
  t.is(up.stabilizeWithBehavior(3, 8, b, NOW + 30_000).replicas, 3, 'scale-up waits for the up window');
  t.is(up.stabilizeWithBehavior(3, 8, b, NOW + 61_000).replicas, 8);
});

// ---- the controller ------------------------------------------------------------------------------

interface Env {
  clock: FakeClock;
  cluster: LocalCluster;
  ctx: TestContext;
  hc: HorizontalPodAutoscalerController;
  settle(): Promise<void>;
}

async function setup(): Promise<Env> {
  const clock = new FakeClock(NOW);
  const cluster = await LocalCluster.create({ clock });
  const ctx = testContext(cluster, clock);
  const hc = new HorizontalPodAutoscalerController();
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      const before = cluster.proposals;
      await flush();
      await hc.idle();
      await flush();
      if (cluster.proposals === before) return;
    }
    throw new Error('controller did not settle');
  };
  return { clock, cluster, ctx, hc, settle };
}

async function deployment(env: Env, replicas: number, podCount = replicas): Promise<void> {
  await env.cluster.create({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1', resources: { requests: { cpu: '1' } } }] } },
    },
  });
  for (let i = 0; i < podCount; i++) {
    const name = `web-${i}`;
    const created = await env.cluster.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'nginx:1', resources: { requests: { cpu: '1' } } }] },
    });
    const started = formatTime(env.clock.now() - 10 * MIN);
    await env.cluster.updateStatus({
      ...structuredClone(created),
      status: { phase: 'Running', startTime: started, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: started }] },
    });
  }
}

function setUsage(env: Env, pods: number, milli: number): void {
  for (let i = 0; i < pods; i++) env.ctx.usage.set('default', `web-${i}`, [{ name: 'c', cpuMillicores: milli }], env.clock.now());
}

function hpa(spec: Record<string, unknown> = {}): PlainObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
      ...spec,
    },
  };
}

const replicasOf = (env: Env) => (env.cluster.get('Deployment', 'default', 'web')!.spec as { replicas: number }).replicas;
const hpaStatus = (env: Env) => env.cluster.get('HorizontalPodAutoscaler', 'default', 'web')!.status as Record<string, any>;
const hpaCond = (env: Env, type: string) => (hpaStatus(env).conditions as { type: string; status: string; reason: string }[]).find((c) => c.type === type);

/** Usage is refreshed before each sync, as agents keep reporting. */
async function syncs(env: Env, n: number, pods: number, milli: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    setUsage(env, pods, milli);
    await env.clock.advance(env.ctx.config.hpaSyncPeriodMs);
    await env.settle();
  }
}

test('scales a Deployment up on high CPU and reports why', async (t) => {
  const env = await setup();
  await deployment(env, 4);
  setUsage(env, 4, 1000);
  await env.cluster.create(hpa());
  env.hc.start(env.ctx);
  await env.settle();
  t.is(replicasOf(env), 8);
  const st = hpaStatus(env);
  t.is(st.currentReplicas, 4);
  t.is(st.desiredReplicas, 8);
  t.is(st.lastScaleTime, formatTime(NOW));
  t.deepEqual(st.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 100, averageValue: '1' } } }]);
  t.is(hpaCond(env, 'AbleToScale')?.reason, 'SucceededRescale');
  t.is(hpaCond(env, 'ScalingActive')?.reason, 'ValidMetricFound');
  t.is(hpaCond(env, 'ScalingLimited')?.status, 'False');
  const ev = env.ctx.events.withReason('SuccessfulRescale');
  t.is(ev.length, 1);
  t.is(ev[0]!.message, 'New size: 8; reason: cpu resource utilization (percentage of request) above target');
});

test('scale-down waits out the stabilization window, then goes to the recommendation', async (t) => {
  const env = await setup();
  await deployment(env, 4);
  setUsage(env, 4, 100);
  await env.cluster.create(hpa());
  env.hc.start(env.ctx);
  await env.settle();
  t.is(replicasOf(env), 4, 'the first recommendation is the current size');
  t.is(hpaCond(env, 'AbleToScale')?.reason, 'ScaleDownStabilized');
  await syncs(env, 20, 4, 100); // 300 s: the initial recommendation is still in the window
  t.is(replicasOf(env), 4);
  await syncs(env, 1, 4, 100);
  t.is(replicasOf(env), 1);
  t.is(env.ctx.events.withReason('SuccessfulRescale')[0]!.message, 'New size: 1; reason: All metrics below target');
  t.is(hpaStatus(env).desiredReplicas, 1);
});

test('behaviour policies pace a scale-up: one pod a minute', async (t) => {
  const env = await setup();
  await deployment(env, 2);
  await env.cluster.create(hpa({ behavior: { scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } } }));
  setUsage(env, 2, 1000);
  env.hc.start(env.ctx);
  await env.settle();
  t.is(replicasOf(env), 3);
  await syncs(env, 3, 2, 1000);
  t.is(replicasOf(env), 3, 'held for the rest of the minute');
  t.is(hpaCond(env, 'ScalingLimited')?.reason, 'ScaleUpLimit');
  await syncs(env, 1, 2, 1000);
  t.is(replicasOf(env), 4);
});

test('min and max bound the size; a missing target is reported', async (t) => {
  const env = await setup();
  await deployment(env, 12, 2);
  setUsage(env, 2, 500);
  await env.cluster.create(hpa({ maxReplicas: 5 }));
  env.hc.start(env.ctx);
  await env.settle();
  t.is(replicasOf(env), 5);
  t.is(env.ctx.events.withReason('SuccessfulRescale')[0]!.message, 'New size: 5; reason: Current number of replicas above Spec.MaxReplicas');

  await env.cluster.create({ ...hpa(), metadata: { name: 'ghost', namespace: 'default' }, spec: { ...(hpa().spec as object), scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'nope' } } });
  await env.settle();
  const ghost = env.cluster.get('HorizontalPodAutoscaler', 'default', 'ghost')!.status as { conditions: { type: string; status: string; reason: string }[] };
  t.like(ghost.conditions.find((c) => c.type === 'AbleToScale'), { status: 'False', reason: 'FailedGetScale' });
  t.is(env.ctx.events.withReason('FailedGetScale')[0]!.message, 'deployments.apps "nope" not found');
});

test('no usage at all: ScalingActive False and the size is kept', async (t) => {
  const env = await setup();
  await deployment(env, 3);
  await env.cluster.create(hpa());
  env.hc.start(env.ctx);
  await env.settle();
  t.is(replicasOf(env), 3);
  t.like(hpaCond(env, 'ScalingActive'), { status: 'False', reason: 'FailedGetResourceMetric' });
  t.is(env.ctx.events.withReason('FailedComputeMetricsReplicas').length, 1);
});
