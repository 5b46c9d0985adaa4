/**
 * An in-memory runtime: a hollow node, like kubemark's. Sandboxes get made-up IPs, containers
 * "run" without running anything. It follows the Runtime contract closely enough for the pod
 * workers to behave exactly as on a real node, and tests can script what happens: exit codes
 * and when, OOM kills, exec results, pull and create/start failures, a container that ignores
 * SIGTERM.
 *
 * Cheap by design so one process can host 1,000 agents: no timers unless a start delay or a
 * SIGTERM-ignoring stop asks for one; scripted exits are evaluated lazily when state is read.
 */
import { systemClock, sleep, type Clock } from '../clock.ts';
import {
  RuntimeError,
  type ContainerConfig,
  type ContainerInfo,
  type ContainerStats,
  type ExecResult,
  type ImageInfo,
  type Runtime,
  type RuntimeVersion,
  type SandboxConfig,
  type SandboxInfo,
} from './types.ts';

/** What a fake container does; every field optional. */
export interface FakeBehaviour {
  /** Exits on its own this long after it started (ms); undefined: runs until stopped. */
  exitAfterMs?: number;
  /** Exit code of that exit (default 0). */
  exitCode?: number;
  /** Reason of that exit (default Completed for 0, Error otherwise; e.g. OOMKilled). */
  reason?: string;
  /** createContainer fails with this message. */
  createError?: string;
  /** startContainer fails with this message (the container ends as StartError, 128). */
  startError?: string;
  /** Does not stop on SIGTERM: stopContainer waits the whole timeout, then kills (137). */
  ignoreSigterm?: boolean;
  /** Exit code when stopped by SIGTERM (default 143). */
  sigtermExitCode?: number;
  /** Memory reported by stats (default 8 MiB). */
  memoryBytes?: number;
  /** CPU use reported by stats, in millicores (default 1). */
  cpuMillicores?: number;
}

export type FakeExec = (container: ContainerInfo, cmd: string[]) => ExecResult | Promise<ExecResult>;

export interface FakeRuntimeOptions {
  clock?: Clock;
  /** Containers become running this long after startContainer is called (ms, default 0). */
  startDelayMs?: number;
  /** Images present without pulling. Others are pulled (instantly) unless made to fail. */
  images?: string[];
  behaviour?: (cfg: ContainerConfig, sandbox: SandboxConfig) => FakeBehaviour | undefined;
  exec?: FakeExec;
  /** Sandbox IPs: the n-th sandbox (from 1) gets this (default 10.x.y.z from n). */
  podIp?: (n: number) => string;
  /** Behave like a runtime that writes log files, so the agent makes their directories (default false: hollow nodes). */
  writesLogFiles?: boolean;
}

interface FakeContainer {
  info: ContainerInfo;
  behaviour: FakeBehaviour;
}

interface FakeSandbox {
  info: SandboxInfo;
}

let runtimeSeq = 0;

export class FakeRuntime implements Runtime {
  readonly kind = 'fake';
  readonly writesLogFiles: boolean;
  readonly runsOnHost = false;
  private readonly clock: Clock;
  private readonly startDelayMs: number;
  private readonly images = new Map<string, string>();
  private readonly pullFailures = new Map<string, string>();
  private readonly sandboxes = new Map<string, FakeSandbox>();
  private readonly containers = new Map<string, FakeContainer>();
  private behaviourFn: FakeRuntimeOptions['behaviour'];
  private execFn: FakeExec | undefined;
  private readonly podIp: (n: number) => string;
  private readonly prefix: string;
  private seq = 0;
  private sandboxSeq = 0;
  /** Every stopContainer call, in order (tests look at the grace periods). */
  readonly stopCalls: { id: string; timeoutSeconds: number }[] = [];
  /** Images pulled, in order. */
  readonly pulls: string[] = [];
  private closed = false;

