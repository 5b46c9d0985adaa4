/**
 * Orchestration end to end: a real three-replica control plane (`berth server` processes
 * running the scheduler and every controller as the leader) and nodes that are hollow
 * agents in this process (full agents over the public agent API, with the fake runtime),
 * or a real `berth agent --runtime cri` on containerd for the last scenario.
 *
 *  - placement: 30 replicas on 5 nodes spread (LeastAllocated) or pack onto the fewest
 *    nodes (MostAllocated, after a restart of every replica with --scheduler-scoring);
 *  - a node that dies: unreachable NoExecute taint, its pods evicted after the toleration
 *    the server flag --default-toleration-seconds gives them, replacements elsewhere;
 *  - a rollout to an image that cannot be pulled stops at maxUnavailable, times out
 *    (ProgressDeadlineExceeded), and `berth rollout undo` restores it;
 *  - the leader SIGKILLed mid-rollout: the next leader finishes it, and a watch from the
 *    start shows never more than replicas + maxSurge pods;
 *  - Jobs with failing pods end Complete or Failed as their spec says;
 *  - on containerd: busybox httpd pods roll to a new version and back, answering HTTP.
 *
 * Every test has a namespace, a fleet (label + zone) and nodes of its own, so one's dead
 * nodes never change another's eviction zone; they run one at a time (2-core machines).
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { LABEL_NODE } from '../src/agent/labels.ts';
import { CriRuntime } from '../src/agent/runtimes/cri.ts';
import { criRequired, criSocketFromEnv, DEFAULT_HOST_DIR } from '../src/agent/runtimes/cri-env.ts';
import { AgentProcs } from '../src/cli/agent-procs.ts';
import { planUndo } from '../src/cli/commands/rollout.ts';
import { replicaSetsOf } from '../src/cli/commands/workloads.ts';
import { BerthClient, type PlainObject } from '../src/client/client.ts';
import {
  berth,
  cleanupSuite,
  countByNode,
  createNamespace,
  createSurely,
  deployment,
  deploymentDone,
  deploymentStatus,
  imageOf,
  isReady,
  isTerminating,
  mutate,
  nameOf,
  nodeOf,
  nodeReady,
  PodTracker,
  podPhase,
  podsOf,
  startControlPlane,
  startFleet,
  SUITE_LABEL,
  taintsOf,
  until,
  waitDeploymentDone,
  waitNodesSchedulable,
  type ControlPlane,
  type Fleet,
} from './e2e-orch-helpers.ts';

/** Short node failure detection and eviction, so a dead node costs seconds, not minutes. */
const GRACE_SECONDS = 3;
const TOLERATION_SECONDS = 2;
const BASE_FLAGS = ['--node-heartbeat-interval', '500ms', '--node-monitor-grace-period', `${GRACE_SECONDS}s`, '--default-toleration-seconds', String(TOLERATION_SECONDS)];

let cp: ControlPlane;
let anyFailed = false;

test.before(async () => {
  cp = await startControlPlane(BASE_FLAGS);
});

test.afterEach.always((t) => {
  if (!t.passed) anyFailed = true;
});

test.after.always(async () => {
  if (!cp) return;
  if (anyFailed) console.error(`e2e-orchestration: control-plane logs kept in ${cp.dir}`);
  await cp.stop(anyFailed);
});

/** A namespace and a hollow fleet of the test's own, removed after it. */
async function suite(t: ExecutionContext, name: string, nodes: number, opts: Parameters<typeof startFleet>[3] = {}): Promise<Fleet> {
  await createNamespace(cp.client, name);
  let fleet: Fleet | undefined;
  t.teardown(() => cleanupSuite(cp, name, fleet));
  fleet = await startFleet(cp, name, nodes, opts);
  return fleet;
}

/** Resources sized so that exactly 10 pods fit a node (cpu and memory alike, so BalancedAllocation is flat). */
const NODE_CAPACITY = { cpu: '4', memory: '4000Mi', pods: 110 };
const POD_REQUESTS = { cpu: '400m', memory: '400Mi' };
const PODS_PER_NODE = 10;

