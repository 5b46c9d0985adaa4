/**
 * The orchestration half of a chaos run: Deployments that are scaled, rolled out and
 * rolled back and Jobs with a known outcome (the workload), what actually runs sampled all
 * along (pod processes from /proc, the process runtime's sandbox records), a pod watch
 * that checks every change against the nodes' allocatable, and a poller that notes when
 * the orchestration state is converged (per fault: from injection, and from heal, to
 * convergence). After the heal the checks wait for every Deployment and Job to reach
 * exactly the end state the workload asked for.
 *
 * One `Orchestration` per run, found from the run's agents (scenarios' workloads(),
 * checks() and run() all see the same ChaosAgents).
 */
import { ApiCallError, BerthClient, type PlainObject } from '../../src/client/client.ts';
import { planUndo } from '../../src/cli/commands/rollout.ts';
import { replicaSetsOf } from '../../src/cli/commands/workloads.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosAgents } from './agents.ts';
import { sleep } from './cluster.ts';
import type { FaultRecord } from './faults.ts';
import {
  allocatableOf,
  convergedAfter,
  overcommitViolations,
  sandboxViolations,
  twiceViolations,
  type Allocatable,
  type ConvergenceSample,
  type SandboxRecordView,
} from './orch-checks.ts';
import { groupAlive, MARKER_ENV, scanPodProcesses } from './procscan.ts';
import type { Rng } from './rng.ts';
import type { Check, CheckResult, RunContext, Workload } from './types.ts';
import { classifyError } from './workload.ts';

export const ORCH_NAMESPACE = 'chaos-orch';
const POD_CPU = '150m';
const POD_MEMORY = '32Mi';

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const meta = (o: PlainObject | undefined): Obj => rec(o?.metadata);
const nameOf = (o: PlainObject): string => String(meta(o).name ?? '');

function envVersion(podSpec: unknown): string {
  const c = rec(podSpec).containers;
  const first = Array.isArray(c) ? rec(c[0]) : {};
  const env = Array.isArray(first.env) ? (first.env as Obj[]) : [];
  return String(env.find((e) => e.name === 'VERSION')?.value ?? '');
}

/** A Deployment's template version (its container's VERSION variable). */
function versionOf(d: PlainObject): string {
  return envVersion(rec(rec(d.spec).template).spec);
}

function podVersion(p: PlainObject): string {
  return envVersion(p.spec);
}

const terminating = (p: PlainObject) => meta(p).deletionTimestamp !== undefined && meta(p).deletionTimestamp !== null;
const phaseOf = (p: PlainObject) => String(rec(p.status).phase ?? '');
const nodeOfPod = (p: PlainObject) => String(rec(p.spec).nodeName ?? '');
function podReady(p: PlainObject): boolean {
  const cs = rec(p.status).conditions;
  return Array.isArray(cs) && cs.some((c) => rec(c).type === 'Ready' && rec(c).status === 'True');
}
function nodeReady(n: PlainObject): boolean {
  const cs = rec(n.status).conditions;
  return Array.isArray(cs) && cs.some((c) => rec(c).type === 'Ready' && rec(c).status === 'True');
}
function jobCondition(j: PlainObject): 'Complete' | 'Failed' | undefined {
  const cs = rec(j.status).conditions;
  if (!Array.isArray(cs)) return undefined;
  for (const c of cs) {
    const x = rec(c);
    if ((x.type === 'Complete' || x.type === 'Failed') && x.status === 'True') return x.type;
  }
  return undefined;
}

/** The environment every chaos pod carries: the run's marker and its identity (procscan.ts). */
function podEnv(marker: string, extra: { name: string; value: string }[] = []): Obj[] {
  const field = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return [
    { name: MARKER_ENV, value: marker },
    { name: 'CHAOS_CONTAINER', value: 'c' },
    field('POD_UID', 'metadata.uid'),
    field('POD_NAME', 'metadata.name'),
    field('POD_NAMESPACE', 'metadata.namespace'),
    field('NODE_NAME', 'spec.nodeName'),
    ...extra,
  ];
}

