import test from 'ava';
import { Framework, numFeasibleNodesToFind } from '../src/scheduler/framework.ts';
import { unschedulableMessage } from '../src/scheduler/message.ts';
import { normalizeImageName } from '../src/scheduler/node-info.ts';
import {
  BalancedAllocation,
  defaultPlugins,
  ImageLocality,
  InterPodAffinity,
  InterPodAffinityScore,
  NodeAffinity,
  NodePorts,
  NodeReady,
  NodeResourcesFit,
  NodeUnschedulable,
  PodTopologySpread,
  PodTopologySpreadScore,
  REASON_AFFINITY,
  REASON_ANTI_AFFINITY,
  REASON_EXISTING_ANTI_AFFINITY,
  REASON_NODE_AFFINITY,
  REASON_NOT_READY,
  REASON_PORTS,
  REASON_SPREAD,
  REASON_SPREAD_MISSING_LABEL,
  REASON_UNSCHEDULABLE,
  TaintToleration,
} from '../src/scheduler/plugins/index.ts';
import { cacheOf, node, pod, podInfo, ranking, runFilter, runScore, type NodeOpts, type PodOpts } from './scheduler-fixtures.ts';

// ---- filters -----------------------------------------------------------------------------

interface FilterCase {
  name: string;
  nodes: [string, NodeOpts?][];
  bound?: [string, PodOpts][];
  pod: PodOpts;
  /** node → expected result (undefined = passes). */
  want: Record<string, string | string[] | undefined>;
}

function filterTable(title: string, plugin: Parameters<typeof runFilter>[0], cases: FilterCase[]): void {
  for (const c of cases) {
    test(`${title}: ${c.name}`, (t) => {
      const cache = cacheOf(
        c.nodes.map(([n, o]) => node(n, o)),
        (c.bound ?? []).map(([n, o]) => pod(n, o)),
      );
      const got = runFilter(plugin, podInfo('incoming', c.pod), cache);
      t.deepEqual(got, c.want);
    });
  }
}

filterTable('NodeReady', NodeReady, [
  { name: 'ready passes, not ready fails', nodes: [['a'], ['b', { ready: false }]], pod: {}, want: { a: undefined, b: REASON_NOT_READY } },
]);

filterTable('NodeUnschedulable', NodeUnschedulable, [
  { name: 'cordoned node is refused', nodes: [['a'], ['b', { unschedulable: true }]], pod: {}, want: { a: undefined, b: REASON_UNSCHEDULABLE } },
  {
    name: 'a pod tolerating the unschedulable taint passes',
    nodes: [['b', { unschedulable: true }]],
    pod: { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] },
    want: { b: undefined },
  },
]);

const fit = new NodeResourcesFit();
filterTable('NodeResourcesFit', fit, [
  {
    name: 'fits in what is left; short of cpu fails',
    nodes: [['a', { cpu: '4' }], ['b', { cpu: '2' }]],
    bound: [['x', { nodeName: 'a', cpu: '3' }], ['y', { nodeName: 'b', cpu: '1500m' }]],
    pod: { cpu: '1' },
    want: { a: undefined, b: 'Insufficient cpu' },
  },
  {
    name: 'every short resource is a reason',
    nodes: [['a', { cpu: '1', memory: '1Gi' }]],
    pod: { cpu: '2', memory: '2Gi' },
    want: { a: ['Insufficient cpu', 'Insufficient memory'] },
  },
  { name: 'pod slots', nodes: [['a', { pods: 1 }]], bound: [['x', { nodeName: 'a' }]], pod: {}, want: { a: 'Too many pods' } },
  {
    name: 'effective request is max(max(init), sum(app)): init 3 cpu beats 2 × 1 cpu',
    nodes: [['a', { cpu: '2500m' }], ['b', { cpu: '3' }]],
    pod: {
      containers: [
        { name: 'a', image: 'x', resources: { requests: { cpu: '1' } } },
        { name: 'b', image: 'x', resources: { requests: { cpu: '1' } } },
      ],
      initContainers: [{ name: 'i', image: 'x', resources: { requests: { cpu: '3' } } }],
    },
    want: { a: 'Insufficient cpu', b: undefined },
  },
  {
    name: 'a sidecar adds to the app containers and to every later init container',
    nodes: [['a', { cpu: '2' }], ['b', { cpu: '2500m' }]],
    pod: {
      containers: [{ name: 'a', image: 'x', resources: { requests: { cpu: '1' } } }],
      initContainers: [
        { name: 'side', image: 'x', restartPolicy: 'Always', resources: { requests: { cpu: '500m' } } },
        { name: 'init', image: 'x', resources: { requests: { cpu: '2' } } },
      ],
    },
    // max(1 + 0.5, 2 + 0.5) = 2.5
    want: { a: 'Insufficient cpu', b: undefined },
  },
  {
    name: 'extended resources must be allocatable',
    nodes: [['a'], ['g', { extra: { 'vendor.io/gpu': '2' } }]],
    pod: { requests: { 'vendor.io/gpu': '1' } },
    want: { a: 'Insufficient vendor.io/gpu', g: undefined },
  },
  {
    name: 'a pod requesting nothing needs only a slot',
    nodes: [['a', { cpu: '0', memory: '0' }]],
    pod: {},
    want: { a: undefined },
  },
]);

