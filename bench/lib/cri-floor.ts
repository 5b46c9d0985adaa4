/**
 * containerd's own pod-start floor: RunPodSandbox → CreateContainer → StartContainer by direct
 * CRI calls, image already present, no berth in the path. The podstart benchmark compares
 * berth's pod start against this to show what berth itself adds.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriRuntime } from '../../src/agent/runtimes/cri.ts';
import type { SandboxConfig } from '../../src/agent/runtimes/types.ts';
import { percentile } from './util.ts';

export interface CriFloorOptions {
  /** Container image, e.g. localhost:5000/busybox:latest; pulled before timing starts. */
  image: string;
  /** The sandbox (pause) image containerd is configured with; pulled first so no timed start pulls it. */
  pauseImage?: string;
  /** Pods started one at a time (each removed before the next). */
  sequential: number;
  /** Pods started all at once after the sequential ones. */
  parallel: number;
}

export interface CriFloorResult {
  /** Median and 99th percentile of one sequential sandbox → running container. */
  p50Ms: number;
  p99Ms: number;
  /** From issuing `parallel` pod starts at once until every container is running. */
  parallelAllRunningMs: number;
  /** Medians of the three calls in the sequential runs. */
  phasesP50Ms: { runPodSandbox: number; createContainer: number; startContainer: number };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export async function measureCriFloor(socket: string, opts: CriFloorOptions): Promise<CriFloorResult> {
  if (!Number.isInteger(opts.sequential) || opts.sequential < 0) throw new Error(`measureCriFloor: sequential must be an integer >= 0, got ${opts.sequential}`);
  if (!Number.isInteger(opts.parallel) || opts.parallel < 0) throw new Error(`measureCriFloor: parallel must be an integer >= 0, got ${opts.parallel}`);
  const rt = new CriRuntime(socket);
  const runId = randomUUID().slice(0, 8);
  const logRoot = mkdtempSync(join(tmpdir(), 'berth-cri-floor-'));
  const label = 'berth.bench/cri-floor';
  let seq = 0;

  const sandboxConfig = (): SandboxConfig => {
    const uid = randomUUID();
    return {
      name: `floor-${runId}-${seq++}`,
      namespace: 'berth-bench',
      uid,
      attempt: 0,
      hostname: 'floor',
      logDirectory: join(logRoot, uid),
      labels: { [label]: runId },
      annotations: {},
      portMappings: [],
    };
  };

  /** One pod from nothing to a running container; returns the three call durations. */
  const startPod = async (): Promise<{ sandboxId: string; phases: [number, number, number] }> => {
    const cfg = sandboxConfig();
    const t0 = performance.now();
    const sandboxId = await rt.runPodSandbox(cfg);
    const t1 = performance.now();
    const cid = await rt.createContainer(
      sandboxId,
      {
        name: 'main',
        attempt: 0,
        image: opts.image,
        command: ['sleep', '3600'],
        args: [],
        env: [],
        mounts: [],
        labels: { [label]: runId },
        annotations: {},
        logPath: 'main/0.log',
        resources: {},
      },
      cfg,
    );
    const t2 = performance.now();
    await rt.startContainer(cid);
    const t3 = performance.now();
    return { sandboxId, phases: [t1 - t0, t2 - t1, t3 - t2] };
  };

  const removePod = async (id: string): Promise<void> => {
    await rt.stopPodSandbox(id);
    await rt.removePodSandbox(id);
  };

  /** Remove every sandbox of this run, a few at a time (also after a failure half-way). */
  const cleanup = async (): Promise<void> => {
    const mine = (await rt.listPodSandboxes()).filter((s) => s.labels[label] === runId).map((s) => s.id);
    for (let i = 0; i < mine.length; i += 4) await Promise.all(mine.slice(i, i + 4).map(removePod));
  };

  try {
    if (opts.pauseImage) await rt.pullImage(opts.pauseImage);
    await rt.pullImage(opts.image);
    // One untimed pod first: the first sandbox also creates the CNI bridge.
    await removePod((await startPod()).sandboxId);

    const totals: number[] = [];
    const phases: [number[], number[], number[]] = [[], [], []];
    for (let i = 0; i < opts.sequential; i++) {
      const r = await startPod();
      totals.push(r.phases[0] + r.phases[1] + r.phases[2]);
      r.phases.forEach((ms, k) => phases[k]!.push(ms));
      await removePod(r.sandboxId);
    }
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

    let parallelAllRunningMs = 0;
    if (opts.parallel > 0) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: opts.parallel }, () => startPod()));
      parallelAllRunningMs = performance.now() - t0;
    }

    return {
      p50Ms: round1(percentile(sorted(totals), 50)),
      p99Ms: round1(percentile(sorted(totals), 99)),
      parallelAllRunningMs: round1(parallelAllRunningMs),
      phasesP50Ms: {
        runPodSandbox: round1(percentile(sorted(phases[0]), 50)),
        createContainer: round1(percentile(sorted(phases[1]), 50)),
        startContainer: round1(percentile(sorted(phases[2]), 50)),
      },
    };
  } finally {
    try {
      await cleanup();
    } finally {
      await rt.close();
      rmSync(logRoot, { recursive: true, force: true });
    }
  }
}
