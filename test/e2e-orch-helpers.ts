/**
 * Plumbing of test/e2e-orchestration.test.ts: a real three-replica control plane (`berth
 * server` child processes running the scheduler and every controller), fleets of hollow
 * nodes (fake runtime, in the test process) confined to one test by a label and a zone of
 * their own, object builders, a pod watch that keeps counting across replica deaths, and
 * the CLI as a child process. Not a test file itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Agent } from '../src/agent/agent.ts';
import { startHollowAgents, type HollowHandle } from '../src/agent/hollow.ts';
import { FakeRuntime, type FakeRuntimeOptions } from '../src/agent/runtimes/fake.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { ApiCallError, BerthClient, type PlainObject } from '../src/client/client.ts';

export { sleep };

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** The label (and zone) that confines a test's pods to its own fleet. */
export const SUITE_LABEL = 'berth.test/suite';
const ZONE_LABEL = 'topology.kubernetes.io/zone';

// ---- polling ----------------------------------------------------------------------------------

/** Poll `fn` until it returns something other than undefined; fail after `limitMs` naming `what`. */
export async function until<T>(what: string | (() => string | Promise<string>), fn: () => Promise<T | undefined> | T | undefined, limitMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + limitMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const w = typeof what === 'string' ? what : await what();
      throw new Error(`gave up waiting for ${w} after ${limitMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

// ---- the control plane ------------------------------------------------------------------------

export interface ControlPlane {
  cluster: ServerCluster;
  /** A client of every replica, failing over between them. */
  client: BerthClient;
  dir: string;
  addresses: string[];
  /** The leader's id once every running replica agrees on it. */
  leader(opts?: { not?: number; limitMs?: number }): Promise<number>;
  /** Stop every replica and start them again with these extra flags (the data is kept). */
  restartAll(extraArgs: string[]): Promise<void>;
  stop(keepDir: boolean): Promise<void>;
}

export async function startControlPlane(extraArgs: string[]): Promise<ControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-e2e-orch-'));
  const ports = await freePorts(6);
  const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet', ...extraArgs] });
  await cluster.startAll();
  const addresses = cluster.apiAddresses();
  const client = new BerthClient({ endpoints: addresses, timeoutMs: 10_000 });
  const statusClient = new BerthClient({ endpoints: addresses, timeoutMs: 2000 });
  const cp: ControlPlane = {
    cluster,
    client,
    dir,
    addresses,
    leader: (opts = {}) =>
      until(
        opts.not ? `a leader other than ${opts.not}` : 'a leader',
        async () => {
          const running = [1, 2, 3].filter((id) => cluster.running(id));
          const st = await Promise.all(running.map((id) => statusClient.status(id - 1).catch(() => undefined)));
          if (st.some((s) => s === undefined)) return undefined;
          const leader = st[0]!.leader;
          if (leader === 0 || leader === opts.not || !st.every((s) => s!.leader === leader)) return undefined;
          return st.find((s) => s!.id === leader)?.role === 'leader' ? leader : undefined;
        },
        opts.limitMs ?? 20_000,
        50,
      ),
    async restartAll(args) {
      await cluster.stopAll();
      cluster.opts.extraArgs = ['--quiet', ...args];
      await cluster.startAll();
      await waitForNamespace(client, 'default');
    },
    async stop(keepDir) {
      client.close();
      statusClient.close();
      await cluster.stopAll();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitForNamespace(client, 'default');
  return cp;
}

async function waitForNamespace(client: BerthClient, name: string): Promise<void> {
  await until(`namespace ${name}`, async () => ((await client.get('Namespace', '', name)) ? true : undefined), 30_000);
}

/** Create, sending again while the outcome is unknown (ALREADY_EXISTS after that: it took). */
export async function createSurely(client: BerthClient, obj: PlainObject): Promise<PlainObject> {
  const deadline = Date.now() + 20_000;
  let uncertain = false;
  for (;;) {
    try {
      return await client.create(obj);
    } catch (e) {
      const m = (obj.metadata ?? {}) as { namespace?: string; name?: string };
      if (uncertain && e instanceof ApiCallError && e.codeName === 'ALREADY_EXISTS') return client.get(String(obj.kind), m.namespace ?? '', String(m.name));
      if (!(e instanceof ApiCallError && e.codeName === 'UNAVAILABLE') || Date.now() > deadline) throw e;
      uncertain = true;
      await sleep(100);
    }
  }
}

export async function createNamespace(client: BerthClient, name: string): Promise<void> {
  await createSurely(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** Read-modify-write of an object's spec, again on a conflict. */
export async function mutate(client: BerthClient, kind: string, ns: string, name: string, fn: (o: PlainObject) => void): Promise<PlainObject> {
  for (let attempt = 0; ; attempt++) {
    const o = structuredClone(await client.get(kind, ns, name));
    fn(o);
    try {
      return await client.update(o);
    } catch (e) {
      if (!(e instanceof ApiCallError && e.codeName === 'ABORTED') || attempt >= 5) throw e;
    }
  }
}

// ---- hollow fleets ----------------------------------------------------------------------------

export interface Fleet {
  suite: string;
  names: string[];
  handle: HollowHandle;
  agent(name: string): Agent;
  runtime(name: string): FakeRuntime;
  runtimes(): FakeRuntime[];
  /** Script every node's containers. */
  setBehaviour(fn: FakeRuntimeOptions['behaviour']): void;
  stop(): Promise<void>;
}

/**
 * `count` hollow nodes named `<suite>-<i>`, labelled SUITE_LABEL=suite and in a zone of
 * their own (so that nodes of other tests, dead or alive, never move this zone's eviction
 * state). Resolves once every node is Ready and free of taints, so the scheduler sees them
 * all at once.
 */
export async function startFleet(
  cp: ControlPlane,
  suite: string,
  count: number,
  opts: { capacity?: { cpu: string; memory: string; pods: number }; startDelayMs?: number } = {},
): Promise<Fleet> {
  const handle = await startHollowAgents({
    servers: cp.addresses,
    count,
    namePrefix: suite,
    labels: { [SUITE_LABEL]: suite, [ZONE_LABEL]: suite },
    capacity: opts.capacity ?? { cpu: '4', memory: '16Gi', pods: 110 },
    ...(opts.startDelayMs ? { startDelayMs: opts.startDelayMs } : {}),
  });
  const names = handle.agents.map((a) => a.name);
  const agent = (name: string) => {
    const a = handle.agents.find((x) => x.name === name);
    if (!a) throw new Error(`no hollow node ${name}`);
    return a;
  };
  const runtime = (name: string) => {
    const r = agent(name).runtime;
    if (!(r instanceof FakeRuntime)) throw new Error(`${name} does not run the fake runtime`);
    return r;
  };
  const fleet: Fleet = {
    suite,
    names,
    handle,
    agent,
    runtime,
    runtimes: () => names.map(runtime),
    setBehaviour: (fn) => {
      for (const n of names) runtime(n).setBehaviour(fn);
    },
    stop: () => handle.stop(),
  };
  try {
    await waitNodesSchedulable(cp.client, names);
  } catch (e) {
    await handle.stop();
    throw e;
  }
  return fleet;
}

export function nodeReady(n: PlainObject): string | undefined {
  return ((n.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Ready')?.status;
}

export function taintsOf(n: PlainObject): { key: string; effect: string; timeAdded?: string }[] {
  return ((n.spec as { taints?: { key: string; effect: string; timeAdded?: string }[] } | undefined)?.taints ?? []);
}

export async function waitNodesSchedulable(client: BerthClient, names: string[], limitMs = 30_000): Promise<void> {
  let pending: string[] = names;
  await until(
    () => `nodes ${pending.join(', ')} to be Ready without taints`,
    async () => {
      const nodes = (await client.list('Node')).items;
      pending = names.filter((name) => {
        const n = nodes.find((x) => nameOf(x) === name);
        return !n || nodeReady(n) !== 'True' || taintsOf(n).length > 0;
      });
      return pending.length === 0 ? true : undefined;
    },
    limitMs,
  );
}

/**
 * Best-effort teardown of one test's world: its namespace is deleted while its agents still
 * run (they confirm their pods' graceful deletions); pods still terminating after a few
 * seconds (a dead node's: nobody will confirm them) are removed at once; then the agents
 * stop and their nodes go.
 */
export async function cleanupSuite(cp: ControlPlane, ns: string, fleet: Fleet | undefined): Promise<void> {
  const c = cp.client;
  await c.delete('Namespace', '', ns).catch(() => undefined);
  const start = Date.now();
  while (Date.now() - start < 15_000) {
    const gone = await c.get('Namespace', '', ns).then(() => false, (e: unknown) => e instanceof ApiCallError && e.codeName === 'NOT_FOUND');
    if (gone) break;
    if (Date.now() - start > 3000) {
      const pods = await c.list('Pod', { namespace: ns }).catch(() => undefined);
      for (const p of pods?.items ?? []) await c.delete('Pod', ns, nameOf(p), { gracePeriodSeconds: 0 }).catch(() => undefined);
    }
    await sleep(200);
  }
  await fleet?.stop().catch(() => undefined);
  for (const n of fleet?.names ?? []) await c.delete('Node', '', n).catch(() => undefined);
}

// ---- objects ----------------------------------------------------------------------------------

export function nameOf(o: PlainObject): string {
  return String((o.metadata as { name?: string } | undefined)?.name ?? '');
}

export interface DeploymentOptions {
  replicas: number;
  image?: string;
  suite: string;
  requests?: { cpu: string; memory: string };
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  progressDeadlineSeconds?: number;
  env?: Record<string, string>;
  /** The container (default: a fake one named c). */
  container?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
}

export function deployment(ns: string, name: string, o: DeploymentOptions): PlainObject {
  const container = o.container ?? {
    name: 'c',
    image: o.image ?? 'busybox:v1',
    ...(o.requests ? { resources: { requests: o.requests } } : {}),
    ...(o.env ? { env: Object.entries(o.env).map(([k, v]) => ({ name: k, value: v })) } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: o.maxSurge ?? '25%', maxUnavailable: o.maxUnavailable ?? '25%' } },
      ...(o.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: o.progressDeadlineSeconds } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { [SUITE_LABEL]: o.suite },
          terminationGracePeriodSeconds: o.terminationGracePeriodSeconds ?? 1,
          containers: [container],
        },
      },
    },
  };
}

interface DeploymentStatusView {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

export function deploymentStatus(d: PlainObject): DeploymentStatusView {
  return (d.status ?? {}) as DeploymentStatusView;
}

/** The rollout is done: the status is of this generation and every replica is updated and available. */
export function deploymentDone(d: PlainObject): boolean {
  const s = deploymentStatus(d);
  const want = (d.spec as { replicas?: number }).replicas ?? 1;
  return (
    s.observedGeneration === (d.metadata as { generation?: number }).generation &&
    s.updatedReplicas === want &&
    s.availableReplicas === want &&
    s.replicas === want
  );
}

export async function waitDeploymentDone(client: BerthClient, ns: string, name: string, limitMs = 60_000): Promise<PlainObject> {
  let last: PlainObject | undefined;
  return until(
    async () => `deployment ${ns}/${name} to finish its rollout (last status: ${JSON.stringify(last?.status)}; pods not ready: ${await notReadyPods(client, ns)})`,
    async () => {
      last = await client.get('Deployment', ns, name);
      return deploymentDone(last) ? last : undefined;
    },
    limitMs,
    200,
  );
}

/** The pods of `ns` that are not Ready, with what they say about themselves (failure messages). */
export async function notReadyPods(client: BerthClient, ns: string): Promise<string> {
  const pods = await client.list('Pod', { namespace: ns }).catch(() => undefined);
  if (!pods) return '(could not list them)';
  const bad = pods.items.filter((p) => !isReady(p) || isTerminating(p));
  return bad.length === 0 ? 'none' : bad.map((p) => `${nameOf(p)} node=${nodeOf(p) || '-'}${isTerminating(p) ? ' terminating' : ''} status=${JSON.stringify(p.status)}`).join('; ');
}

export function isReady(p: PlainObject): boolean {
  return ((p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function isTerminating(p: PlainObject): boolean {
  return Boolean((p.metadata as { deletionTimestamp?: string } | undefined)?.deletionTimestamp);
}

export function nodeOf(p: PlainObject): string {
  return String((p.spec as { nodeName?: string } | undefined)?.nodeName ?? '');
}

export function podPhase(p: PlainObject): string {
  return String((p.status as { phase?: string } | undefined)?.phase ?? '');
}

export function imageOf(p: PlainObject): string {
  return String(((p.spec as { containers?: { image?: string }[] } | undefined)?.containers ?? [])[0]?.image ?? '');
}

export async function podsOf(client: BerthClient, ns: string, selector: string): Promise<PlainObject[]> {
  return (await client.list('Pod', { namespace: ns, labelSelector: selector })).items;
}

/** Pods per node among the live (not terminating) pods. */
export function countByNode(pods: PlainObject[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of pods) if (!isTerminating(p)) m.set(nodeOf(p), (m.get(nodeOf(p)) ?? 0) + 1);
  return m;
}

// ---- a pod watch that counts at every event ----------------------------------------------------

interface PodView {
  ready: boolean;
  terminating: boolean;
}

/**
 * Lists then watches a namespace's pods, and after every event counts the pods that are
 * not terminating (`present`) and those also Ready (`ready`): the store's history one change
 * at a time. When the replica it watches dies it resumes from the last resourceVersion on
 * the next replica; if that is impossible `broken` says why (the counts would have a hole).
 */
export class PodTracker {
  readonly pods = new Map<string, PodView>();
  maxPresent = 0;
  /** The fewest ready pods seen since arm() (Infinity before). */
  minReady = Number.POSITIVE_INFINITY;
  /** The state at the moment minReady was seen. */
  minReadyAt = '';
  events = 0;
  resumes = 0;
  broken: string | undefined;
  private armed = false;
  private rv = '';
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly client: BerthClient,
    private readonly ns: string,
    private readonly selector: string,
  ) {}

  async start(): Promise<void> {
    const l = await this.client.list('Pod', { namespace: this.ns, labelSelector: this.selector });
    for (const p of l.items) this.pods.set(nameOf(p), view(p));
    this.rv = l.resourceVersion;
    this.count();
    this.watch();
  }

  /** From now on, track the fewest ready pods. */
  arm(): void {
    this.armed = true;
    this.minReady = Number.POSITIVE_INFINITY;
    this.count();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  /** Pods not terminating, and those ready, now. */
  now(): { present: number; ready: number } {
    let present = 0;
    let ready = 0;
    for (const v of this.pods.values()) {
      if (v.terminating) continue;
      present++;
      if (v.ready) ready++;
    }
    return { present, ready };
  }

  /**
   * Resolves once the watch shows what a list shows now (call it when the pods have
   * settled). Resource versions cannot tell: they count every kind, and a watch of a few
   * pods hears of the others only at the server's bookmarks, seconds apart.
   */
  async caughtUp(limitMs = 15_000): Promise<void> {
    const digest = (entries: [string, PodView][]) =>
      entries
        .map(([n, v]) => `${n}:${v.ready ? 'R' : '-'}${v.terminating ? 'T' : ''}`)
        .sort()
        .join(' ');
    await until(
      'the pod watch to show what a list shows',
      async () => {
        if (this.broken !== undefined) return true;
        const listed = (await this.client.list('Pod', { namespace: this.ns, labelSelector: this.selector })).items.map((p): [string, PodView] => [nameOf(p), view(p)]);
        return digest(listed) === digest([...this.pods.entries()]) ? true : undefined;
      },
      limitMs,
      100,
    );
  }

  private count(): void {
    const { present, ready } = this.now();
    this.maxPresent = Math.max(this.maxPresent, present);
    if (this.armed && ready < this.minReady) {
      this.minReady = ready;
      this.minReadyAt = `rv ${this.rv}: ${present} present, ${ready} ready`;
    }
  }

  private watch(): void {
    this.cancel = this.client.watch(
      'Pod',
      { namespace: this.ns, labelSelector: this.selector, resourceVersion: this.rv, allowBookmarks: true },
      (ev) => {
        if (ev.resourceVersion) this.rv = ev.resourceVersion;
        if (ev.type === 'BOOKMARK' || !ev.object) return;
        this.events++;
        const name = nameOf(ev.object);
        if (ev.type === 'DELETED') this.pods.delete(name);
        else this.pods.set(name, view(ev.object));
        this.count();
      },
      (err) => {
        if (this.stopped) return;
        if (err && (err.codeName === 'OUT_OF_RANGE' || err.codeName === 'INVALID_ARGUMENT' || err.codeName === 'FAILED_PRECONDITION' || err.codeName === 'ABORTED')) {
          this.broken = `the pod watch could not resume from ${this.rv}: ${err.codeName} ${err.message}`;
          return;
        }
        // The replica went away (the client moved on to the next one): resume there.
        this.resumes++;
        setTimeout(() => {
          if (!this.stopped) this.watch();
        }, 100);
      },
    );
  }
}

function view(p: PlainObject): PodView {
  return { ready: isReady(p), terminating: isTerminating(p) };
}

// ---- the CLI ----------------------------------------------------------------------------------

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `berth ARGS` as a child process against `cp` (no config file, no $BERTH_SERVER). */
export function berth(cp: ControlPlane, args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args, '--server', cp.addresses.join(',')],
      { env: { ...process.env, BERTH_CONFIG: join(cp.dir, 'no-config'), BERTH_SERVER: '', NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && code === -1) reject(err);
        else resolve({ code, stdout, stderr });
      },
    ).stdin?.end();
  });
}