test('NodeResourcesFit: room nominated for a pod of higher or equal priority is taken, for lower it is not', (t) => {
  const cache = cacheOf([node('a', { cpu: '2' })]);
  cache.nominate(podInfo('pre', { cpu: '2', priority: 100 }), 'a');
  t.is(runFilter(fit, podInfo('low', { cpu: '1', priority: 10 }), cache).a, 'Insufficient cpu');
  t.is(runFilter(fit, podInfo('high', { cpu: '1', priority: 1000 }), cache).a, undefined);
  t.is(runFilter(fit, podInfo('pre', { cpu: '2', priority: 100 }), cache).a, undefined, 'its own nomination does not count against it');
});

const nodeAffinity = new NodeAffinity();
const required = (...terms: unknown[]) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } });
const zoned: [string, NodeOpts][] = [
  ['a', { labels: { zone: 'z1', gen: '3' } }],
  ['b', { labels: { zone: 'z2', gen: '5' } }],
  ['c', { labels: {} }],
];
const NA = REASON_NODE_AFFINITY;
filterTable('NodeAffinity', nodeAffinity, [
  { name: 'no selector: skipped', nodes: zoned, pod: {}, want: { a: undefined, b: undefined, c: undefined } },
  { name: 'nodeSelector', nodes: zoned, pod: { nodeSelector: { zone: 'z1' } }, want: { a: undefined, b: NA, c: NA } },
  { name: 'In', nodes: zoned, pod: { affinity: required({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z2', 'z9'] }] }) }, want: { a: NA, b: undefined, c: NA } },
  { name: 'NotIn (missing label matches)', nodes: zoned, pod: { affinity: required({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['z2'] }] }) }, want: { a: undefined, b: NA, c: undefined } },
  { name: 'Exists', nodes: zoned, pod: { affinity: required({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }) }, want: { a: undefined, b: undefined, c: NA } },
  { name: 'DoesNotExist', nodes: zoned, pod: { affinity: required({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }) }, want: { a: NA, b: NA, c: undefined } },
  { name: 'Gt', nodes: zoned, pod: { affinity: required({ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['4'] }] }) }, want: { a: NA, b: undefined, c: NA } },
  { name: 'Lt', nodes: zoned, pod: { affinity: required({ matchExpressions: [{ key: 'gen', operator: 'Lt', values: ['4'] }] }) }, want: { a: undefined, b: NA, c: NA } },
  {
    name: 'expressions of a term are ANDed',
    nodes: zoned,
    pod: { affinity: required({ matchExpressions: [{ key: 'zone', operator: 'Exists' }, { key: 'gen', operator: 'Gt', values: ['4'] }] }) },
    want: { a: NA, b: undefined, c: NA },
  },
  {
    name: 'terms are ORed',
    nodes: zoned,
    pod: { affinity: required({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }, { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }) },
    want: { a: undefined, b: NA, c: undefined },
  },
  { name: 'matchFields metadata.name', nodes: zoned, pod: { affinity: required({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }) }, want: { a: NA, b: NA, c: undefined } },
  { name: 'an empty term matches nothing', nodes: zoned, pod: { affinity: required({}) }, want: { a: NA, b: NA, c: NA } },
  {
    name: 'nodeSelector and affinity must both hold',
    nodes: zoned,
    pod: { nodeSelector: { zone: 'z1' }, affinity: required({ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['4'] }] }) },
    want: { a: NA, b: NA, c: NA },
  },
]);