async function placement(t: ExecutionContext, name: string): Promise<Map<string, number>> {
  const fleet = await suite(t, name, 5, { capacity: NODE_CAPACITY });
  await createSurely(cp.client, deployment(name, 'web', { replicas: 30, suite: name, requests: POD_REQUESTS }));
  await waitDeploymentDone(cp.client, name, 'web');
  const pods = (await podsOf(cp.client, name, 'app=web')).filter((p) => !isTerminating(p));
  t.is(pods.length, 30);
  t.true(pods.every(isReady), 'every pod is Ready');
  const counts = countByNode(pods);
  for (const n of counts.keys()) t.true(fleet.names.includes(n), `pod on ${n}, outside the fleet`);
  t.log(`${name}: ${fleet.names.map((n) => `${n}=${counts.get(n) ?? 0}`).join(' ')}`);
  return counts;
}

test.serial('LeastAllocated spreads 30 replicas over 5 nodes: 6 ± 1 each', async (t) => {
  const counts = await placement(t, 'spread');
  t.is(counts.size, 5, 'every node gets pods');
  for (const [node, n] of counts) t.true(Math.abs(n - 6) <= 1, `${node} has ${n} pods`);
});

test.serial('a dead node: unreachable NoExecute taint, its pods evicted after the server-wide toleration and running elsewhere', async (t) => {
  const ns = 'evict';
  const fleet = await suite(t, ns, 5);
  // No toleration in the template: the pods get --default-toleration-seconds (2 s, not 300).
  await createSurely(cp.client, deployment(ns, 'web', { replicas: 30, suite: ns, requests: { cpu: '100m', memory: '64Mi' } }));
  await waitDeploymentDone(cp.client, ns, 'web');
  const before = (await podsOf(cp.client, ns, 'app=web')).filter((p) => !isTerminating(p));
  const byNode = countByNode(before);
  const victim = [...byNode.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const victimPods = new Set(before.filter((p) => nodeOf(p) === victim).map(nameOf));
  t.true(victimPods.size > 0);

  await fleet.agent(victim).stop();

  // Detection (grace) + a node-lifecycle pass + the toleration, with room for a loaded machine.
  const limitMs = (GRACE_SECONDS + 5 + TOLERATION_SECONDS) * 1000 + 20_000;
  const node = await until(
    `${victim} to be tainted unreachable:NoExecute`,
    async () => {
      const n = await cp.client.get('Node', '', victim);
      return taintsOf(n).some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoExecute') ? n : undefined;
    },
    limitMs,
  );
  t.is(nodeReady(node), 'Unknown', 'the dead node is Ready=Unknown');
  t.true(taintsOf(node).some((x) => x.key === 'node.kubernetes.io/unreachable' && x.effect === 'NoSchedule'), 'and unschedulable');
  for (const other of fleet.names.filter((n) => n !== victim)) {
    const n = await cp.client.get('Node', '', other);
    t.deepEqual(taintsOf(n), [], `${other} stays untainted`);
  }

  let last = '';
  await until(
    () => `the 30 replicas back on live nodes (${last})`,
    async () => {
      const d = await cp.client.get('Deployment', ns, 'web');
      const pods = await podsOf(cp.client, ns, 'app=web');
      const live = pods.filter((p) => !isTerminating(p));
      const stranded = pods.filter((p) => victimPods.has(nameOf(p)) && !isTerminating(p));
      last = `available ${deploymentStatus(d).availableReplicas}, live ${live.length}, ready ${live.filter(isReady).length}, on ${victim}: ${live.filter((p) => nodeOf(p) === victim).length}, not evicted: ${stranded.length}`;
      return deploymentDone(d) && stranded.length === 0 && live.length === 30 && live.every(isReady) && live.every((p) => nodeOf(p) !== victim) ? true : undefined;
    },
    limitMs,
    200,
  );
  const after = (await podsOf(cp.client, ns, 'app=web')).filter((p) => !isTerminating(p));
  t.is(after.length, 30);
  t.true(after.every((p) => podPhase(p) === 'Running' && isReady(p)));
  const placed = countByNode(after);
  t.false(placed.has(victim));
  t.is([...placed.values()].reduce((a, b) => a + b, 0), 30);
  t.log(`victim ${victim} had ${victimPods.size} pods; now ${[...placed.entries()].map(([n, c]) => `${n}=${c}`).join(' ')}`);
});

test.serial('a rollout to an unpullable image stops at maxUnavailable, exceeds its progress deadline, and rollout undo restores it', async (t) => {
  const ns = 'rollout';
  const fleet = await suite(t, ns, 3);
  const BAD = 'busybox:does-not-exist';
  for (const r of fleet.runtimes()) r.failPull(BAD, `pull access denied for ${BAD}: manifest unknown`);
  const replicas = 10;
  const maxSurge = 1;
  const maxUnavailable = 2;
  await createSurely(cp.client, deployment(ns, 'web', { replicas, suite: ns, image: 'busybox:v1', maxSurge, maxUnavailable, progressDeadlineSeconds: 4 }));
  await waitDeploymentDone(cp.client, ns, 'web');

  const tracker = new PodTracker(cp.client, ns, 'app=web');
  t.teardown(() => tracker.stop());
  await tracker.start();
  tracker.arm();
  await mutate(cp.client, 'Deployment', ns, 'web', (d) => {
    (d.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = BAD;
  });

  let d: PlainObject | undefined;
  await until(
    () => `Progressing=False ProgressDeadlineExceeded (last status: ${JSON.stringify(d?.status)})`,
    async () => {
      d = await cp.client.get('Deployment', ns, 'web');
      const c = deploymentStatus(d).conditions?.find((x) => x.type === 'Progressing');
      return c?.status === 'False' && c.reason === 'ProgressDeadlineExceeded' ? d : undefined;
    },
    30_000,
    200,
  );
  // Stuck exactly at the budget: maxSurge + maxUnavailable new pods that cannot start,
  // replicas − maxUnavailable old ones still serving. (The deadline only reports; the
  // rollout could still move, so this waits for that state rather than expecting it at once.)
  await until(
    () => `the rollout to stand at ${replicas - maxUnavailable} available, ${maxSurge + maxUnavailable} updated (last status: ${JSON.stringify(d?.status)})`,
    async () => {
      d = await cp.client.get('Deployment', ns, 'web');
      const s = deploymentStatus(d);
      return s.availableReplicas === replicas - maxUnavailable && s.updatedReplicas === maxSurge + maxUnavailable ? true : undefined;
    },
    10_000,
    200,
  );
  const pods = (await podsOf(cp.client, ns, 'app=web')).filter((p) => !isTerminating(p));
  const bad = pods.filter((p) => imageOf(p) === BAD);
  t.is(bad.length, maxSurge + maxUnavailable);
  for (const p of bad) {
    const reason = (p.status as { containerStatuses?: { state?: { waiting?: { reason?: string } } }[] }).containerStatuses?.[0]?.state?.waiting?.reason;
    t.true(reason === 'ErrImagePull' || reason === 'ImagePullBackOff', `${nameOf(p)} waits with ${reason}`);
    t.false(isReady(p));
  }
  t.is(pods.filter((p) => imageOf(p) === 'busybox:v1' && isReady(p)).length, replicas - maxUnavailable);

  const undo = await berth(cp, ['rollout', 'undo', 'deployment/web', '-n', ns]);
  t.is(undo.code, 0, undo.stderr);
  t.regex(undo.stdout, /deployment\.apps\/web rolled back/);
  const done = await waitDeploymentDone(cp.client, ns, 'web');
  t.is((done.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image, 'busybox:v1');
  const progressing = deploymentStatus(done).conditions?.find((x) => x.type === 'Progressing');
  t.is(progressing?.status, 'True');
  const final = (await podsOf(cp.client, ns, 'app=web')).filter((p) => !isTerminating(p));
  t.is(final.length, replicas);
  t.true(final.every((p) => imageOf(p) === 'busybox:v1' && isReady(p)), 'every pod is back on the old template and Ready');

  await tracker.caughtUp();
  t.is(tracker.broken, undefined);
  t.true(tracker.events > 0);
  t.true(tracker.minReady >= replicas - maxUnavailable, `ready pods fell to ${tracker.minReady} (${tracker.minReadyAt}); maxUnavailable is ${maxUnavailable}`);
});

test.serial('the leader SIGKILLed mid-rollout: the next leader finishes it, never more than replicas + maxSurge pods', async (t) => {
  const ns = 'failover';
  // Containers take a while to start, so the rollout is still under way when the leader dies.
  await suite(t, ns, 4, { startDelayMs: 1500 });
  const replicas = 12;
  const maxSurge = 2;
  const maxUnavailable = 1;
  const leader = await cp.leader();
  const follower = [1, 2, 3].find((id) => id !== leader)!;
  // The watch starts on a follower (and resumes on another replica if that one goes).
  const watchClient = new BerthClient({ endpoints: [cp.cluster.apiAddress(follower), ...cp.addresses.filter((a) => a !== cp.cluster.apiAddress(follower))] });
  const tracker = new PodTracker(watchClient, ns, 'app=web');
  t.teardown(() => {
    tracker.stop();
    watchClient.close();
  });
  await tracker.start();
  await createSurely(cp.client, deployment(ns, 'web', { replicas, suite: ns, maxSurge, maxUnavailable, env: { VERSION: 'v1' } }));
  await waitDeploymentDone(cp.client, ns, 'web');

  await mutate(cp.client, 'Deployment', ns, 'web', (d) => {
    (d.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }).template.spec.containers[0]!.env = [{ name: 'VERSION', value: 'v2' }];
  });
  // Mid-rollout: pods of the new template exist, and some of the old ones still run.
  const midway = await until(
    'the rollout to be under way',
    async () => {
      const d = await cp.client.get('Deployment', ns, 'web');
      const s = deploymentStatus(d);
      const g = (d.metadata as { generation?: number }).generation;
      return s.observedGeneration === g && (s.updatedReplicas ?? 0) > 0 && (s.updatedReplicas ?? 0) < replicas ? s : undefined;
    },
    20_000,
    50,
  );
  await cp.cluster.kill(leader, 'SIGKILL');
  const next = await cp.leader({ not: leader });
  t.log(`killed leader ${leader} with ${midway.updatedReplicas}/${replicas} replicas updated; replica ${next} leads now`);
  await cp.cluster.start(leader);

  const done = await waitDeploymentDone(cp.client, ns, 'web', 90_000);
  t.true(deploymentDone(done));
  const pods = (await podsOf(cp.client, ns, 'app=web')).filter((p) => !isTerminating(p));
  t.is(pods.length, replicas);
  for (const p of pods) {
    const env = (p.spec as { containers: { env?: { name: string; value: string }[] }[] }).containers[0]!.env ?? [];
    t.deepEqual(env, [{ name: 'VERSION', value: 'v2' }], `${nameOf(p)} runs the new template`);
    t.true(isReady(p));
  }
  await tracker.caughtUp();
  t.is(tracker.broken, undefined);
  t.true(tracker.events >= 2 * replicas, `the watch saw ${tracker.events} events`);
  t.true(tracker.maxPresent <= replicas + maxSurge, `${tracker.maxPresent} pods at once; replicas + maxSurge is ${replicas + maxSurge}`);
  t.log(`most pods at once: ${tracker.maxPresent}; watch resumed ${tracker.resumes} time(s)`);
});

test.serial('Jobs with failing pods end Complete or Failed as their spec says', async (t) => {
  const ns = 'jobs';
  const fleet = await suite(t, ns, 3);
  // Containers exit at once with the code their command names; the first pod of "flaky" fails.
  let flakyFailed = false;
  fleet.setBehaviour((cfg, sandbox) => {
    let code = Number(/exit (\d+)/.exec([...cfg.command, ...cfg.args].join(' '))?.[1] ?? 0);
    if (sandbox.name.startsWith('flaky-') && !flakyFailed) {
      flakyFailed = true;
      code = 1;
    }
    return { exitAfterMs: 0, exitCode: code };
  });
  const job = (name: string, spec: { completions: number; parallelism: number; backoffLimit: number }, exit: number): PlainObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: {
      ...spec,
      template: {
        spec: {
          restartPolicy: 'Never',
          nodeSelector: { [SUITE_LABEL]: ns },
          containers: [{ name: 'c', image: 'busybox:v1', command: ['sh', '-c', `exit ${exit}`] }],
        },
      },
    },
  });
  await createSurely(cp.client, job('flaky', { completions: 3, parallelism: 2, backoffLimit: 2 }, 0));
  await createSurely(cp.client, job('doomed', { completions: 1, parallelism: 1, backoffLimit: 1 }, 1));

  type JobView = { status?: { succeeded?: number; failed?: number; active?: number; conditions?: { type: string; status: string; reason?: string }[] } };
  const finished = async (name: string) => {
    let j: JobView | undefined;
    return until(
      async () => {
        const pods = await podsOf(cp.client, ns, `batch.kubernetes.io/job-name=${name}`).catch(() => []);
        return `job ${name} to finish (status ${JSON.stringify(j?.status)}; pods ${pods.map((p) => `${nameOf(p)}:${podPhase(p)}${isTerminating(p) ? '(terminating)' : ''}`).join(' ')})`;
      },
      async () => {
        j = (await cp.client.get('Job', ns, name)) as JobView;
        return (j.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ? j : undefined;
      },
      60_000,
      200,
    );
  };
  const [flaky, doomed] = await Promise.all([finished('flaky'), finished('doomed')]);
  const cond = (j: JobView, type: string) => j.status?.conditions?.find((c) => c.type === type && c.status === 'True');

  t.truthy(cond(flaky, 'Complete'), JSON.stringify(flaky.status));
  t.falsy(cond(flaky, 'Failed'));
  t.is(flaky.status?.succeeded, 3);
  t.is(flaky.status?.failed, 1);
  t.true(flakyFailed);

  t.truthy(cond(doomed, 'Failed'), JSON.stringify(doomed.status));
  t.is(cond(doomed, 'Failed')?.reason, 'BackoffLimitExceeded');
  t.falsy(cond(doomed, 'Complete'));
  t.is(doomed.status?.failed, 2, 'backoffLimit 1: the second failure fails the Job');
  t.is(doomed.status?.succeeded ?? 0, 0);
  const doomedPods = await podsOf(cp.client, ns, 'batch.kubernetes.io/job-name=doomed');
  t.is(doomedPods.length, 2);
  for (const p of doomedPods) {
    t.is(podPhase(p), 'Failed');
    const term = (p.status as { containerStatuses?: { state?: { terminated?: { exitCode?: number } } }[] }).containerStatuses?.[0]?.state?.terminated;
    t.is(term?.exitCode, 1);
  }
  const flakyPods = await podsOf(cp.client, ns, 'batch.kubernetes.io/job-name=flaky');
  t.is(flakyPods.filter((p) => podPhase(p) === 'Succeeded').length, 3);
  t.is(flakyPods.filter((p) => podPhase(p) === 'Failed').length, 1);
});

// ---- containerd -------------------------------------------------------------------------------

const CRI_SOCKET = criSocketFromEnv();
const BUSYBOX = `${process.env.BERTH_REGISTRY?.trim() || 'localhost:5000'}/busybox:latest`;

function criTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (CRI_SOCKET) test.serial(title, fn);
  else if (criRequired()) {
    test.serial(title, (t) => {
      t.fail(`no containerd socket: BERTH_CRI_SOCKET is unset and ${join(process.env.BERTH_HOST_DIR?.trim() || DEFAULT_HOST_DIR, 'containerd.sock')} does not exist; run scripts/host-setup.sh (as root) first`);
    });
  } else test.skip(title, fn);
}