function deploymentObject(name: string, replicas: number, version: string, marker: string): PlainObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ORCH_NAMESPACE },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      // Never below the desired count during a rollout: availability only drops on faults.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'c',
              image: 'chaos/sleep',
              command: ['/bin/sh', '-c', 'exec sleep 3600'],
              env: podEnv(marker, [{ name: 'VERSION', value: version }]),
              resources: { requests: { cpu: POD_CPU, memory: POD_MEMORY } },
            },
          ],
        },
      },
    },
  };
}

function jobObject(name: string, expect: 'Complete' | 'Failed', marker: string): PlainObject {
  const ok = expect === 'Complete';
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ORCH_NAMESPACE },
    spec: {
      // Complete: 3 successes, 2 at a time, room for pods lost with their nodes.
      // Failed: both pods fail at once and the limit is 1: Failed with no back-off wait.
      completions: ok ? 3 : 2,
      parallelism: 2,
      backoffLimit: ok ? 8 : 1,
      template: {
        metadata: { labels: { job: name } },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'c',
              image: 'chaos/sh',
              command: ['/bin/sh', '-c', ok ? 'sleep 1; exit 0' : 'sleep 0.5; exit 3'],
              env: podEnv(marker),
              resources: { requests: { cpu: '100m', memory: POD_MEMORY } },
            },
          ],
        },
      },
    },
  };
}

interface DeployState {
  name: string;
  /** What the last acknowledged write left (the server's answer). */
  replicas: number;
  version: string;
  /** Writes whose outcome is unknown since then (they may yet have applied). */
  maybe: { replicas: number; version: string }[];
  scales: number;
  rollouts: number;
  undos: number;
}

interface JobState {
  name: string;
  expect: 'Complete' | 'Failed';
  created: 'yes' | 'unknown' | 'no';
}

const ALWAYS = ['deploy-a', 'deploy-b', 'deploy-c'];

export interface OrchestrationOptions {
  /** Every container must be adopted across agent restarts (no container started twice for one pod). */
  strictAdoption?: boolean;
}

/** One run's orchestration: workload, samplers, checks. */
export class Orchestration {
  readonly deployments = new Map<string, DeployState>();
  readonly jobs = new Map<string, JobState>();
  private readonly client: BerthClient;
  private readonly rng: Rng;
  private readonly marker: string;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private versionSeq = 1;
  private jobPairs = 0;
  private calls = { ok: 0, conflict: 0, unknown: 0, error: 0 };
  private readonly specMismatch: string[] = [];
  // samplers
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  readonly samples: ConvergenceSample[] = [];
  private polling = false;
  private procSamples = 0;
  private maxProcs = 0;
  private readonly twice = new Map<string, number>();
  private readonly sandboxTwice = new Map<string, number>();
  /** Pod uid → process groups seen for its container (strict adoption). */
  private readonly groupsByPod = new Map<string, { name: string; groups: Set<number> }>();
  private readonly allocatable = new Map<string, Allocatable>();
  private readonly podMap = new Map<string, PlainObject>();
  private readonly overcommit = new Map<string, number>();
  private podEvents = 0;
  private watchCancel: (() => void) | undefined;
  private watchRv = '';
  private watchEndpoint = 0;
  private watchResumes = 0;
  private readonly watchClients: BerthClient[];
  private t0 = performance.now();
  finalConvergeMs: number | undefined;

  constructor(
    readonly ctx: RunContext,
    readonly agents: ChaosAgents,
    readonly opts: OrchestrationOptions = {},
  ) {
    this.client = new BerthClient({ endpoints: ctx.endpoints, timeoutMs: 5000 });
    this.watchClients = ctx.endpoints.map((e) => new BerthClient({ endpoints: [e], timeoutMs: 5000 }));
    this.rng = ctx.rng.fork();
    this.marker = agents.opts.marker;
  }

  // ---- API calls with outcome classification ------------------------------------------------

