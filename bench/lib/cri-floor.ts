/**
 * containerd's own pod-start floor: RunPodSandbox → CreateContainer → StartContainer by direct
 * CRI calls, image already present, no berth in the path. The podstart benchmark compares
 * berth's pod start against this to show what berth itself adds, taking floor samples between
 * its own so that both see the same machine (load from other processes, containerd's state).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriRuntime } from '../../src/agent/runtimes/cri.ts';
import type { SandboxConfig } from '../../src/agent/runtimes/types.ts';

export interface CriFloorOptions {
  /** Container image, e.g. localhost:5000/busybox:latest; pulled before timing starts. */
  image: string;
  /** The sandbox (pause) image containerd is configured with; pulled first so no timed start pulls it. */
  pauseImage?: string;
}

/** The three calls of one pod start, in ms. */
export interface FloorSample {
  totalMs: number;
  runPodSandboxMs: number;
  createContainerMs: number;
  startContainerMs: number;
}

const LABEL = 'berth.bench/cri-floor';

export class CriFloor {
  private readonly rt: CriRuntime;
  private readonly runId = randomUUID().slice(0, 8);
  private readonly logRoot = mkdtempSync(join(tmpdir(), 'berth-cri-floor-'));
  private seq = 0;

  constructor(socket: string, private readonly opts: CriFloorOptions) {
    this.rt = new CriRuntime(socket);
  }

  /** Pulls the images and starts one untimed pod (the first sandbox also creates the CNI bridge). */
  async prepare(): Promise<void> {
    if (this.opts.pauseImage) await this.rt.pullImage(this.opts.pauseImage);
    await this.rt.pullImage(this.opts.image);
    await this.remove((await this.start()).sandboxId);
  }

  /** One pod from nothing to a running container, timed, then removed (untimed). */
  async one(): Promise<FloorSample> {
    const r = await this.start();
    await this.remove(r.sandboxId);
    return r.sample;
  }

  /** `n` pods started at once: ms until every container runs. They are removed afterwards. */
  async parallel(n: number): Promise<number> {
    if (!Number.isInteger(n) || n < 1) throw new Error(`CriFloor.parallel: n must be an integer >= 1, got ${n}`);
    const t0 = performance.now();
    const started = await Promise.all(Array.from({ length: n }, () => this.start()));
    const ms = performance.now() - t0;
    for (let i = 0; i < started.length; i += 4) await Promise.all(started.slice(i, i + 4).map((s) => this.remove(s.sandboxId)));
    return ms;
  }

  /** Removes every sandbox of this run (also after a failure half-way) and closes the client. */
  async close(): Promise<void> {
    try {
      const mine = (await this.rt.listPodSandboxes()).filter((s) => s.labels[LABEL] === this.runId).map((s) => s.id);
      for (let i = 0; i < mine.length; i += 4) await Promise.all(mine.slice(i, i + 4).map((id) => this.remove(id)));
    } finally {
      await this.rt.close();
      rmSync(this.logRoot, { recursive: true, force: true });
    }
  }

  private sandboxConfig(): SandboxConfig {
    const uid = randomUUID();
    return {
      name: `floor-${this.runId}-${this.seq++}`,
      namespace: 'berth-bench',
      uid,
      attempt: 0,
      hostname: 'floor',
      logDirectory: join(this.logRoot, uid),
      labels: { [LABEL]: this.runId },
      annotations: {},
      portMappings: [],
    };
  }

  private async start(): Promise<{ sandboxId: string; sample: FloorSample }> {
    const cfg = this.sandboxConfig();
    const t0 = performance.now();
    const sandboxId = await this.rt.runPodSandbox(cfg);
    const t1 = performance.now();
    const cid = await this.rt.createContainer(
      sandboxId,
      {
        name: 'main',
        attempt: 0,
        image: this.opts.image,
        command: ['sleep', '3600'],
        args: [],
        env: [],
        mounts: [],
        labels: { [LABEL]: this.runId },
        annotations: {},
        logPath: 'main/0.log',
        resources: {},
      },
      cfg,
    );
    const t2 = performance.now();
    await this.rt.startContainer(cid);
    const t3 = performance.now();
    return { sandboxId, sample: { totalMs: t3 - t0, runPodSandboxMs: t1 - t0, createContainerMs: t2 - t1, startContainerMs: t3 - t2 } };
  }

  private async remove(id: string): Promise<void> {
    await this.rt.stopPodSandbox(id);
    await this.rt.removePodSandbox(id);
  }
}