function httpGet(url: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

criTest('on containerd: httpd pods roll to a new version and back (rollout undo), all Ready and answering HTTP', async (t) => {
  const ns = 'cri';
  const prefix = `cri-${randomUUID().slice(0, 8)}`;
  await createNamespace(cp.client, ns);
  const agents = new AgentProcs({
    dir: join(cp.dir, 'cri-agent'),
    servers: cp.addresses,
    runtime: 'cri',
    criSocket: CRI_SOCKET!,
    namePrefix: prefix,
    extraArgs: ['--labels', `${SUITE_LABEL}=${ns}`, '--quiet'],
  });
  const node = agents.name(1);
  const rt = new CriRuntime(CRI_SOCKET!, { callTimeoutMs: 20_000 });
  /** Sandboxes containerd still has for this node. */
  const sandboxesLeft = async () => (await rt.listPodSandboxes()).filter((s) => s.labels[LABEL_NODE] === node);
  t.teardown(async () => {
    // Pods go while the agent still runs (it stops their containers), then the agent.
    await cp.client.delete('Namespace', '', ns).catch(() => undefined);
    await until('the cri pods to go', async () => ((await podsOf(cp.client, ns, '')).length === 0 ? true : undefined), 30_000).catch(() => undefined);
    await agents.stopAll();
    for (const s of await sandboxesLeft().catch(() => [])) {
      await rt.stopPodSandbox(s.id).catch(() => undefined);
      await rt.removePodSandbox(s.id).catch(() => undefined);
    }
    await rt.close();
    await cp.client.delete('Node', '', node).catch(() => undefined);
  });
  agents.start(1);
  await waitNodesSchedulable(cp.client, [node], 60_000);

  // busybox httpd as PID 1 ignores SIGTERM: a shell that forwards it (CONTAINERD.md).
  const script = 'mkdir -p /www && echo "$VERSION" > /www/index.html && httpd -f -p 8080 -h /www & p=$!; trap "kill $p; exit 0" TERM; wait $p';
  const d = deployment(ns, 'web', {
    replicas: 3,
    suite: ns,
    maxSurge: 1,
    maxUnavailable: 0,
    terminationGracePeriodSeconds: 5,
    container: {
      name: 'web',
      image: BUSYBOX,
      command: ['sh', '-c', script],
      env: [{ name: 'VERSION', value: 'v1' }],
      ports: [{ containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/index.html', port: 8080 }, periodSeconds: 1 },
    },
  });
  (d.spec as { template: { spec: { nodeSelector: Record<string, string> } } }).template.spec.nodeSelector = { 'kubernetes.io/hostname': node };
  await createSurely(cp.client, d);

  const serving = async (version: string) => {
    await waitDeploymentDone(cp.client, ns, 'web', 120_000);
    const pods = (await podsOf(cp.client, ns, 'app=web')).filter((p) => !isTerminating(p));
    t.is(pods.length, 3);
    for (const p of pods) {
      t.true(isReady(p), `${nameOf(p)} is Ready`);
      t.is(nodeOf(p), node);
      const ip = String((p.status as { podIP?: string }).podIP ?? '');
      t.regex(ip, /^\d+\.\d+\.\d+\.\d+$/);
      t.is((await httpGet(`http://${ip}:8080/index.html`)).trim(), version, `${nameOf(p)} at ${ip} answers ${version}`);
    }
    return pods;
  };
  const v1 = await serving('v1');
  t.is(new Set(v1.map((p) => (p.status as { podIP?: string }).podIP)).size, 3, 'each pod has its own IP');

  await mutate(cp.client, 'Deployment', ns, 'web', (o) => {
    (o.spec as { template: { spec: { containers: { env: unknown[] }[] } } }).template.spec.containers[0]!.env = [{ name: 'VERSION', value: 'v2' }];
  });
  await serving('v2');

  // rollout undo, with the CLI's own client-side logic.
  const cur = await cp.client.get('Deployment', ns, 'web');
  const plan = planUndo(cur, (await replicaSetsOf(cp.client, cur)).all, 0);
  t.false(plan.unchanged);
  await cp.client.update(plan.deployment);
  const back = await serving('v1');
  t.is(plan.revision, 1);
  for (const p of back) t.false(v1.some((o) => nameOf(o) === nameOf(p)), 'the v1 pods are new ones');

  // Deleting the Deployment stops and removes every container of this node.
  await cp.client.delete('Deployment', ns, 'web');
  await until('the httpd pods to be gone', async () => ((await podsOf(cp.client, ns, 'app=web')).length === 0 ? true : undefined), 60_000, 200);
  await until('containerd to have no sandbox of this node', async () => ((await sandboxesLeft()).length === 0 ? true : undefined), 30_000, 200);
  t.pass();
});

// Last: it restarts every replica with the other scoring strategy.
test.serial('MostAllocated (after a restart with --scheduler-scoring) packs 30 replicas onto the fewest nodes', async (t) => {
  await cp.restartAll([...BASE_FLAGS, '--scheduler-scoring', 'MostAllocated']);
  const counts = await placement(t, 'pack');
  const fewest = Math.ceil(30 / PODS_PER_NODE);
  t.is(counts.size, fewest, `pods on ${counts.size} nodes; ${fewest} is the fewest that can hold them`);
  for (const [node, n] of counts) t.is(n, PODS_PER_NODE, `${node} is full`);
});