  private async write(f: () => Promise<PlainObject>): Promise<{ outcome: 'ok'; obj: PlainObject } | { outcome: 'conflict' | 'unknown' | 'error' | 'exists'; err: unknown }> {
    try {
      const obj = await f();
      this.calls.ok++;
      return { outcome: 'ok', obj };
    } catch (e) {
      if (e instanceof ApiCallError && e.codeName === 'ABORTED') {
        this.calls.conflict++;
        return { outcome: 'conflict', err: e };
      }
      if (e instanceof ApiCallError && e.codeName === 'ALREADY_EXISTS') {
        this.calls.error++;
        return { outcome: 'exists', err: e };
      }
      const c = classifyError(e, 'write');
      if (c === 'unknown') this.calls.unknown++;
      else this.calls.error++;
      return { outcome: c === 'unknown' ? 'unknown' : 'error', err: e };
    }
  }

  /** Retry `f` until it succeeds or `limitMs` passed (reads; idempotent set-up). */
  private async retry<T>(what: string, f: () => Promise<T>, limitMs = 30_000): Promise<T> {
    const deadline = performance.now() + limitMs;
    for (;;) {
      try {
        return await f();
      } catch (e) {
        if (performance.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
        await sleep(200);
      }
    }
  }

  // ---- set-up --------------------------------------------------------------------------------

  async setup(): Promise<void> {
    this.t0 = performance.now();
    await this.retry('create namespace', async () => {
      const r = await this.write(() => this.client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ORCH_NAMESPACE } }));
      if (r.outcome !== 'ok' && r.outcome !== 'exists') throw r.err;
    });
    for (const [i, name] of ALWAYS.entries()) {
      const replicas = 2 + (i % 2);
      const version = `v${this.versionSeq++}`;
      await this.retry(`create deployment ${name}`, async () => {
        const r = await this.write(() => this.client.create(deploymentObject(name, replicas, version, this.marker)));
        if (r.outcome !== 'ok' && r.outcome !== 'exists') throw r.err;
      });
      this.deployments.set(name, { name, replicas, version, maybe: [], scales: 0, rollouts: 0, undos: 0 });
    }
    await this.createJobPair(true);
    this.startSamplers();
    // Everything available before the faults start (the first rollouts take a moment).
    await this.waitConverged(60_000);
  }

  private async createJobPair(surely: boolean): Promise<void> {
    const n = ++this.jobPairs;
    for (const expect of ['Complete', 'Failed'] as const) {
      const name = `job-${n}-${expect === 'Complete' ? 'ok' : 'fail'}`;
      const st: JobState = { name, expect, created: 'no' };
      this.jobs.set(name, st);
      await this.createJob(st, surely);
    }
  }

  private async createJob(st: JobState, surely: boolean): Promise<void> {
    const attempt = async () => {
      const r = await this.write(() => this.client.create(jobObject(st.name, st.expect, this.marker)));
      if (r.outcome === 'ok' || (r.outcome === 'exists' && st.created === 'unknown')) st.created = 'yes';
      else if (r.outcome === 'unknown') st.created = 'unknown';
      if (st.created !== 'yes') throw r.outcome === 'ok' ? new Error('?') : r.err;
    };
    if (surely) await this.retry(`create job ${st.name}`, attempt);
    else await attempt().catch(() => undefined);
  }

  // ---- the workload --------------------------------------------------------------------------

  workload(): Workload {
    return {
      name: 'orchestration',
      setup: () => this.setup(),
      start: () => {
        this.stopped = false;
        this.loop = this.run();
      },
      stop: async () => {
        this.stopped = true;
        await this.loop;
        this.loop = undefined;
      },
      close: () => this.close(),
      summary: () => this.summary(),
    };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await sleep(this.rng.range(700, 1800));
      if (this.stopped) break;
      // Jobs whose creation is still in doubt, then one change.
      for (const j of this.jobs.values()) if (j.created !== 'yes') await this.createJob(j, false);
      const x = this.rng.int(100);
      const d = this.deployments.get(this.rng.pick(ALWAYS))!;
      try {
        if (x < 35) await this.scale(d);
        else if (x < 65) await this.rollout(d);
        else if (x < 85) await this.undo(d);
        else if (this.jobPairs < 3) await this.createJobPair(false);
        else await this.scale(d);
      } catch (e) {
        // A read that failed (no leader): try something else next time.
        this.calls.error++;
        void e;
      }
    }
  }

  /** After a write: the answer is the truth; a write in doubt may still apply. */
  private record(d: DeployState, r: Awaited<ReturnType<Orchestration['write']>>, intent: { replicas: number; version: string }): void {
    if (r.outcome === 'ok') {
      d.replicas = Number(rec(r.obj.spec).replicas ?? 1);
      d.version = versionOf(r.obj);
      d.maybe = [];
    } else if (r.outcome === 'unknown') d.maybe.push(intent);
  }

  private async scale(d: DeployState): Promise<void> {
    const cur = await this.client.get('Deployment', ORCH_NAMESPACE, d.name);
    const now = Number(rec(cur.spec).replicas ?? 1);
    let want = this.rng.range(1, 4);
    if (want === now) want = now === 1 ? 2 : now - 1;
    const next = structuredClone(cur);
    rec(next.spec).replicas = want;
    const r = await this.write(() => this.client.update(next));
    d.scales++;
    this.record(d, r, { replicas: want, version: versionOf(cur) });
  }

  private async rollout(d: DeployState): Promise<void> {
    const cur = await this.client.get('Deployment', ORCH_NAMESPACE, d.name);
    const version = `v${this.versionSeq++}`;
    const next = structuredClone(cur);
    const c = rec((rec(rec(rec(next.spec).template).spec).containers as unknown[])[0]);
    c.env = (c.env as Obj[]).map((e) => (e.name === 'VERSION' ? { name: 'VERSION', value: version } : e));
    const r = await this.write(() => this.client.update(next));
    d.rollouts++;
    this.record(d, r, { replicas: Number(rec(cur.spec).replicas ?? 1), version });
  }

  /** `berth rollout undo` (the CLI's own plan): back to the previous revision's template. */
  private async undo(d: DeployState): Promise<void> {
    const cur = await this.client.get('Deployment', ORCH_NAMESPACE, d.name);
    const sets = await replicaSetsOf(this.client, cur);
    let plan: ReturnType<typeof planUndo>;
    try {
      plan = planUndo(cur, sets.all, 0);
    } catch {
      return; // no previous revision yet
    }
    if (plan.unchanged) return;
    const r = await this.write(() => this.client.update(plan.deployment));
    d.undos++;
    this.record(d, r, { replicas: Number(rec(cur.spec).replicas ?? 1), version: versionOf(plan.deployment) });
  }

  /** After the workload stopped: the specs as they ended must be what the writes left. */
  private async settleDesired(): Promise<void> {
    for (const d of this.deployments.values()) {
      const cur = await this.retry(`read deployment ${d.name}`, () => this.client.get('Deployment', ORCH_NAMESPACE, d.name));
      const final = { replicas: Number(rec(cur.spec).replicas ?? 1), version: versionOf(cur) };
      const ok = (x: { replicas: number; version: string }) => x.replicas === final.replicas && x.version === final.version;
      if (!ok(d) && !d.maybe.some(ok)) {
        this.specMismatch.push(`deployment ${d.name}: spec ends as ${final.replicas} × ${final.version}, the last acknowledged write left ${d.replicas} × ${d.version}${d.maybe.length ? ` (in doubt: ${d.maybe.map((m) => `${m.replicas} × ${m.version}`).join(', ')})` : ''}`);
      }
      d.replicas = final.replicas;
      d.version = final.version;
      d.maybe = [];
    }
    for (const j of this.jobs.values()) {
      if (j.created === 'yes') continue;
      const got = await this.retry(`read job ${j.name}`, () =>
        this.client.get('Job', ORCH_NAMESPACE, j.name).then(
          () => true,
          (e) => {
            if (e instanceof ApiCallError && e.codeName === 'NOT_FOUND') return false;
            throw e;
          },
        ),
      );
      j.created = got ? 'yes' : 'no';
    }
  }

  summary(): Record<string, number | string | boolean> {
    const ds = [...this.deployments.values()];
    return {
      deployments: ds.length,
      scales: ds.reduce((n, d) => n + d.scales, 0),
      rollouts: ds.reduce((n, d) => n + d.rollouts, 0),
      undos: ds.reduce((n, d) => n + d.undos, 0),
      jobs: [...this.jobs.values()].filter((j) => j.created === 'yes').length,
      writesOk: this.calls.ok,
      writesConflict: this.calls.conflict,
      writesUnknown: this.calls.unknown,
      podEvents: this.podEvents,
      processSamples: this.procSamples,
      maxPodProcesses: this.maxProcs,
    };
  }

  // ---- samplers ------------------------------------------------------------------------------

  private startSamplers(): void {
    if (this.timers.length > 0) return;
    const every = (ms: number, f: () => void) => this.timers.push(setInterval(f, ms));
    every(250, () => this.sampleProcesses());
    every(1000, () => this.sampleSandboxes());
    every(300, () => void this.poll());
    this.openWatch('');
  }

  private sampleProcesses(): void {
    if (this.agents.opts.runtime !== 'process') return;
    const procs = scanPodProcesses(this.marker);
    this.procSamples++;
    this.maxProcs = Math.max(this.maxProcs, procs.length);
    const v = twiceViolations(procs);
    if (v.length > 0) {
      // /proc is not read atomically: only what is still so once the scan is over counts.
      const again = scanPodProcesses(this.marker).filter((p) => groupAlive(p.pgrp));
      for (const msg of twiceViolations(again)) if (!this.twice.has(msg)) this.twice.set(msg, performance.now() - this.t0);
    }
    for (const p of procs) {
      if (!p.name.startsWith('deploy-')) continue;
      const g = this.groupsByPod.get(p.uid) ?? { name: p.name, groups: new Set<number>() };
      g.groups.add(p.pgrp);
      this.groupsByPod.set(p.uid, g);
    }
  }

  private sampleSandboxes(): void {
    if (this.agents.opts.runtime !== 'process') return;
    const all: SandboxRecordView[] = [];
    for (const n of this.agents.ids()) {
      const dir = join(this.agents.dataDir(n), 'process-runtime', 'sandboxes');
      let files: string[];
      try {
        files = readdirSync(dir);
      } catch {
        continue;
      }
      for (const f of files) {
        if (!f.endsWith('.json')) continue;
        try {
          const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; state: string; config: { uid: string; name: string; namespace: string } };
          if (r.config.namespace !== ORCH_NAMESPACE) continue;
          all.push({ node: this.agents.name(n), id: r.id, uid: r.config.uid, namespace: r.config.namespace, name: r.config.name, state: r.state });
        } catch {
          // mid-rename or removed: the next sample sees it
        }
      }
    }
    for (const msg of sandboxViolations(all)) if (!this.sandboxTwice.has(msg)) this.sandboxTwice.set(msg, performance.now() - this.t0);
  }

  /** One look at the orchestration state: converged or not (see convergedNow). */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    const start = performance.now();
    const down = new Set(this.agents.downNodes());
    try {
      const [ds, pods, nodes] = await Promise.all([
        this.client.list('Deployment', { namespace: ORCH_NAMESPACE }),
        this.client.list('Pod', { namespace: ORCH_NAMESPACE }),
        this.client.list('Node', {}),
      ]);
      for (const n of nodes.items) {
        const a = allocatableOf(n);
        if (a) this.allocatable.set(nameOf(n), a);
      }
      for (const d of this.agents.downNodes()) down.add(d);
      const converged = convergedNow(ds.items, pods.items, nodes.items, this.agents.names(), down).length === 0;
      this.samples.push({ start, end: performance.now(), converged });
    } catch {
      // no answer: no sample
    } finally {
      this.polling = false;
    }
  }

  private async waitConverged(limitMs: number): Promise<void> {
    const deadline = performance.now() + limitMs;
    const from = performance.now();
    while (performance.now() < deadline) {
      if (this.samples.some((s) => s.start >= from && s.converged)) return;
      await sleep(200);
    }
    throw new Error(`the orchestration workload did not converge within ${limitMs / 1000} s of its set-up`);
  }

  private openWatch(reason: string): void {
    if (this.closed) return;
    if (reason) this.watchResumes++;
    const client = this.watchClients[this.watchEndpoint % this.watchClients.length]!;
    const relist = this.watchRv === '';
    const begin = async () => {
      if (relist) {
        const l = await client.list('Pod', { namespace: ORCH_NAMESPACE });
        this.podMap.clear();
        for (const p of l.items) this.podMap.set(String(meta(p).uid), p);
        this.watchRv = l.resourceVersion;
        this.checkOvercommit();
      }
      if (this.closed) return;
      this.watchCancel = client.watch(
        'Pod',
        { namespace: ORCH_NAMESPACE, resourceVersion: this.watchRv },
        (ev) => {
          if (ev.type === 'BOOKMARK' || !ev.object) return;
          this.podEvents++;
          const uid = String(meta(ev.object).uid);
          const before = this.podMap.get(uid);
          if (ev.type === 'DELETED') this.podMap.delete(uid);
          else this.podMap.set(uid, ev.object);
          if (ev.resourceVersion) this.watchRv = ev.resourceVersion;
          const touched = new Set([nodeOfPod(ev.object), before ? nodeOfPod(before) : ''].filter(Boolean));
          this.checkOvercommit(touched);
        },
        (err) => {
          this.watchCancel = undefined;
          if (this.closed) return;
          if (err?.codeName === 'OUT_OF_RANGE') this.watchRv = '';
          this.watchEndpoint++;
          setTimeout(() => this.openWatch(err ? err.codeName : 'ended'), 100);
        },
      );
    };
    begin().catch(() => {
      if (this.closed) return;
      this.watchEndpoint++;
      setTimeout(() => this.openWatch('list failed'), 300);
    });
  }

  private checkOvercommit(only?: Set<string>): void {
    for (const msg of overcommitViolations(this.allocatable, this.podMap.values(), only)) {
      if (!this.overcommit.has(msg)) this.overcommit.set(msg, performance.now() - this.t0);
    }
  }

  close(): void {
    this.closed = true;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.watchCancel?.();
    this.watchCancel = undefined;
    this.client.close();
    for (const c of this.watchClients) c.close();
  }

  // ---- checks --------------------------------------------------------------------------------

  checks(): Check[] {
    return [
      { name: 'deployments converge', run: () => this.checkDeployments() },
      { name: 'jobs end as specified', run: () => this.checkJobs() },
      { name: 'no pod runs twice', run: async () => this.checkTwice() },
      { name: 'no node overcommitted', run: () => this.checkOvercommitFinal() },
      { name: 'orchestration recovery', run: async () => this.checkRecovery(this.ctx.faults.records) },
    ];
  }

  private async checkDeployments(): Promise<CheckResult> {
    const name = 'deployments converge';
    await this.settleDesired();
    const start = performance.now();
    const deadline = start + 90_000;
    let problems: string[] = [];
    while (performance.now() < deadline) {
      try {
        const [ds, pods] = await Promise.all([this.client.list('Deployment', { namespace: ORCH_NAMESPACE }), this.client.list('Pod', { namespace: ORCH_NAMESPACE })]);
        problems = [...this.specMismatch, ...finalDeploymentProblems([...this.deployments.values()], ds.items, pods.items, new Set(this.agents.downNodes()))];
        if (problems.length === 0) {
          this.finalConvergeMs = performance.now() - start;
          const desc = [...this.deployments.values()].map((d) => `${d.name} ${d.replicas}×${d.version}`).join(', ');
          return { name, ok: true, summary: `every Deployment at its final spec, all replicas updated and available (${desc}); ${Math.round(this.finalConvergeMs)} ms after the heal` };
        }
        if (this.specMismatch.length > 0) break;
      } catch (e) {
        problems = [`could not list: ${(e as Error).message}`];
      }
      await sleep(300);
    }
    return { name, ok: false, summary: 'not converged 90 s after the heal', details: problems };
  }

  private async checkJobs(): Promise<CheckResult> {
    const name = 'jobs end as specified';
    const jobs = [...this.jobs.values()].filter((j) => j.created === 'yes');
    const deadline = performance.now() + 60_000;
    let problems: string[] = [];
    while (performance.now() < deadline) {
      problems = [];
      try {
        const l = await this.client.list('Job', { namespace: ORCH_NAMESPACE });
        const byName = new Map(l.items.map((j) => [nameOf(j), j]));
        let pending = false;
        for (const j of jobs) {
          const o = byName.get(j.name);
          if (!o) {
            problems.push(`job ${j.name} is gone`);
            continue;
          }
          const got = jobCondition(o);
          const st = rec(o.status);
          if (!got) {
            pending = true;
            problems.push(`job ${j.name} has not finished (active ${st.active ?? 0}, succeeded ${st.succeeded ?? 0}, failed ${st.failed ?? 0})`);
          } else if (got !== j.expect) problems.push(`job ${j.name} ended ${got}, expected ${j.expect} (succeeded ${st.succeeded ?? 0}, failed ${st.failed ?? 0})`);
          else if (got === 'Complete' && Number(st.succeeded ?? 0) < Number(rec(o.spec).completions ?? 1)) problems.push(`job ${j.name} Complete with only ${st.succeeded} succeeded`);
        }
        if (problems.length === 0) {
          const n = (e: string) => jobs.filter((j) => j.expect === e).length;
          return { name, ok: true, summary: `${jobs.length} jobs: ${n('Complete')} Complete, ${n('Failed')} Failed (BackoffLimitExceeded), as specified` };
        }
        if (!pending) break;
      } catch (e) {
        problems = [`could not list: ${(e as Error).message}`];
      }
      await sleep(300);
    }
    return { name, ok: false, summary: `${problems.length} job(s) not as specified`, details: problems };
  }

  private checkTwice(): CheckResult {
    const name = 'no pod runs twice';
    this.sampleProcesses();
    this.sampleSandboxes();
    if (this.agents.opts.runtime !== 'process') return { name, ok: true, summary: `not sampled (runtime ${this.agents.opts.runtime})` };
    const details = [...this.twice].map(([m, at]) => `[${(at / 1000).toFixed(1)}s] ${m}`);
    details.push(...[...this.sandboxTwice].map(([m, at]) => `[${(at / 1000).toFixed(1)}s] ${m}`));
    if (this.opts.strictAdoption) {
      for (const [uid, g] of this.groupsByPod) {
        if (g.groups.size > 1) details.push(`pod ${g.name} (uid ${uid}): its container was started ${g.groups.size} times (not adopted across an agent restart)`);
      }
    }
    const what = `${this.procSamples} samples of /proc (at most ${this.maxProcs} pod containers at once, ${this.groupsByPod.size} deployment pods seen)${this.opts.strictAdoption ? ', every container adopted across agent restarts' : ''}`;
    return details.length === 0 ? { name, ok: true, summary: `no pod on two nodes, no container twice, no two ready sandboxes: ${what}` } : { name, ok: false, summary: `${details.length} violation(s) in ${what}`, details };
  }

  private async checkOvercommitFinal(): Promise<CheckResult> {
    const name = 'no node overcommitted';
    try {
      const [pods, nodes] = await Promise.all([this.client.list('Pod', { namespace: ORCH_NAMESPACE }), this.client.list('Node', {})]);
      for (const n of nodes.items) {
        const a = allocatableOf(n);
        if (a) this.allocatable.set(nameOf(n), a);
      }
      for (const msg of overcommitViolations(this.allocatable, pods.items)) if (!this.overcommit.has(msg)) this.overcommit.set(msg, performance.now() - this.t0);
    } catch (e) {
      return { name, ok: false, summary: `could not list: ${(e as Error).message}` };
    }
    const details = [...this.overcommit].map(([m, at]) => `[${(at / 1000).toFixed(1)}s] ${m}`);
    const what = `${this.podEvents} pod events watched (${this.watchResumes} resumes), ${this.allocatable.size} nodes`;
    return details.length === 0 ? { name, ok: true, summary: `every node within its allocatable on every change: ${what}` } : { name, ok: false, summary: `${details.length} overcommit(s); ${what}`, details };
  }

  /** Per fault: injection (and heal) to the first converged look at the orchestration state. */
  checkRecovery(records: FaultRecord[]): CheckResult {
    const details: string[] = [];
    for (const f of records) {
      f.convergeMs = convergedAfter(this.samples, f.injectAt);
      if (f.healAt !== undefined) f.convergeHealMs = convergedAfter(this.samples, f.healAt);
      if (f.convergeMs === undefined) details.push(`fault ${f.n} (${f.kind} ${f.target}): never converged after it`);
    }
    const n = records.filter((f) => f.convergeMs !== undefined).length;
    return { name: 'orchestration recovery', ok: true, summary: `${n} of ${records.length} faults followed by a converged orchestration state (${this.samples.length} looks)`, details };
  }
}

