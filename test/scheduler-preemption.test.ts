import test from 'ava';
import { Framework, seededRandom } from '../src/scheduler/framework.ts';
import { defaultPlugins } from '../src/scheduler/plugins/index.ts';
import { findPreemption } from '../src/scheduler/preemption.ts';
import { cacheOf, node, pod, podInfo } from './scheduler-fixtures.ts';

function framework(): Framework {
  const { filters, scores } = defaultPlugins({ scoringStrategy: 'LeastAllocated' });
  return new Framework(filters, scores);
}

test('the fewest victims of the lowest priority, and the cache is left as it was', (t) => {
  const cache = cacheOf(
    [node('a', { cpu: '4' }), node('b', { cpu: '4' })],
    [
      pod('a1', { nodeName: 'a', priority: 1, cpu: '1' }),
      pod('a2', { nodeName: 'a', priority: 2, cpu: '1' }),
      pod('a3', { nodeName: 'a', priority: 3, cpu: '1' }),
      pod('a4', { nodeName: 'a', priority: 4, cpu: '1' }),
      pod('b1', { nodeName: 'b', priority: 7, cpu: '4' }),
    ],
  );
  const fw = framework();
  const vip = podInfo('vip', { priority: 100, cpu: '2' });
  t.is(fw.schedule(vip, cache), undefined);
  const before = cache.nodes.map((n) => ({ ...n.used, pods: n.pods.size }));
  const r = findPreemption(fw, vip, cache, seededRandom(1))!;
  t.is(r.node.name, 'a', 'a costs priorities ≤ 2, b a priority-7 pod');
  t.deepEqual(r.victims.map((v) => v.name), ['a2', 'a1'], 'the two most important pods on a are spared');
  t.deepEqual(cache.nodes.map((n) => ({ ...n.used, pods: n.pods.size })), before);
  t.false(fw.fits(vip, cache.node('a')!), 'filter state restored too');
});

test('anti-affinity is cured by evicting the pod it is about', (t) => {
  const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'kubernetes.io/hostname' }] } };
  const cache = cacheOf([node('a'), node('b')], [pod('xa', { nodeName: 'a', priority: 0, labels: { app: 'x' } }), pod('xb', { nodeName: 'b', priority: 50, labels: { app: 'x' } })]);
  const fw = framework();
  const p = podInfo('p', { priority: 100, affinity: anti });
  t.is(fw.schedule(p, cache), undefined);
  const r = findPreemption(fw, p, cache, seededRandom(1))!;
  t.is(r.node.name, 'a');
  t.deepEqual(r.victims.map((v) => v.name), ['xa']);
});

test('no preemption for failures eviction cannot cure, for equal priorities, or with preemptionPolicy Never', (t) => {
  const fw = framework();
  const tainted = cacheOf([node('g', { cpu: '1', taints: [{ key: 'k', effect: 'NoSchedule' }] })], [pod('low', { nodeName: 'g', priority: 0, cpu: '1' })]);
  const p = podInfo('p', { priority: 100, cpu: '1' });
  t.is(fw.schedule(p, tainted), undefined);
  t.is(findPreemption(fw, p, tainted, seededRandom(1)), undefined, 'a taint is not cured by evicting');

  const peers = cacheOf([node('n', { cpu: '1' })], [pod('peer', { nodeName: 'n', priority: 100, cpu: '1' })]);
  t.is(fw.schedule(p, peers), undefined);
  t.is(findPreemption(fw, p, peers, seededRandom(1)), undefined, 'only lower priorities are victims');

  const lower = cacheOf([node('n', { cpu: '1' })], [pod('low', { nodeName: 'n', priority: 0, cpu: '1' })]);
  const never = podInfo('never', { priority: 100, cpu: '1', preemptionPolicy: 'Never' });
  t.is(fw.schedule(never, lower), undefined);
  t.is(findPreemption(fw, never, lower, seededRandom(1)), undefined);
});

test('topology spread counts are kept right while victims are taken off and put back', (t) => {
  const spread = [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } }];
  // Zone a is full with a pod that cannot be evicted; zone b holds two low-priority web pods, so a third
  // web pod there would skew 3 − 0 > 1. Only evicting both fixes the skew.
  const cache = cacheOf(
    [node('a', { cpu: '1', labels: { zone: 'a' } }), node('b', { cpu: '4', labels: { zone: 'b' } })],
    [
      pod('keeper', { nodeName: 'a', priority: 10, cpu: '1' }),
      pod('b1', { nodeName: 'b', priority: 0, cpu: '1', labels: { app: 'web' } }),
      pod('b2', { nodeName: 'b', priority: 0, cpu: '1', labels: { app: 'web' } }),
      pod('other', { nodeName: 'b', priority: 0, cpu: '1', labels: { app: 'db' } }),
    ],
  );
  const fw = framework();
  const p = podInfo('w', { priority: 10, cpu: '1', labels: { app: 'web' }, spread });
  t.is(fw.schedule(p, cache), undefined);
  t.is(fw.diagnosis.message(), "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints.");
  const r = findPreemption(fw, p, cache, seededRandom(1))!;
  t.is(r.node.name, 'b');
  t.deepEqual(r.victims.map((v) => v.name), ['b1', 'b2'], 'the db pod is spared: it does not count for the spread');
  t.false(fw.fits(p, cache.node('b')!), 'counts restored');
});