const taints = new TaintToleration();
const gpu = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
const GPU_REASON = 'node(s) had untolerated taint {dedicated: gpu}';
filterTable('TaintToleration', taints, [
  { name: 'untolerated NoSchedule is named', nodes: [['a'], ['g', { taints: [gpu] }]], pod: {}, want: { a: undefined, g: GPU_REASON } },
  { name: 'Equal with the value tolerates', nodes: [['g', { taints: [gpu] }]], pod: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] }, want: { g: undefined } },
  { name: 'Equal with another value does not', nodes: [['g', { taints: [gpu] }]], pod: { tolerations: [{ key: 'dedicated', value: 'cpu' }] }, want: { g: GPU_REASON } },
  { name: 'Exists on the key, any effect', nodes: [['g', { taints: [gpu] }]], pod: { tolerations: [{ key: 'dedicated', operator: 'Exists' }] }, want: { g: undefined } },
  { name: 'empty key with Exists tolerates everything', nodes: [['g', { taints: [gpu, { key: 'x', effect: 'NoExecute' }] }]], pod: { tolerations: [{ operator: 'Exists' }] }, want: { g: undefined } },
  { name: 'a toleration of another effect does not', nodes: [['g', { taints: [gpu] }]], pod: { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }] }, want: { g: GPU_REASON } },
  {
    name: 'NoExecute must be tolerated too',
    nodes: [['n', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }]],
    pod: {},
    want: { n: 'node(s) had untolerated taint {node.kubernetes.io/unreachable: }' },
  },
  { name: 'PreferNoSchedule never filters', nodes: [['p', { taints: [{ key: 'soft', effect: 'PreferNoSchedule' }] }]], pod: {}, want: { p: undefined } },
]);

filterTable('NodePorts', NodePorts, [
  { name: 'no host ports: skipped', nodes: [['a']], bound: [['x', { nodeName: 'a', hostPort: 80 }]], pod: {}, want: { a: undefined } },
  { name: 'same port and protocol clash', nodes: [['a'], ['b']], bound: [['x', { nodeName: 'a', hostPort: 80 }]], pod: { hostPort: 80 }, want: { a: REASON_PORTS, b: undefined } },
  { name: 'another protocol does not', nodes: [['a']], bound: [['x', { nodeName: 'a', hostPort: 53, protocol: 'UDP' }]], pod: { hostPort: 53 }, want: { a: undefined } },
  { name: 'two specific addresses do not', nodes: [['a']], bound: [['x', { nodeName: 'a', hostPort: 80, hostIP: '10.0.0.1' }]], pod: { hostPort: 80, hostIP: '10.0.0.2' }, want: { a: undefined } },
  { name: '0.0.0.0 clashes with any address', nodes: [['a']], bound: [['x', { nodeName: 'a', hostPort: 80, hostIP: '10.0.0.1' }]], pod: { hostPort: 80 }, want: { a: REASON_PORTS } },
]);

const zones: [string, NodeOpts][] = [
  ['a1', { labels: { zone: 'a' } }],
  ['a2', { labels: { zone: 'a' } }],
  ['b1', { labels: { zone: 'b' } }],
  ['c1', { labels: { zone: 'c' } }],
];
const term = (labels: Record<string, string>, topologyKey: string) => ({ labelSelector: { matchLabels: labels }, topologyKey });
filterTable('InterPodAffinity', InterPodAffinity, [
  {
    name: 'required affinity: only the zone holding a match',
    nodes: zones,
    bound: [['db', { nodeName: 'a2', labels: { app: 'db' } }]],
    pod: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'db' }, 'zone')] } } },
    want: { a1: undefined, a2: undefined, b1: REASON_AFFINITY, c1: REASON_AFFINITY },
  },
  {
    name: 'required affinity to pods of another namespace does not see this one',
    nodes: zones,
    bound: [['db', { nodeName: 'a2', labels: { app: 'db' }, namespace: 'other' }]],
    pod: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'db' }, 'zone')] } } },
    want: { a1: REASON_AFFINITY, a2: REASON_AFFINITY, b1: REASON_AFFINITY, c1: REASON_AFFINITY },
  },
  {
    name: 'the first pod of a self-affine group goes anywhere',
    nodes: zones,
    pod: { labels: { app: 'web' }, affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'web' }, 'zone')] } } },
    want: { a1: undefined, a2: undefined, b1: undefined, c1: undefined },
  },
  {
    name: 'required anti-affinity by hostname',
    nodes: zones,
    bound: [['web-0', { nodeName: 'a1', labels: { app: 'web' } }]],
    pod: { labels: { app: 'web' }, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'web' }, 'kubernetes.io/hostname')] } } },
    want: { a1: REASON_ANTI_AFFINITY, a2: undefined, b1: undefined, c1: undefined },
  },
  {
    name: "existing pods' anti-affinity repels the incoming pod (symmetry)",
    nodes: zones,
    bound: [['loner', { nodeName: 'b1', affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ app: 'noisy' }, 'zone')] } } }]],
    pod: { labels: { app: 'noisy' } },
    want: { a1: undefined, a2: undefined, b1: REASON_EXISTING_ANTI_AFFINITY, c1: undefined },
  },
]);