/**
 * Why the orchestration state is not converged (empty: it is): every Deployment has its
 * desired number of available replicas for its current generation, no live pod of ours is
 * on a node that is down, and every node that is up is Ready.
 */
export function convergedNow(deployments: PlainObject[], pods: PlainObject[], nodes: PlainObject[], ours: string[], down: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const d of deployments) {
    const s = rec(d.status);
    const want = Number(rec(d.spec).replicas ?? 1);
    if (Number(s.observedGeneration ?? 0) < Number(meta(d).generation ?? 0)) out.push(`${nameOf(d)}: generation not observed`);
    else if (Number(s.availableReplicas ?? 0) < want) out.push(`${nameOf(d)}: ${s.availableReplicas ?? 0}/${want} available`);
  }
  for (const p of pods) if (!terminating(p) && down.has(nodeOfPod(p)) && phaseOf(p) !== 'Succeeded' && phaseOf(p) !== 'Failed') out.push(`${nameOf(p)} still on ${nodeOfPod(p)}, which is down`);
  const byName = new Map(nodes.map((n) => [nameOf(n), n]));
  for (const n of ours) {
    if (down.has(n)) continue;
    const node = byName.get(n);
    if (!node || !nodeReady(node)) out.push(`node ${n} not Ready`);
  }
  return out;
}

