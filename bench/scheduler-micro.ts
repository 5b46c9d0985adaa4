/**
 * Scheduler micro benchmark: N nodes and P pending pods in an in-memory LocalCluster (the
 * real object store, admission and binding check, no Raft, no network). Measures
 *
 *  - end to end: from the scheduler's start (initial list included) until every pod is
 *    bound through ctx.cluster.bind in batches, the store's fit check included;
 *  - decisions alone: the same pods through Framework.schedule + assume on a fresh cache
 *    (no store, no bindings), i.e. the cost of one scheduling cycle.
 *
 *   npm run bench -- scheduler-micro [--nodes 1000] [--pods 10000] [--strategy least|most]
 */
import { pathToFileURL } from 'node:url';
import { LocalCluster, testContext, FakeClock } from '../src/controllers/testing.ts';
import type { ClusterConfig, EventRecorder, PlainObject } from '../src/controllers/types.ts';
import { SchedulerCache } from '../src/scheduler/cache.ts';
import { bindingFits } from '../src/scheduler/fit.ts';
import { Framework } from '../src/scheduler/framework.ts';
import { defaultPlugins } from '../src/scheduler/plugins/index.ts';
import { PodInfo } from '../src/scheduler/pod-info.ts';
import { Scheduler } from '../src/scheduler/scheduler.ts';
import { log, round } from './lib/util.ts';

interface Args {
  nodes: number;
  pods: number;
  strategy: ClusterConfig['scoringStrategy'];
}

function parse(argv: string[]): Args {
  const a: Args = { nodes: 1000, pods: 10_000, strategy: 'LeastAllocated' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (flag === '--nodes') a.nodes = Number(v);
    else if (flag === '--pods') a.pods = Number(v);
    else if (flag === '--strategy') a.strategy = v === 'most' ? 'MostAllocated' : 'LeastAllocated';
    else throw new Error(`unknown argument ${flag}; known: --nodes --pods --strategy`);
  }
  if (!(a.nodes > 0) || !(a.pods > 0)) throw new Error('--nodes and --pods must be positive');
  return a;
}

const SIZES = [
  { cpu: '100m', memory: '128Mi' },
  { cpu: '250m', memory: '256Mi' },
  { cpu: '500m', memory: '512Mi' },
  { cpu: '1', memory: '1Gi' },
];

function nodeObject(i: number): PlainObject {
  const allocatable = { cpu: '32', memory: '128Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${String(i).padStart(5, '0')}`, labels: { 'kubernetes.io/hostname': `node-${i}`, 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    spec: {},
    status: { capacity: allocatable, allocatable, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function podObject(i: number): PlainObject {
  const size = SIZES[i % SIZES.length]!;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: 'default', labels: { app: `app-${i % 20}` } },
    spec: { containers: [{ name: 'app', image: 'app:1.0', resources: { requests: size } }] },
  };
}

const quietEvents: EventRecorder = { event() {} };

const cpuMicros = (u: NodeJS.CpuUsage): number => u.user + u.system;

export async function run(argv: string[]): Promise<void> {
  const args = parse(argv);
  const clock = new FakeClock();
  const cluster = await LocalCluster.create({ clock, bindCheck: bindingFits });
  log(`creating ${args.nodes} nodes and ${args.pods} pods`);
  for (let i = 0; i < args.nodes; i++) await cluster.create(nodeObject(i));
  for (let i = 0; i < args.pods; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, args.pods - i) }, (_, j) => cluster.create(podObject(i + j))));
  }

  // Decisions alone, on a fresh cache of the same nodes.
  const config = { scoringStrategy: args.strategy };
  const { filters, scores } = defaultPlugins(config);
  const fw = new Framework(filters, scores, { percentageOfNodesToScore: 0 });
  const cache = new SchedulerCache();
  for (const n of cluster.list('Node')) cache.setNode(n);
  const infos = cluster.list('Pod').map((p) => new PodInfo(p));
  let placed = 0;
  const dc0 = process.cpuUsage();
  const d0 = performance.now();
  for (const p of infos) {
    const n = fw.schedule(p, cache);
    if (n) {
      cache.assume(p, n.name);
      placed++;
    }
  }
  const decideMs = performance.now() - d0;
  const decideCpu = cpuMicros(process.cpuUsage(dc0));
  log(`decisions alone: ${placed}/${infos.length} placed in ${round(decideMs, 1)} ms`);

  // End to end through the store.
  const ctx = { ...testContext(cluster, clock, { config }), events: quietEvents };
  const s = new Scheduler();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  s.start(ctx);
  while (s.stats.scheduled + s.stats.unschedulable < args.pods) {
    await s.idle();
    if (s.pending().active === 0 && s.stats.scheduled + s.stats.unschedulable < args.pods) await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  const cpu = cpuMicros(process.cpuUsage(c0));
  ctx.abort();
  const bound = cluster.list('Pod').filter((p) => (p.spec as { nodeName?: string }).nodeName).length;
  log(`end to end: ${bound}/${args.pods} bound in ${round(ms, 1)} ms, ${s.stats.batches} binding proposals, ${s.stats.bindFailures} refused`);
  const result = {
    bench: 'scheduler-micro',
    nodes: args.nodes,
    pods: args.pods,
    strategy: args.strategy,
    podsPerSec: Math.round((s.stats.scheduled / ms) * 1000),
    usPerPod: round((ms * 1000) / args.pods, 1),
    // CPU time, which the wall-clock figures exceed when the machine is shared.
    cpuUsPerPod: round(cpu / args.pods, 1),
    decideUsPerPod: round((decideMs * 1000) / infos.length, 1),
    decideCpuUsPerPod: round(decideCpu / infos.length, 1),
    bound,
    batches: s.stats.batches,
    bindFailures: s.stats.bindFailures,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run(process.argv.slice(2));