const spreadZone = (maxSkew: number, when = 'DoNotSchedule') => [{ maxSkew, topologyKey: 'zone', whenUnsatisfiable: when, labelSelector: { matchLabels: { app: 'web' } } }];
filterTable('PodTopologySpread', PodTopologySpread, [
  {
    name: 'maxSkew 1 over zones with 2/1/0 matching pods: only the empty zone',
    nodes: [...zones, ['nolabel']],
    bound: [
      ['w1', { nodeName: 'a1', labels: { app: 'web' } }],
      ['w2', { nodeName: 'a2', labels: { app: 'web' } }],
      ['w3', { nodeName: 'b1', labels: { app: 'web' } }],
      ['other', { nodeName: 'c1', labels: { app: 'db' } }],
    ],
    pod: { labels: { app: 'web' }, spread: spreadZone(1) },
    want: { a1: REASON_SPREAD, a2: REASON_SPREAD, b1: REASON_SPREAD, c1: undefined, nolabel: REASON_SPREAD_MISSING_LABEL },
  },
  {
    name: 'maxSkew 2 lets the middle zone in',
    nodes: zones,
    bound: [
      ['w1', { nodeName: 'a1', labels: { app: 'web' } }],
      ['w2', { nodeName: 'a2', labels: { app: 'web' } }],
      ['w3', { nodeName: 'b1', labels: { app: 'web' } }],
    ],
    pod: { labels: { app: 'web' }, spread: spreadZone(2) },
    want: { a1: REASON_SPREAD, a2: REASON_SPREAD, b1: undefined, c1: undefined },
  },
  { name: 'ScheduleAnyway never filters', nodes: zones, bound: [['w1', { nodeName: 'a1', labels: { app: 'web' } }]], pod: { labels: { app: 'web' }, spread: spreadZone(1, 'ScheduleAnyway') }, want: { a1: undefined, a2: undefined, b1: undefined, c1: undefined } },
]);

test('PodTopologySpread: nodes the pod cannot go to (node affinity) do not make domains', (t) => {
  const cache = cacheOf(
    zones.map(([n, o]) => node(n, o)),
    [pod('w1', { nodeName: 'a1', labels: { app: 'web' } })],
  );
  // Only zones a and b are eligible: the minimum is b's 0, so a (1 + 1 − 0 = 2) fails, b passes; c is not a domain at all.
  const p = podInfo('x', { labels: { app: 'web' }, spread: spreadZone(1), affinity: required({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }) });
  const got = runFilter(PodTopologySpread, p, cache);
  t.is(got.a1, REASON_SPREAD);
  t.is(got.b1, undefined);
});

// ---- scores ------------------------------------------------------------------------------