/** After the heal: each Deployment exactly at its final spec, rolled out, every pod of it running it. */
export function finalDeploymentProblems(
  want: { name: string; replicas: number; version: string }[],
  deployments: PlainObject[],
  pods: PlainObject[],
  down: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  const byName = new Map(deployments.map((d) => [nameOf(d), d]));
  for (const w of want) {
    const d = byName.get(w.name);
    if (!d) {
      out.push(`deployment ${w.name} is gone`);
      continue;
    }
    const s = rec(d.status);
    const status = `status: observed ${s.observedGeneration ?? 0}/${meta(d).generation ?? 0}, replicas ${s.replicas ?? 0}, updated ${s.updatedReplicas ?? 0}, available ${s.availableReplicas ?? 0}`;
    if (Number(s.observedGeneration ?? 0) !== Number(meta(d).generation ?? 0) || s.replicas !== w.replicas || s.updatedReplicas !== w.replicas || s.availableReplicas !== w.replicas) {
      out.push(`deployment ${w.name} wants ${w.replicas} × ${w.version}: ${status}`);
    }
    const mine = pods.filter((p) => rec(rec(p.metadata).labels).app === w.name);
    const live = mine.filter((p) => !terminating(p));
    const good = live.filter((p) => podVersion(p) === w.version && phaseOf(p) === 'Running' && podReady(p) && !down.has(nodeOfPod(p)));
    if (live.length !== w.replicas || good.length !== w.replicas) {
      out.push(`deployment ${w.name}: ${live.length} live pods (${good.length} running ${w.version} and ready), want ${w.replicas}: ${live.map((p) => `${nameOf(p)}@${nodeOfPod(p) || '-'} ${podVersion(p)} ${phaseOf(p)}${podReady(p) ? '' : ' not-ready'}`).join(', ')}`);
    }
    const stuck = mine.filter(terminating);
    if (stuck.length > 0) out.push(`deployment ${w.name}: ${stuck.length} pods still terminating (${stuck.map((p) => `${nameOf(p)}@${nodeOfPod(p)}`).join(', ')})`);
  }
  return out;
}

/** The names of the checks above (the runner's `orchestrationOk`). */
export const ORCH_CHECK_NAMES = new Set(['deployments converge', 'jobs end as specified', 'no pod runs twice', 'no node overcommitted', 'orchestration recovery']);

const registry = new WeakMap<ChaosAgents, Orchestration>();

/** The run's orchestration (made on first use). */
export function orchestrationOf(ctx: RunContext, opts: OrchestrationOptions = {}): Orchestration {
  const agents = ctx.agents;
  if (!agents) throw new Error(`scenario ${ctx.scenario}: needs node agents (the runner starts them for scenarios with agents)`);
  let o = registry.get(agents);
  if (!o) {
    o = new Orchestration(ctx, agents, opts);
    registry.set(agents, o);
  }
  return o;
}