  constructor(opts: FakeRuntimeOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.startDelayMs = Math.max(0, opts.startDelayMs ?? 0);
    for (const i of opts.images ?? []) this.images.set(i, fakeImageRef(i));
    this.behaviourFn = opts.behaviour;
    this.execFn = opts.exec;
    this.podIp = opts.podIp ?? ((n) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
    this.prefix = (++runtimeSeq).toString(36);
    this.writesLogFiles = opts.writesLogFiles ?? false;
  }

  // ---- scripting (tests) -------------------------------------------------------------------

  setBehaviour(fn: FakeRuntimeOptions['behaviour']): void {
    this.behaviourFn = fn;
  }

  setExec(fn: FakeExec | undefined): void {
    this.execFn = fn;
  }

  /** Pulls of `image` fail with `message` (undefined: they work again). */
  failPull(image: string, message: string | undefined): void {
    if (message === undefined) this.pullFailures.delete(image);
    else this.pullFailures.set(image, message);
  }

  /** Removes a local image. */
  removeImage(image: string): void {
    this.images.delete(image);
  }

  /** Makes a running container exit now. */
  exit(id: string, exitCode: number, reason?: string): void {
    const c = this.containers.get(id);
    if (!c) return;
    this.materialize(c);
    if (c.info.state !== 'running') return;
    this.finish(c, this.clock.now(), exitCode, reason);
  }

  /** Makes a sandbox not ready (its network died, say). */
  breakSandbox(id: string): void {
    const s = this.sandboxes.get(id);
    if (s) s.info.state = 'notready';
  }

  get containerCount(): number {
    return this.containers.size;
  }

  get sandboxCount(): number {
    return this.sandboxes.size;
  }

  // ---- Runtime -----------------------------------------------------------------------------

  async version(): Promise<RuntimeVersion> {
    return { runtimeName: 'fake', runtimeVersion: '0.1.0' };
  }

  async imageStatus(image: string): Promise<ImageInfo | undefined> {
    const ref = this.images.get(image);
    return ref ? { ref, sizeBytes: 1 << 20 } : undefined;
  }

  async pullImage(image: string): Promise<string> {
    this.pulls.push(image);
    const fail = this.pullFailures.get(image);
    if (fail !== undefined) throw new RuntimeError('ErrImagePull', fail);
    const ref = fakeImageRef(image);
    this.images.set(image, ref);
    return ref;
  }

  async runPodSandbox(cfg: SandboxConfig): Promise<string> {
    this.check();
    const id = `${this.prefix}s${++this.seq}`;
    const n = ++this.sandboxSeq;
    this.sandboxes.set(id, {
      info: {
        id,
        name: cfg.name,
        namespace: cfg.namespace,
        uid: cfg.uid,
        attempt: cfg.attempt,
        state: 'ready',
        createdAt: this.clock.now(),
        // As containerd: a host-network sandbox gets no address of its own.
        ...(cfg.hostNetwork ? {} : { ip: this.podIp(n) }),
        labels: { ...cfg.labels },
        annotations: { ...cfg.annotations },
      },
    });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    const s = this.sandboxes.get(id);
    if (!s) return;
    for (const c of this.containers.values()) {
      if (c.info.sandboxId !== id) continue;
      this.materialize(c);
      if (c.info.state === 'running' || c.info.state === 'created') this.finish(c, this.clock.now(), 137, 'Error');
    }
    s.info.state = 'notready';
  }

  async removePodSandbox(id: string): Promise<void> {
    if (!this.sandboxes.has(id)) return;
    for (const [cid, c] of this.containers) if (c.info.sandboxId === id) this.containers.delete(cid);
    this.sandboxes.delete(id);
  }

  async podSandboxStatus(id: string): Promise<SandboxInfo | undefined> {
    const s = this.sandboxes.get(id);
    return s ? copySandbox(s.info) : undefined;
  }

  async listPodSandboxes(): Promise<SandboxInfo[]> {
    return [...this.sandboxes.values()].map((s) => copySandbox(s.info));
  }

  async createContainer(sandboxId: string, cfg: ContainerConfig, sandbox: SandboxConfig): Promise<string> {
    this.check();
    const s = this.sandboxes.get(sandboxId);
    if (!s) throw new RuntimeError('NotFound', `sandbox ${sandboxId} not found`);
    if (s.info.state !== 'ready') throw new RuntimeError('CreateContainerError', `sandbox ${sandboxId} is not ready`);
    if (!this.images.has(cfg.image)) throw new RuntimeError('CreateContainerError', `image "${cfg.image}" not found`);
    const behaviour = this.behaviourFn?.(cfg, sandbox) ?? {};
    if (behaviour.createError) throw new RuntimeError('CreateContainerError', behaviour.createError);
    const id = `${this.prefix}c${++this.seq}`;
    this.containers.set(id, {
      info: {
        id,
        sandboxId,
        name: cfg.name,
        attempt: cfg.attempt,
        image: cfg.image,
        imageRef: this.images.get(cfg.image)!,
        state: 'created',
        createdAt: this.clock.now(),
        labels: { ...cfg.labels },
        annotations: { ...cfg.annotations },
        logPath: `${sandbox.logDirectory}/${cfg.logPath}`,
      },
      behaviour,
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.check();
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('NotFound', `container ${id} not found`);
    if (c.info.state !== 'created') throw new RuntimeError('RunContainerError', `container ${id} is ${c.info.state}, not created`);
    if (c.behaviour.startError) {
      c.info.state = 'exited';
      c.info.exitCode = 128;
      c.info.reason = 'StartError';
      c.info.message = c.behaviour.startError;
      c.info.finishedAt = this.clock.now();
      throw new RuntimeError('RunContainerError', c.behaviour.startError);
    }
    if (this.startDelayMs > 0) await sleep(this.clock, this.startDelayMs);
    if (c.info.state !== 'created') return; // stopped while starting
    c.info.state = 'running';
    c.info.startedAt = this.clock.now();
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    this.stopCalls.push({ id, timeoutSeconds });
    const c = this.containers.get(id);
    if (!c) return;
    this.materialize(c);
    if (c.info.state === 'created') {
      this.finish(c, this.clock.now(), 137, 'Error');
      return;
    }
    if (c.info.state !== 'running') return;
    if (c.behaviour.ignoreSigterm && timeoutSeconds > 0) {
      await sleep(this.clock, timeoutSeconds * 1000);
      this.materialize(c);
      if (c.info.state === 'running') this.finish(c, this.clock.now(), 137, 'Error');
      return;
    }
    const code = timeoutSeconds > 0 ? (c.behaviour.sigtermExitCode ?? 143) : 137;
    this.finish(c, this.clock.now(), code);
  }

  async removeContainer(id: string): Promise<void> {
    this.containers.delete(id);
  }

  async containerStatus(id: string): Promise<ContainerInfo | undefined> {
    const c = this.containers.get(id);
    if (!c) return undefined;
    this.materialize(c);
    return copyContainer(c.info);
  }

  async listContainers(filter?: { sandboxId?: string }): Promise<ContainerInfo[]> {
    const out: ContainerInfo[] = [];
    for (const c of this.containers.values()) {
      if (filter?.sandboxId && c.info.sandboxId !== filter.sandboxId) continue;
      this.materialize(c);
      out.push(copyContainer(c.info));
    }
    return out;
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
    void timeoutSeconds;
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('NotFound', `container ${id} not found`);
    this.materialize(c);
    if (c.info.state !== 'running') throw new RuntimeError('Unknown', `container ${id} is not running`);
    if (this.execFn) return this.execFn(copyContainer(c.info), cmd);
    return { exitCode: 0, stdout: '', stderr: '' };
  }

  async containerStats(ids?: string[]): Promise<ContainerStats[]> {
    const now = this.clock.now();
    const out: ContainerStats[] = [];
    const want = ids ? new Set(ids) : undefined;
    for (const c of this.containers.values()) {
      if (want && !want.has(c.info.id)) continue;
      this.materialize(c);
      if (c.info.state !== 'running') continue;
      const ranMs = now - (c.info.startedAt ?? now);
      out.push({
        containerId: c.info.id,
        cpuUsageNanos: Math.round(ranMs * 1e6 * ((c.behaviour.cpuMillicores ?? 1) / 1000)),
        memoryWorkingSetBytes: c.behaviour.memoryBytes ?? 8 << 20,
        timestamp: now,
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- internals ---------------------------------------------------------------------------

  private check(): void {
    if (this.closed) throw new RuntimeError('Unknown', 'runtime closed');
  }

  /** Applies a scripted exit whose time has come. */
  private materialize(c: FakeContainer): void {
    const b = c.behaviour;
    if (c.info.state !== 'running' || b.exitAfterMs === undefined) return;
    const at = (c.info.startedAt ?? 0) + b.exitAfterMs;
    if (this.clock.now() >= at) this.finish(c, at, b.exitCode ?? 0, b.reason);
  }

  private finish(c: FakeContainer, at: number, exitCode: number, reason?: string): void {
    c.info.state = 'exited';
    c.info.exitCode = exitCode;
    c.info.reason = reason ?? (exitCode === 0 ? 'Completed' : 'Error');
    c.info.finishedAt = at;
    c.info.startedAt ??= at;
  }
}

function fakeImageRef(image: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < image.length; i++) h = Math.imul(h ^ image.charCodeAt(i), 0x01000193) >>> 0;
  return `sha256:${h.toString(16).padStart(8, '0').repeat(8)}`;
}

function copySandbox(s: SandboxInfo): SandboxInfo {
  return { ...s, labels: s.labels, annotations: s.annotations };
}

function copyContainer(c: ContainerInfo): ContainerInfo {
  return { ...c };
}