test('NodeResourcesFit score: LeastAllocated prefers the emptiest node, MostAllocated the fullest', (t) => {
  const cache = cacheOf(
    [node('empty'), node('half'), node('full')],
    [pod('h', { nodeName: 'half', cpu: '2', memory: '4Gi' }), pod('f', { nodeName: 'full', cpu: '3', memory: '6Gi' })],
  );
  const p = podInfo('p', { cpu: '500m', memory: '1Gi' });
  const least = runScore(new NodeResourcesFit('LeastAllocated'), p, cache)!;
  const most = runScore(new NodeResourcesFit('MostAllocated'), p, cache)!;
  t.deepEqual(ranking(least), ['empty', 'half', 'full']);
  t.deepEqual(ranking(most), ['full', 'half', 'empty']);
  // (4 − 0.5) / 4 = 87.5 for cpu, (8 − 1) / 8 = 87.5 for memory
  t.is(least.empty, 87);
  for (const v of [...Object.values(least), ...Object.values(most)]) t.true(v >= 0 && v <= 100);
});

test('NodeResourcesFit score counts containers without requests as 100m / 200Mi', (t) => {
  const cache = cacheOf([node('a', { cpu: '1', memory: '1000Mi' })]);
  const s = runScore(new NodeResourcesFit('MostAllocated'), podInfo('p'), cache)!;
  t.is(s.a, Math.floor((10 + 20) / 2));
});

test('BalancedAllocation prefers the node where cpu and memory end up equally used', (t) => {
  const cache = cacheOf(
    [node('balanced'), node('skewed')],
    [pod('x', { nodeName: 'balanced', cpu: '1', memory: '2Gi' }), pod('y', { nodeName: 'skewed', cpu: '3', memory: '0' })],
  );
  const s = runScore(new BalancedAllocation(), podInfo('p', { cpu: '1', memory: '2Gi' }), cache)!;
  t.is(s.balanced, 100);
  t.deepEqual(ranking(s), ['balanced', 'skewed']);
  t.is(runScore(new BalancedAllocation(), podInfo('besteffort'), cache), undefined);
});

test('NodeAffinity score: summed weights of matching preferred terms, best node 100', (t) => {
  const cache = cacheOf(zoned.map(([n, o]) => node(n, o)));
  const p = podInfo('p', {
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 10, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] } },
          { weight: 30, preference: { matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['4'] }] } },
        ],
      },
    },
  });
  const s = runScore(nodeAffinity, p, cache)!;
  t.deepEqual(s, { a: 33, b: 100, c: 0 });
});

test('TaintToleration score: fewer untolerated PreferNoSchedule taints is better', (t) => {
  const soft = (k: string) => ({ key: k, effect: 'PreferNoSchedule' });
  const cache = cacheOf([node('none'), node('one', { taints: [soft('a')] }), node('two', { taints: [soft('a'), soft('b')] })]);
  t.deepEqual(runScore(taints, podInfo('p'), cache), { none: 100, one: 50, two: 0 });
  const tolerant = podInfo('q', { tolerations: [{ key: 'b', operator: 'Exists', effect: 'PreferNoSchedule' }] });
  t.deepEqual(runScore(taints, tolerant, cache), { none: 100, one: 0, two: 0 });
});

test('InterPodAffinity score: preferred affinity pulls to the zone, anti-affinity pushes away, both ways', (t) => {
  const cache = cacheOf(
    zones.map(([n, o]) => node(n, o)),
    [pod('cache', { nodeName: 'a1', labels: { app: 'cache' } }), pod('batch', { nodeName: 'b1', labels: { app: 'batch' } })],
  );
  const p = podInfo('web', {
    labels: { app: 'web' },
    affinity: {
      podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term({ app: 'cache' }, 'zone') }] },
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: term({ app: 'batch' }, 'zone') }] },
    },
  });
  const s = runScore(new InterPodAffinityScore(), p, cache)!;
  t.deepEqual(s, { a1: 100, a2: 100, b1: 0, c1: 50 });
  // Symmetry: an existing pod preferring the incoming one pulls it too.
  const cache2 = cacheOf(zones.map(([n, o]) => node(n, o)), [
    pod('fan', { nodeName: 'c1', affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 20, podAffinityTerm: term({ app: 'web' }, 'zone') }] } } }),
  ]);
  t.deepEqual(ranking(runScore(new InterPodAffinityScore(), podInfo('w', { labels: { app: 'web' } }), cache2)!)[0], 'c1');
});

