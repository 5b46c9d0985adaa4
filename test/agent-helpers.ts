/**
 * Shared pieces of the agent tests: a pod worker wired to a FakeRuntime and a ManualClock,
 * pod builders, and a bounded poll (no timed assertions: wait for a condition, or fail).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultObject, validateObject } from '../src/api/index.ts';
import type { ApiObject, ConfigMap, Container, Pod, PodStatus, Secret } from '../src/api/index.ts';
import { Backoff } from '../src/agent/backoff.ts';
import { ManualClock, type Clock } from '../src/agent/clock.ts';
import { silentLogger } from '../src/agent/log.ts';
import { PodWorker, type PodWorkerDeps } from '../src/agent/pod-worker.ts';
import { NetworkProbeExecutor, type ProbeExecutor } from '../src/agent/probes.ts';
import { FakeRuntime, type FakeRuntimeOptions } from '../src/agent/runtimes/fake.ts';
import { noMounter, VolumeManager } from '../src/agent/volumes.ts';

export function tmpDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
}

/** Polls `cond` (real time) until it holds or `ms` pass; returns whether it held. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000, stepMs = 10): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

let podSeq = 0;

export function makePod(name: string, containers: Partial<Container>[], extra: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}-${++podSeq}`, generation: 1, ...meta },
    spec: {
      nodeName: 'node-1',
      containers: containers.map((c, i) => ({ name: c.name ?? `c${i}`, image: c.image ?? 'busybox:1.36', ...c })),
      ...extra,
    },
  };
}

export interface WorkerHarness {
  worker: PodWorker;
  runtime: FakeRuntime;
  clock: ManualClock;
  deps: PodWorkerDeps;
  statuses: { status: PodStatus; force: boolean }[];
  gone: string[];
  configMaps: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
  /** The newest status. */
  status(): PodStatus | undefined;
  /** Advances the clock in steps, kicking the worker after each (as the agent's relist would). */
  advance(ms: number, stepMs?: number): Promise<void>;
  /** A new worker for the same pod on the same runtime (an agent restart). */
  restart(pod?: Pod): PodWorker;
  dataDir: string;
}

export function workerHarness(
  pod: Pod,
  opts: { runtime?: FakeRuntimeOptions; prober?: (rt: FakeRuntime) => ProbeExecutor; clock?: ManualClock; dataDir?: string } = {},
): WorkerHarness {
  const clock = opts.clock ?? new ManualClock();
  const runtime = new FakeRuntime({ clock, images: ['busybox:1.36'], ...opts.runtime });
  const dataDir = opts.dataDir ?? tmpDir('worker');
  const statuses: { status: PodStatus; force: boolean }[] = [];
  const gone: string[] = [];
  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  const mkDeps = (c: Clock): PodWorkerDeps => ({
    runtime,
    clock: c,
    logger: silentLogger,
    nodeName: 'node-1',
    hostIP: '192.0.2.10',
    logRoot: join(dataDir, 'logs'),
    volumes: new VolumeManager({ dataDir, mounter: noMounter, secretsOnTmpfs: false }),
    node: { cpuMillis: 4000, memoryBytes: 8 << 30 },
    configMap: (ns, n) => configMaps.get(`${ns}/${n}`),
    secret: (ns, n) => secrets.get(`${ns}/${n}`),
    crashBackoff: new Backoff(c, 10_000, 300_000),
    pullBackoff: new Backoff(c, 10_000, 300_000),
    prober: opts.prober ? opts.prober(runtime) : new NetworkProbeExecutor(runtime),
    onStatus: (_p, status, force) => statuses.push({ status, force }),
    onGone: (uid) => gone.push(uid),
  });
  const deps = mkDeps(clock);
  const h: WorkerHarness = {
    worker: new PodWorker(pod, deps),
    runtime,
    clock,
    deps,
    statuses,
    gone,
    configMaps,
    secrets,
    dataDir,
    // Every status looked at must be one the control plane accepts (it validates reports).
    status: () => {
      const st = statuses[statuses.length - 1]?.status;
      if (st) {
        const cur = defaultObject(structuredClone(h.worker.spec) as ApiObject);
        const errs = validateObject({ ...cur, status: st }, { operation: 'update', old: cur });
        if (errs.length) throw new Error(`invalid pod status: ${errs.map((e) => String(e)).join('; ')}`);
      }
      return st;
    },
    async advance(ms, stepMs = 500) {
      let left = ms;
      while (left > 0) {
        const step = Math.min(stepMs, left);
        await clock.advance(step);
        left -= step;
        h.worker.kick();
        await h.worker.idle();
      }
    },
    restart(p = pod) {
      h.worker.stop();
      const d = mkDeps(clock);
      h.worker = new PodWorker(p, d);
      return h.worker;
    },
  };
  return h;
}

/** Kicks and waits for the worker to settle. */
export async function sync(h: WorkerHarness): Promise<void> {
  h.worker.kick();
  await h.worker.idle();
  await h.clock.advance(0);
  await h.worker.idle();
}

export function appState(s: PodStatus | undefined, name = 'c0') {
  return s?.containerStatuses?.find((c) => c.name === name);
}

export function cond(s: PodStatus | undefined, type: string): string | undefined {
  return s?.conditions?.find((c) => c.type === type)?.status;
}