test('PodTopologySpread score: the emptier domain ranks first', (t) => {
  const cache = cacheOf(
    zones.map(([n, o]) => node(n, o)),
    [
      pod('w1', { nodeName: 'a1', labels: { app: 'web' } }),
      pod('w2', { nodeName: 'a2', labels: { app: 'web' } }),
      pod('w3', { nodeName: 'b1', labels: { app: 'web' } }),
    ],
  );
  const s = runScore(new PodTopologySpreadScore(), podInfo('p', { labels: { app: 'web' }, spread: spreadZone(1, 'ScheduleAnyway') }), cache)!;
  t.is(s.c1, 100);
  t.true(s.c1! > s.b1! && s.b1! > s.a1!);
  t.is(s.a1, s.a2);
});

test('ImageLocality: a node holding a large image of the pod ranks first', (t) => {
  const big = { names: ['registry.example:5000/library/app:1.0'], sizeBytes: 800 * 1024 * 1024 };
  const cache = cacheOf([node('warm', { images: [big] }), node('cold')]);
  const s = runScore(new ImageLocality(), podInfo('p', { image: 'app:1.0' }), cache)!;
  t.deepEqual(ranking(s), ['warm', 'cold']);
  t.is(s.cold, 0);
  t.is(runScore(new ImageLocality(), podInfo('p', { image: 'app:1.0' }), cacheOf([node('x')])), undefined, 'no node reports images: skipped');
  for (const [raw, want] of [
    ['nginx', 'nginx:latest'],
    ['library/nginx:1.25', 'nginx:1.25'],
    ['localhost/team/app', 'team/app:latest'],
    ['registry.example:5000/team/app@sha256:abc', 'team/app@sha256:abc'],
    ['team/app:2', 'team/app:2'],
  ]) t.is(normalizeImageName(raw!), want);
});

// ---- the framework and the message -------------------------------------------------------

test('numFeasibleNodesToFind follows kube-scheduler', (t) => {
  const cases: [number, number, number][] = [
    [5, 0, 5],
    [99, 0, 99],
    [100, 0, 100],
    [1000, 0, 420], // 50 − 1000/125 = 42%
    [5000, 0, 500], // 50 − 40 = 10%
    [10_000, 0, 500], // floored at 5%
    [1000, 100, 1000],
    [1000, 5, 100], // never fewer than 100
    [1000, 30, 300],
  ];
  for (const [nodes, pct, want] of cases) t.is(numFeasibleNodesToFind(nodes, pct), want, `${nodes} nodes at ${pct}%`);
});

test('the unschedulable message counts reasons over nodes, sorted as kube-scheduler sorts them', (t) => {
  const cache = cacheOf([
    node('a', { cpu: '1' }),
    node('b', { cpu: '1' }),
    node('c', { cpu: '1' }),
    node('g1', { taints: [gpu] }),
    node('g2', { taints: [gpu] }),
  ]);
  const { filters, scores } = defaultPlugins({ scoringStrategy: 'LeastAllocated' });
  const fw = new Framework(filters, scores);
  t.is(fw.schedule(podInfo('p', { cpu: '2' }), cache), undefined);
  t.is(fw.diagnosis.message(), '0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}, 3 Insufficient cpu.');
  t.deepEqual(fw.diagnosis.resolvable.map((n) => n.name).sort(), ['a', 'b', 'c'], 'only resource failures can be cured by preemption');
  t.is(unschedulableMessage(0, new Map()), 'no nodes available to schedule pods');
  t.is(unschedulableMessage(3, new Map([['Too many pods', 1], ["node(s) didn't match Pod's node affinity/selector", 2]])), "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't match Pod's node affinity/selector.");
});

test('at scale only a sample is filtered, and each cycle starts where the last one stopped', (t) => {
  const cache = cacheOf(Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, '0')}`)));
  const starts: string[] = [];
  let examined = 0;
  let fresh = false;
  const recording = {
    name: 'Recording',
    preFilter: () => {
      fresh = true;
      return undefined;
    },
    filter: (_p: unknown, n: { name: string }) => {
      if (fresh) starts.push(n.name);
      fresh = false;
      examined++;
      return undefined;
    },
  };
  const fw = new Framework([recording], [{ name: 'Zero', weight: 1, score: () => 0 }]);
  for (let i = 0; i < 4; i++) t.truthy(fw.schedule(podInfo(`p${i}`), cache));
  t.is(examined, 4 * 420, '42% of 1,000 nodes per cycle');
  t.deepEqual(starts, ['n0000', 'n0420', 'n0840', 'n0260']);
});
