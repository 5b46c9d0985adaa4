/**
 * One pod on this node, level-triggered like kubelet's pod workers: each sync compares what
 * the pod asks for (its spec, as assigned) with what the runtime has (sandboxes and containers
 * found by their berth.io labels) and closes the difference — so it is idempotent, and a
 * restarted agent adopts what is already running instead of starting it again.
 *
 * A sync: volumes → sandbox → init containers in order, each to success → app containers
 * (restarted per restartPolicy with crash back-off) → probes → status. Syncs of one pod never
 * overlap; a kick during a sync runs another one after it.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { defaultImagePullPolicy } from '../api/index.ts';
import type { ConfigMap, Container, ContainerStatus, LifecycleHandler, Pod, PodStatus, Secret } from '../api/index.ts';
import type { Backoff } from './backoff.ts';
import { sleep, type Clock, type TimerHandle } from './clock.ts';
import { readCriLog } from './cri-log.ts';
import { ConfigError, containerEnv, type PodContext } from './env.ts';
import { ANN_CONTAINER_HASH, ANN_CONTAINER_TYPE, ANN_GRACE_PERIOD, ANN_RESTART_COUNT, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from './labels.ts';
import { errorText, type AgentLogger } from './log.ts';
import { apiTime, containerStatus, podConditions, podPhase, sidecarNames, stampConditions, type ContainerView, type Waiting } from './pod-status.ts';
import { ProbeRunner, type ProbeExecutor, type ProbeKind } from './probes.ts';
import { linuxResources, qosClass, type NodeAllocatable } from './resources.ts';
import { RuntimeError, type ContainerConfig, type ContainerInfo, type PortMapping, type Runtime, type SandboxConfig, type SandboxInfo } from './runtimes/types.ts';
import { VolumeError, type VolumeManager, type VolumePath } from './volumes.ts';

export interface PodWorkerDeps {
  runtime: Runtime;
  clock: Clock;
  logger: AgentLogger;
  nodeName: string;
  hostIP: string;
  /** Container logs go to `<logRoot>/<namespace>_<name>_<uid>/<container>/<attempt>.log`. */
  logRoot: string;
  volumes: VolumeManager;
  node: NodeAllocatable;
  configMap(namespace: string, name: string): ConfigMap | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  /** Crash back-off, keyed `<uid>/<container>` (10 s doubling to 5 min). */
  crashBackoff: Backoff;
  /** Image pull (and sandbox creation) back-off, keyed `<uid>/...`. */
  pullBackoff: Backoff;
  prober: ProbeExecutor;
  /**
   * The scheme of container IDs in the status (`<name>://<id>`): the runtime's name as its
   * version call reports it (kubelet: "containerd" under CRI). Default: the runtime's kind.
   */
  runtimeName?: string;
  /**
   * The sandboxes of pod `uid` as the agent's last relist of the runtime saw them, or
   * undefined before the first relist. Saves each new worker a full sandbox listing (a
   * status call per sandbox under CRI), which made a burst of pods quadratic.
   */
  knownSandboxes?(uid: string): string[] | undefined;
  /**
   * A new status for the pod; `force` asks for it to be sent even if unchanged. `json` is
   * the status as JSON, already made to compare it with the last one.
   */
  onStatus(pod: Pod, status: PodStatus, force: boolean, json: string): void;
  /** The pod is gone from the node: containers, sandbox, volumes and logs removed. */
  onGone(uid: string): void;
}

export const DEFAULT_GRACE_SECONDS = 30;

interface Observed {
  sandboxes: SandboxInfo[];
  /** The newest sandbox (the one containers are started in). */
  current: SandboxInfo | undefined;
  containers: ContainerInfo[];
}

const hashes = new WeakMap<Container, string>();

/**
 * A stable hash of a container's spec: a change (e.g. a new image) means a restart. Kept
 * per spec object (a pod's spec is replaced, never changed in place, when it is updated),
 * since a sync asks for it when starting the container and again when checking it.
 */
export function containerHash(c: Container): string {
  let h = hashes.get(c);
  if (h === undefined) {
    h = createHash('sha256').update(stableJson(c)).digest('hex').slice(0, 16);
    hashes.set(c, h);
  }
  return h;
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** An init container with restartPolicy Always: a sidecar that runs for the pod's whole life. */
export function isSidecar(c: Container): boolean {
  return c.restartPolicy === 'Always';
}

function nameOf(c: ContainerInfo): string {
  return c.labels[LABEL_CONTAINER_NAME] ?? c.name;
}

function isFinished(c: ContainerInfo): boolean {
  return c.state === 'exited' || c.state === 'unknown';
}

/** What a worker acts on: the pod without its status and its resourceVersion. */
function syncView(pod: Pod): string {
  const { resourceVersion: _rv, ...meta } = pod.metadata;
  return JSON.stringify([meta, pod.spec]);
}

/** Newest first: by attempt, then creation time. */
function byNewest(a: ContainerInfo, b: ContainerInfo): number {
  return b.attempt - a.attempt || b.createdAt - a.createdAt;
}

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m}m${s % 60}s` : `${m}m0s`;
}

export class PodWorker {
  private pod: Pod;
  readonly uid: string;
  private readonly d: PodWorkerDeps;
  private removed = false;
  private stopped = false;
  private finished = false;
  private dirty = false;
  private running: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private errors = 0;

  private discovered = false;
  private readonly sandboxIds = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly probes = new Map<string, ProbeRunner>();
  private readonly killMessages = new Map<string, string>();
  private readonly logMessages = new Map<string, string>();
  private volumes: Map<string, VolumePath> | undefined;
  private volumeError: string | undefined;
  private sandboxError: string | undefined;
  /** Set once the pod reached Succeeded/Failed: nothing is started again. */
  private terminal: { phase: 'Succeeded' | 'Failed'; reason?: string; message?: string } | undefined;
  private terminalStopped = false;
  private killedForDeletion = false;
  private sandboxLost = false;
  private deletionReported = false;
  private startTime: string | undefined;
  private podIPs: string[] = [];
  private lastStatus: PodStatus | undefined;
  private lastStatusJson = '';
  /** syncView of `pod` once an update has computed it. */
  private syncViewJson: string | undefined;

  constructor(pod: Pod, deps: PodWorkerDeps) {
    this.pod = pod;
    this.uid = pod.metadata.uid ?? '';
    this.d = deps;
    this.startTime = typeof pod.status?.startTime === 'string' ? pod.status.startTime : undefined;
    const ips = pod.status?.podIPs;
    this.podIPs = Array.isArray(ips) ? ips.map((p) => p?.ip).filter((ip): ip is string => typeof ip === 'string' && ip !== '') : [];
    const phase = pod.status?.phase;
    // A pod the control plane already records as finished is never started again.
    if (phase === 'Succeeded' || phase === 'Failed') this.terminal = { phase };
  }

  get namespace(): string {
    return this.pod.metadata.namespace ?? 'default';
  }

  get name(): string {
    return this.pod.metadata.name ?? '';
  }

  get spec(): Pod {
    return this.pod;
  }

  /** The last status computed (undefined before the first sync). */
  get status(): PodStatus | undefined {
    return this.lastStatus;
  }

  get done(): boolean {
    return this.finished;
  }

  get logDir(): string {
    return join(this.d.logRoot, `${this.namespace}_${this.name}_${this.uid}`);
  }

  /**
   * The assignment changed (or arrived again). Like kubelet's pod config, a change of the
   * status alone (most often the status this worker reported, coming back) does not start a
   * sync: nothing in it tells the worker to do anything. The agent compares the status
   * itself (checkDrift), and a status that says the pod finished still stops it here.
   */
  update(pod: Pod): void {
    if (this.removed) return;
    const prev = this.syncViewJson ?? syncView(this.pod);
    this.pod = pod;
    this.syncViewJson = syncView(pod);
    const phase = pod.status?.phase;
    const finishing = !this.terminal && (phase === 'Succeeded' || phase === 'Failed');
    if (finishing) this.terminal = { phase };
    if (!finishing && prev === this.syncViewJson) return;
    this.kick();
  }

  /** The pod is no longer assigned here: stop it and remove everything of it. */
  remove(): void {
    this.removed = true;
    this.kick();
  }

  /** A sandbox the agent's relist found for this pod. */
  noteSandbox(id: string): void {
    if (!this.sandboxIds.has(id)) {
      this.sandboxIds.add(id);
      this.kick();
    }
  }

  kick(): void {
    if (this.stopped || this.finished) return;
    this.dirty = true;
    if (!this.running) this.running = this.loop();
  }

  /** Resolves once no sync is running or queued (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Agent shutdown: timers and probes stop, containers keep running. */
  stop(): void {
    this.stopped = true;
    this.d.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.stopProbes();
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.stopped && !this.finished) {
        this.dirty = false;
        this.d.clock.clearTimeout(this.timer);
        this.timer = undefined;
        let wake: number | undefined;
        try {
          wake = await this.syncOnce();
          this.errors = 0;
        } catch (e) {
          this.errors++;
          this.d.logger.warn(`pod ${this.namespace}/${this.name}: sync failed: ${errorText(e)}`);
          wake = this.d.clock.now() + Math.min(30_000, 500 * 2 ** Math.min(6, this.errors - 1));
        }
        if (wake !== undefined && !this.dirty && !this.stopped && !this.finished) {
          this.timer = this.d.clock.setTimeout(() => this.kick(), Math.max(0, wake - this.d.clock.now()));
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  // ---- observing -----------------------------------------------------------------------

  private async observe(): Promise<Observed> {
    const rt = this.d.runtime;
    if (!this.discovered) {
      const known = this.d.knownSandboxes?.(this.uid);
      if (known) {
        for (const id of known) this.sandboxIds.add(id);
      } else {
        for (const s of await rt.listPodSandboxes()) {
          if (s.labels[LABEL_POD_UID] === this.uid && s.labels[LABEL_NODE] === this.d.nodeName) this.sandboxIds.add(s.id);
        }
      }
      this.discovered = true;
    }
    const sandboxes: SandboxInfo[] = [];
    for (const id of [...this.sandboxIds]) {
      const s = await rt.podSandboxStatus(id);
      if (s) sandboxes.push(s);
      else this.sandboxIds.delete(id);
    }
    sandboxes.sort((a, b) => a.attempt - b.attempt || a.createdAt - b.createdAt);
    const lists = await Promise.all(sandboxes.map((s) => rt.listContainers({ sandboxId: s.id })));
    const containers = lists.flat().filter((c) => !c.labels[LABEL_POD_UID] || c.labels[LABEL_POD_UID] === this.uid);
    return { sandboxes, current: sandboxes[sandboxes.length - 1], containers };
  }

  private instances(obs: Observed, name: string, sandboxId?: string): ContainerInfo[] {
    return obs.containers.filter((c) => nameOf(c) === name && (sandboxId === undefined || c.sandboxId === sandboxId)).sort(byNewest);
  }

  // ---- the sync ------------------------------------------------------------------------

  private grace(): number {
    const g = this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds;
    return typeof g === 'number' && g >= 0 ? g : DEFAULT_GRACE_SECONDS;
  }

  /** One reconciliation; returns when to sync again (undefined: only when kicked). */
  private async syncOnce(): Promise<number | undefined> {
    const now = this.d.clock.now();
    let wake: number | undefined;
    const wakeAt = (t: number | undefined) => {
      if (t !== undefined && (wake === undefined || t < wake)) wake = t;
    };
    this.startTime ??= apiTime(now);
    let obs = await this.observe();

    if (this.removed) {
      await this.killPod(obs, this.grace());
      obs = await this.observe();
      await this.cleanup(obs);
      this.finished = true;
      this.d.onGone(this.uid);
      return undefined;
    }

    if (this.pod.metadata.deletionTimestamp) {
      if (!this.killedForDeletion) {
        await this.killPod(obs, this.grace());
        this.killedForDeletion = true;
        obs = await this.observe();
      }
      const stillRunning = obs.containers.some((c) => c.state === 'running');
      if (stillRunning) {
        // Something did not stop (a runtime error): try again shortly.
        this.killedForDeletion = false;
        wakeAt(this.d.clock.now() + 1000);
      }
      await this.fillLogMessages(obs);
      this.emit(this.computeStatus(obs, !stillRunning), !this.deletionReported && !stillRunning);
      if (!stillRunning) this.deletionReported = true;
      return wake;
    }

    if (!this.terminal) {
      // activeDeadlineSeconds: the pod may run this long on the node, then it fails.
      const deadline = this.pod.spec.activeDeadlineSeconds;
      if (typeof deadline === 'number' && deadline > 0 && this.startTime) {
        const at = Date.parse(this.startTime) + deadline * 1000;
        if (now >= at) {
          await this.killPod(obs, this.grace());
          obs = await this.observe();
          this.terminal = { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
        } else wakeAt(at);
      }
    }

    if (!this.terminal) {
      const r = await this.reconcile(obs);
      wakeAt(r.wake);
      obs = r.obs;
    }

    await this.fillLogMessages(obs);
    let status = this.computeStatus(obs, false);
    if (!this.terminal && (status.phase === 'Succeeded' || status.phase === 'Failed')) {
      this.terminal = { phase: status.phase };
    } else if (!this.terminal && this.sandboxLost) {
      this.terminal = { phase: 'Failed', reason: 'SandboxChanged', message: 'the pod sandbox was lost and restartPolicy Never forbids starting the containers again' };
      status = this.computeStatus(obs, false);
    }
    if (this.terminal && !this.terminalStopped) {
      // Finished: its sandbox goes (the containers are kept for status and logs until the pod is deleted).
      this.stopProbes();
      for (const s of obs.sandboxes) if (s.state === 'ready') await this.d.runtime.stopPodSandbox(s.id).catch((e) => this.warn(`stopping sandbox: ${errorText(e)}`));
      this.terminalStopped = true;
      obs = await this.observe();
      status = this.computeStatus(obs, false);
    }
    await this.gc(obs);
    this.emit(status, false);
    return wake;
  }

  /**
   * Volumes, sandbox, init and app containers, probes. Returns the next wake-up time and what
   * the runtime showed after the last change it made (the caller's status comes from it).
   */
  private async reconcile(obs: Observed): Promise<{ wake: number | undefined; obs: Observed }> {
    const r = await this.reconcileSteps(obs);
    return { wake: r.wake, obs: r.obs ?? (await this.observe()) };
  }

  /** reconcile's steps; `obs` is set when the last thing they did was observe the runtime. */
  private async reconcileSteps(obs: Observed): Promise<{ wake: number | undefined; obs?: Observed }> {
    const now = this.d.clock.now();
    let wake: number | undefined;
    const wakeAt = (t: number | undefined) => {
      if (t !== undefined && (wake === undefined || t < wake)) wake = t;
    };
    const pod = this.pod;
    const policy = pod.spec.restartPolicy ?? 'Always';

    // Volumes first: nothing starts without them (kubelet's FailedMount keeps the pod in ContainerCreating).
    try {
      this.volumes = await this.d.volumes.setup(this.podContext(obs.current), now);
      this.volumeError = undefined;
    } catch (e) {
      this.volumeError = e instanceof VolumeError ? e.message : `volume setup failed: ${errorText(e)}`;
      if (!this.volumes) {
        this.warn(this.volumeError);
        return { wake: now + 2000 };
      }
      // Volumes that were set up before stay as they are; a changed object is retried.
      wakeAt(now + 2000);
    }

    // The sandbox.
    let sandbox = obs.current;
    if (!sandbox || sandbox.state !== 'ready') {
      if (sandbox && policy === 'Never' && obs.containers.length > 0) {
        // Its containers ran once and must not run again (kubelet does not re-create the sandbox):
        // the pod ends as it is.
        this.sandboxLost = true;
        return { wake };
      }
      const key = `${this.uid}/sandbox`;
      if (this.d.pullBackoff.inBackOffSinceUpdate(key)) return { wake: this.d.pullBackoff.expiresAtSinceUpdate(key) };
      if (sandbox) await this.killPod(obs, this.grace(), undefined, false);
      const attempt = obs.sandboxes.reduce((m, s) => Math.max(m, s.attempt + 1), 0);
      try {
        if (this.d.runtime.writesLogFiles) await mkdir(this.logDir, { recursive: true });
        const id = await this.d.runtime.runPodSandbox(this.sandboxConfig(attempt));
        this.sandboxIds.add(id);
        this.sandboxError = undefined;
        this.d.pullBackoff.reset(key);
        // One look at the runtime gives the new sandbox's status (its IP) and its (no) containers.
        obs = await this.observe();
        sandbox = obs.sandboxes.find((x) => x.id === id);
      } catch (e) {
        this.d.pullBackoff.next(key);
        this.sandboxError = `Failed to create pod sandbox: ${errorText(e)}`;
        this.warn(this.sandboxError);
        return { wake: this.d.pullBackoff.expiresAtSinceUpdate(key) };
      }
      if (!sandbox) return { wake: now + 1000 };
    }
    if (sandbox.ip) this.podIPs = [sandbox.ip, ...(sandbox.additionalIps ?? [])];
    else if (pod.spec.hostNetwork === true && this.d.hostIP) this.podIPs = [this.d.hostIP];
    const sb = sandbox;

    // Init containers, in order, each to success; a sidecar (restartPolicy Always) only has to
    // have started, and then keeps running beside the app containers.
    const inits = pod.spec.initContainers ?? [];
    let initialized = this.isInitialized(obs, sb.id);
    if (!initialized) {
      for (const c of inits) {
        const inst = this.instances(obs, c.name, sb.id)[0];
        const sidecar = isSidecar(c);
        if (!sidecar && inst && isFinished(inst) && inst.exitCode === 0) continue;
        if (inst?.state === 'running') {
          if (sidecar && this.isStarted(c, inst)) continue;
          break;
        }
        if (inst?.state === 'created') {
          await this.startExisting(c, inst);
          break;
        }
        if (inst && isFinished(inst)) {
          if (!this.shouldRestart(c, inst, true)) break; // the pod fails (phase computed from the statuses)
          wakeAt(await this.restartWithBackoff(c, true, inst, obs, sb));
          break;
        }
        wakeAt(await this.startNew(c, true, obs, sb));
        // A sidecar without a startup probe counts as started at once: go on with the next.
        if (sidecar) wakeAt(this.d.clock.now());
        break;
      }
      obs = await this.observe();
      initialized = this.isInitialized(obs, sb.id);
    }

    // App containers (and sidecars), restarted per policy.
    if (initialized) {
      const longRunning: [Container, boolean][] = [...inits.filter(isSidecar).map((c): [Container, boolean] => [c, true]), ...(pod.spec.containers ?? []).map((c): [Container, boolean] => [c, false])];
      for (const [c, init] of longRunning) wakeAt(await this.syncLongRunning(c, init, obs, sb));
      obs = await this.observe();
    }
    this.reconcileProbes(obs, sb);
    // Both branches above end with a fresh look (init containers, or app containers).
    return { wake, obs };
  }

  /** One app container or sidecar: kill if unhealthy or changed, restart per policy, start if missing. */
  private async syncLongRunning(c: Container, init: boolean, obs: Observed, sb: SandboxInfo): Promise<number | undefined> {
    let inst = this.instances(obs, c.name, sb.id)[0];
    if (inst?.state === 'running') {
      const why = this.whyKill(c, inst);
      if (!why) return undefined;
      await this.killContainer(c, inst, why.grace, why.message);
      inst = (await this.d.runtime.containerStatus(inst.id)) ?? inst;
      if (inst.state === 'running') return this.d.clock.now() + 1000;
    }
    if (inst?.state === 'created') {
      await this.startExisting(c, inst);
      return undefined;
    }
    if (inst && isFinished(inst)) {
      if (!this.shouldRestart(c, inst, init)) return undefined;
      return this.restartWithBackoff(c, init, inst, obs, sb);
    }
    if (!inst) {
      // An app container that already ran in this pod (an older sandbox) under Never stays as it ended.
      return this.startNew(c, init, obs, sb);
    }
    return undefined;
  }

  /** Running, and past its startup probe if it has one. */
  private isStarted(c: Container, inst: ContainerInfo): boolean {
    return inst.state === 'running' && (!c.startupProbe || this.probes.get(`${inst.id}/startup`)?.result === 'success');
  }

  private isInitialized(obs: Observed, sandboxId: string): boolean {
    const inits = this.pod.spec.initContainers ?? [];
    if (inits.length === 0) return true;
    // App containers in this sandbox mean initialization finished before (even if init instances were removed).
    const apps = new Set((this.pod.spec.containers ?? []).map((c) => c.name));
    if (obs.containers.some((c) => c.sandboxId === sandboxId && apps.has(nameOf(c)))) return true;
    return inits.every((c) => {
      const inst = this.instances(obs, c.name, sandboxId)[0];
      if (isSidecar(c)) return inst !== undefined && this.isStarted(c, inst);
      return inst !== undefined && isFinished(inst) && inst.exitCode === 0;
    });
  }

  private shouldRestart(c: Container, inst: ContainerInfo, init: boolean): boolean {
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    if (init && isSidecar(c)) return true;
    if (init) return policy !== 'Never' && inst.exitCode !== 0;
    if (policy === 'Always') return true;
    if (policy === 'OnFailure') return inst.exitCode !== 0;
    return false;
  }

  /** Liveness/startup failure or a changed spec: why a running container must be killed. */
  private whyKill(c: Container, inst: ContainerInfo): { grace: number; message: string } | undefined {
    const hash = inst.annotations[ANN_CONTAINER_HASH];
    if (hash && hash !== containerHash(c)) {
      return { grace: this.grace(), message: `Container ${c.name} definition changed, will be restarted` };
    }
    const live = this.probes.get(`${inst.id}/liveness`);
    const startup = this.probes.get(`${inst.id}/startup`);
    const probeGrace = (p: { terminationGracePeriodSeconds?: number } | undefined) =>
      typeof p?.terminationGracePeriodSeconds === 'number' && p.terminationGracePeriodSeconds >= 0 ? p.terminationGracePeriodSeconds : this.grace();
    if (startup?.result === 'failure') {
      return { grace: probeGrace(c.startupProbe), message: `Container ${c.name} failed startup probe, will be restarted${startup.message ? `: ${startup.message}` : ''}` };
    }
    if (live?.result === 'failure') {
      return { grace: probeGrace(c.livenessProbe), message: `Container ${c.name} failed liveness probe, will be restarted${live.message ? `: ${live.message}` : ''}` };
    }
    return undefined;
  }

  /** kubelet's doBackOff: restart now (and lengthen the back-off) or report CrashLoopBackOff. */
  private async restartWithBackoff(c: Container, init: boolean, inst: ContainerInfo, obs: Observed, sb: SandboxInfo): Promise<number | undefined> {
    const key = `${this.uid}/${c.name}`;
    const finishedAt = inst.finishedAt ?? this.d.clock.now();
    const bo = this.d.crashBackoff;
    if (bo.inBackOffSince(key, finishedAt)) {
      this.waiting.set(c.name, {
        reason: 'CrashLoopBackOff',
        message: `back-off ${fmtDuration(bo.get(key))} restarting failed container=${c.name} pod=${this.name}_${this.namespace}(${this.uid})`,
      });
      return bo.expiresAt(key, finishedAt);
    }
    bo.next(key, finishedAt);
    return this.startNew(c, init, obs, sb);
  }

  // ---- starting ------------------------------------------------------------------------

  private podContext(sb: SandboxInfo | undefined): PodContext {
    // A hostNetwork sandbox has no IP of its own: the pod's IP is the node's (as kubelet reports).
    const ips = sb?.ip ? [sb.ip, ...(sb.additionalIps ?? [])] : this.podIPs.length > 0 ? this.podIPs : this.pod.spec.hostNetwork === true && this.d.hostIP ? [this.d.hostIP] : [];
    return {
      pod: this.pod,
      nodeName: this.d.nodeName,
      hostIP: this.d.hostIP,
      podIPs: ips,
      node: this.d.node,
      configMap: (ns, n) => this.d.configMap(ns, n),
      secret: (ns, n) => this.d.secret(ns, n),
    };
  }

  sandboxConfig(attempt: number): SandboxConfig {
    const m = this.pod.metadata;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.labels ?? {})) if (typeof v === 'string') labels[k] = v;
    Object.assign(labels, {
      [LABEL_POD_UID]: this.uid,
      [LABEL_POD_NAME]: this.name,
      [LABEL_POD_NAMESPACE]: this.namespace,
      [LABEL_NODE]: this.d.nodeName,
    });
    const ports: PortMapping[] = [];
    for (const c of [...(this.pod.spec.initContainers ?? []), ...(this.pod.spec.containers ?? [])]) {
      for (const p of c.ports ?? []) {
        if (p && typeof p.hostPort === 'number' && p.hostPort > 0) {
          ports.push({ protocol: p.protocol ?? 'TCP', containerPort: p.containerPort, hostPort: p.hostPort, ...(p.hostIP ? { hostIp: p.hostIP } : {}) });
        }
      }
    }
    return {
      name: this.name,
      namespace: this.namespace,
      uid: this.uid,
      attempt,
      // A hostNetwork pod shares the node's UTS namespace too, so it sees the node's hostname.
      hostname: (this.pod.spec.hostNetwork === true ? hostname() : this.pod.spec.hostname || this.name).slice(0, 63),
      logDirectory: this.logDir,
      labels,
      annotations: { [ANN_GRACE_PERIOD]: String(this.grace()) },
      portMappings: ports,
      ...(this.pod.spec.hostNetwork === true ? { hostNetwork: true } : {}),
    };
  }

  /** Pulls per imagePullPolicy; on failure records the waiting reason and returns undefined. */
  private async ensureImage(c: Container): Promise<{ ok: boolean; wake?: number }> {
    const image = c.image ?? '';
    if (!image) {
      this.waiting.set(c.name, { reason: 'InvalidImageName', message: 'the container has no image' });
      return { ok: false };
    }
    const policy = c.imagePullPolicy ?? defaultImagePullPolicy(image);
    const present = await this.d.runtime.imageStatus(image).catch(() => undefined);
    if (policy === 'Never') {
      if (present) return { ok: true };
      this.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` });
      return { ok: false };
    }
    if (present && policy !== 'Always') return { ok: true };
    const key = `${this.uid}/image/${image}`;
    const bo = this.d.pullBackoff;
    if (bo.inBackOffSinceUpdate(key)) {
      this.waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` });
      return { ok: false, wake: bo.expiresAtSinceUpdate(key) };
    }
    try {
      await this.d.runtime.pullImage(image);
      bo.reset(key);
      return { ok: true };
    } catch (e) {
      bo.next(key);
      this.waiting.set(c.name, { reason: 'ErrImagePull', message: `Failed to pull image "${image}": ${errorText(e)}` });
      return { ok: false, wake: bo.expiresAtSinceUpdate(key) };
    }
  }

  private async containerConfig(c: Container, init: boolean, attempt: number, sb: SandboxInfo): Promise<ContainerConfig> {
    const env = containerEnv(c, this.podContext(sb));
    const mounts = await this.d.volumes.mountsFor(c, this.volumes ?? new Map(), env.env);
    return {
      name: c.name,
      attempt,
      image: c.image ?? '',
      command: env.command,
      args: env.args,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      env: env.env,
      mounts,
      labels: {
        [LABEL_POD_UID]: this.uid,
        [LABEL_POD_NAME]: this.name,
        [LABEL_POD_NAMESPACE]: this.namespace,
        [LABEL_CONTAINER_NAME]: c.name,
        [LABEL_NODE]: this.d.nodeName,
      },
      annotations: {
        [ANN_CONTAINER_HASH]: containerHash(c),
        [ANN_RESTART_COUNT]: String(attempt),
        [ANN_CONTAINER_TYPE]: init ? 'init' : 'app',
        [ANN_GRACE_PERIOD]: String(this.grace()),
      },
      logPath: `${c.name}/${attempt}.log`,
      resources: linuxResources(c),
      ...(c.tty ? { tty: true } : {}),
      ...(c.stdin ? { stdin: true } : {}),
    };
  }

  /** Pull, create and start a new instance. Returns a wake-up time when it has to be retried later. */
  private async startNew(c: Container, init: boolean, obs: Observed, sb: SandboxInfo): Promise<number | undefined> {
    const latest = this.instances(obs, c.name)[0];
    const attempt = latest ? latest.attempt + 1 : 0;
    const img = await this.ensureImage(c);
    if (!img.ok) return img.wake;
    let cfg: ContainerConfig;
    try {
      cfg = await this.containerConfig(c, init, attempt, sb);
    } catch (e) {
      const reason = e instanceof ConfigError || e instanceof VolumeError ? 'CreateContainerConfigError' : 'CreateContainerError';
      this.waiting.set(c.name, { reason, message: errorText(e) });
      return this.d.clock.now() + 2000;
    }
    let id: string;
    try {
      if (this.d.runtime.writesLogFiles) await mkdir(join(this.logDir, c.name), { recursive: true });
      id = await this.d.runtime.createContainer(sb.id, cfg, this.sandboxConfig(sb.attempt));
    } catch (e) {
      const reason = e instanceof RuntimeError && e.reason === 'CreateContainerConfigError' ? e.reason : 'CreateContainerError';
      this.waiting.set(c.name, { reason, message: errorText(e) });
      return this.d.clock.now() + 2000;
    }
    try {
      await this.d.runtime.startContainer(id);
      this.waiting.delete(c.name);
    } catch (e) {
      this.waiting.set(c.name, { reason: 'RunContainerError', message: errorText(e) });
      return undefined;
    }
    const post = c.lifecycle?.postStart;
    if (post) {
      // kubelet: a failed postStart hook kills the container, which then restarts per policy.
      const r = await this.runHook(post, c, id, this.grace());
      if (!r.ok) {
        const inst = await this.d.runtime.containerStatus(id);
        if (inst) await this.killContainer(c, inst, this.grace(), `PostStartHookError: ${r.message ?? 'failed'}`);
        return this.d.clock.now();
      }
    }
    return undefined;
  }

  /** A container created but never started (the agent stopped in between): start it now. */
  private async startExisting(c: Container, inst: ContainerInfo): Promise<void> {
    try {
      await this.d.runtime.startContainer(inst.id);
      this.waiting.delete(c.name);
    } catch (e) {
      this.waiting.set(c.name, { reason: 'RunContainerError', message: errorText(e) });
    }
  }

  // ---- stopping ------------------------------------------------------------------------

  private async killContainer(c: Container | undefined, inst: ContainerInfo, graceSeconds: number, message?: string): Promise<void> {
    if (message) this.killMessages.set(inst.id, message);
    this.stopProbesOf(inst.id);
    let grace = Math.max(0, graceSeconds);
    const pre = c?.lifecycle?.preStop;
    if (c && pre && grace > 0 && inst.state === 'running') {
      const started = this.d.clock.now();
      const r = await this.runHook(pre, c, inst.id, grace);
      if (!r.ok) this.warn(`preStop hook of ${c.name} failed: ${r.message ?? ''}`);
      grace = Math.max(0, grace - Math.floor((this.d.clock.now() - started) / 1000));
    }
    await this.d.runtime.stopContainer(inst.id, grace);
  }

  /** A lifecycle hook (postStart/preStop): exec in the container, an HTTP GET, or a sleep. */
  private async runHook(h: LifecycleHandler, c: Container, id: string, timeoutSeconds: number): Promise<{ ok: boolean; message?: string }> {
    try {
      if (h.exec?.command?.length) {
        const r = await this.d.runtime.execSync(id, h.exec.command, Math.max(1, timeoutSeconds));
        if (r.exitCode === 0 && !r.timedOut) return { ok: true };
        return { ok: false, message: r.timedOut ? 'command timed out' : `command ${JSON.stringify(h.exec.command)} exited with ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 512)}` };
      }
      if (h.httpGet) return await this.d.prober.run({ httpGet: h.httpGet }, { containerId: id, container: c, podIP: this.podIPs[0] ?? '127.0.0.1' }, Math.max(1, timeoutSeconds) * 1000);
      if (h.sleep && h.sleep.seconds > 0) {
        await sleep(this.d.clock, Math.min(h.sleep.seconds, Math.max(0, timeoutSeconds)) * 1000);
        return { ok: true };
      }
      if (h.tcpSocket) return { ok: true }; // deprecated and never acted on by kubelet
      return { ok: false, message: 'the hook has no action' };
    } catch (e) {
      return { ok: false, message: errorText(e) };
    }
  }

  /** Stops every container (in parallel, each with its preStop hook) and then the sandboxes. */
  private async killPod(obs: Observed, graceSeconds: number, message?: string, stopSandboxes = true): Promise<void> {
    this.stopProbes();
    const specs = new Map([...(this.pod.spec.initContainers ?? []), ...(this.pod.spec.containers ?? [])].map((c) => [c.name, c]));
    const live = obs.containers.filter((c) => c.state === 'running' || c.state === 'created');
    const sidecars = new Set((this.pod.spec.initContainers ?? []).filter(isSidecar).map((c) => c.name));
    // App containers first, then the sidecars they may depend on (as kubelet orders it).
    const started = this.d.clock.now();
    for (const group of [live.filter((i) => !sidecars.has(nameOf(i))), live.filter((i) => sidecars.has(nameOf(i)))]) {
      const left = Math.max(0, graceSeconds - Math.floor((this.d.clock.now() - started) / 1000));
      await Promise.all(
        group.map((inst) => this.killContainer(specs.get(nameOf(inst)), inst, left, message).catch((e) => this.warn(`stopping container ${nameOf(inst)}: ${errorText(e)}`))),
      );
    }
    if (!stopSandboxes) return;
    for (const s of obs.sandboxes) {
      if (s.state === 'ready') await this.d.runtime.stopPodSandbox(s.id).catch((e) => this.warn(`stopping sandbox: ${errorText(e)}`));
    }
  }

  /** After removal: containers, sandboxes, volumes, logs and back-off state. */
  private async cleanup(obs: Observed): Promise<void> {
    for (const c of obs.containers) await this.d.runtime.removeContainer(c.id).catch((e) => this.warn(`removing container: ${errorText(e)}`));
    for (const s of obs.sandboxes) await this.d.runtime.removePodSandbox(s.id).catch((e) => this.warn(`removing sandbox: ${errorText(e)}`));
    if (this.uid) await this.d.volumes.teardown(this.uid).catch((e) => this.warn(`removing volumes: ${errorText(e)}`));
    if (this.d.runtime.writesLogFiles) await rm(this.logDir, { recursive: true, force: true }).catch(() => undefined);
    this.d.crashBackoff.resetPrefix(`${this.uid}/`);
    this.d.pullBackoff.resetPrefix(`${this.uid}/`);
    this.stopProbes();
  }

  /** Keeps the two newest instances of each container (status lastState, `logs --previous`). */
  private async gc(obs: Observed): Promise<void> {
    const byName = new Map<string, ContainerInfo[]>();
    for (const c of obs.containers) {
      const list = byName.get(nameOf(c)) ?? [];
      list.push(c);
      byName.set(nameOf(c), list);
    }
    const kept = new Set<string>();
    for (const list of byName.values()) {
      list.sort(byNewest);
      list.forEach((c, i) => {
        if (i < 2 || !isFinished(c)) kept.add(c.id);
      });
      for (const c of list.slice(2)) {
        if (!isFinished(c)) continue;
        await this.d.runtime.removeContainer(c.id).catch(() => undefined);
        if (c.logPath) await unlink(c.logPath).catch(() => undefined);
        this.killMessages.delete(c.id);
        this.logMessages.delete(c.id);
      }
    }
    // Old sandboxes nothing is kept in.
    for (const s of obs.sandboxes) {
      if (s === obs.current) continue;
      if (obs.containers.some((c) => c.sandboxId === s.id && kept.has(c.id))) continue;
      await this.d.runtime.removePodSandbox(s.id).catch(() => undefined);
      this.sandboxIds.delete(s.id);
    }
  }

  // ---- probes --------------------------------------------------------------------------

  private reconcileProbes(obs: Observed, sb: SandboxInfo): void {
    const runningIds = new Set<string>();
    for (const c of [...(this.pod.spec.initContainers ?? []).filter(isSidecar), ...(this.pod.spec.containers ?? [])]) {
      const inst = this.instances(obs, c.name, sb.id)[0];
      if (!inst || inst.state !== 'running') continue;
      runningIds.add(inst.id);
      const kinds: [ProbeKind, typeof c.livenessProbe][] = [
        ['startup', c.startupProbe],
        ['liveness', c.livenessProbe],
        ['readiness', c.readinessProbe],
      ];
      for (const [kind, probe] of kinds) {
        if (!probe) continue;
        const key = `${inst.id}/${kind}`;
        if (this.probes.has(key)) continue;
        const id = inst.id;
        this.probes.set(
          key,
          new ProbeRunner({
            kind,
            probe,
            target: { containerId: id, container: c, podIP: sb.ip ?? this.podIPs[0] ?? '127.0.0.1' },
            startedAt: inst.startedAt ?? this.d.clock.now(),
            clock: this.d.clock,
            executor: this.d.prober,
            ...(kind !== 'startup' && c.startupProbe ? { gate: () => this.probes.get(`${id}/startup`)?.result === 'success' } : {}),
            onChange: () => this.kick(),
          }),
        );
      }
    }
    for (const [key, r] of this.probes) {
      if (!runningIds.has(key.slice(0, key.lastIndexOf('/')))) {
        r.stop();
        this.probes.delete(key);
      }
    }
  }

  private stopProbesOf(id: string): void {
    for (const [key, r] of this.probes) {
      if (key.startsWith(`${id}/`)) {
        r.stop();
        this.probes.delete(key);
      }
    }
  }

  private stopProbes(): void {
    for (const r of this.probes.values()) r.stop();
    this.probes.clear();
  }

  // ---- status --------------------------------------------------------------------------

  /** terminationMessagePolicy FallbackToLogsOnError: the log's tail explains a failure. */
  private async fillLogMessages(obs: Observed): Promise<void> {
    const specs = new Map([...(this.pod.spec.initContainers ?? []), ...(this.pod.spec.containers ?? [])].map((c) => [c.name, c]));
    for (const inst of obs.containers) {
      if (!isFinished(inst) || inst.exitCode === 0 || inst.message || this.logMessages.has(inst.id) || !inst.logPath) continue;
      if (specs.get(nameOf(inst))?.terminationMessagePolicy !== 'FallbackToLogsOnError') continue;
      let text = '';
      await readCriLog(inst.logPath, { tailLines: 80 }, (b) => {
        text += b.toString('utf8');
      }).catch(() => undefined);
      this.logMessages.set(inst.id, text.length > 2048 ? text.slice(text.length - 2048) : text);
    }
  }

  private views(obs: Observed): { init: ContainerView[]; app: ContainerView[] } {
    const mk = (c: Container, init: boolean): ContainerView => {
      const list = this.instances(obs, c.name);
      const latest = list[0];
      const previous = list[1];
      const startup = latest ? this.probes.get(`${latest.id}/startup`) : undefined;
      const readiness = latest ? this.probes.get(`${latest.id}/readiness`) : undefined;
      const running = latest?.state === 'running';
      const started = running && (!c.startupProbe || startup?.result === 'success');
      const ready = started && (!c.readinessProbe || readiness?.result === 'success');
      const v: ContainerView = {
        spec: c,
        init,
        willRestart: Boolean(latest && isFinished(latest) && this.shouldRestart(c, latest, init)),
        ready,
        started,
        logMessage: (id) => this.logMessages.get(id) || undefined,
      };
      if (latest) v.latest = latest;
      if (previous) v.previous = previous;
      const w = this.waiting.get(c.name);
      if (w) v.waiting = w;
      else if (this.volumeError && !latest) v.waiting = { reason: 'ContainerCreating', message: this.volumeError };
      else if (this.sandboxError && !latest) v.waiting = { reason: 'ContainerCreating', message: this.sandboxError };
      const km = latest ? this.killMessages.get(latest.id) : undefined;
      if (km) v.killMessage = km;
      const pkm = previous ? this.killMessages.get(previous.id) : undefined;
      if (pkm) v.previousKillMessage = pkm;
      return v;
    };
    return {
      init: (this.pod.spec.initContainers ?? []).map((c) => mk(c, true)),
      app: (this.pod.spec.containers ?? []).map((c) => mk(c, false)),
    };
  }

  private computeStatus(obs: Observed, stoppedForDeletion: boolean): PodStatus {
    const now = this.d.clock.now();
    const { init, app } = this.views(obs);
    const podTerminal = Boolean(this.terminal) || stoppedForDeletion;
    const initialized = obs.current ? this.isInitialized(obs, obs.current.id) : (this.pod.spec.initContainers ?? []).length === 0;
    const ctx = { runtimeKind: this.d.runtimeName || this.d.runtime.kind, podTerminal, hasInit: init.length > 0 };
    // A container the runtime no longer has (a node reboot under the process runtime) keeps
    // the state the control plane recorded for it, as kubelet does.
    const recorded = (v: ContainerView, list: ContainerStatus[] | undefined): ContainerStatus => {
      const old = v.latest ? undefined : list?.find((s) => s.name === v.spec.name);
      if (old?.state?.terminated || old?.lastState?.terminated) {
        return { ...old, ready: false, started: false, ...(old.state?.terminated ? {} : { state: { terminated: old.lastState!.terminated! } }) };
      }
      return containerStatus(v, ctx);
    };
    // This worker's own last status first: the control plane's copy lags behind it (and may
    // have been written by someone else, which checkDrift answers).
    const initStatuses = init.map((v) => recorded(v, this.lastStatus?.initContainerStatuses ?? this.pod.status?.initContainerStatuses));
    const appStatuses = app.map((v) => recorded(v, this.lastStatus?.containerStatuses ?? this.pod.status?.containerStatuses));
    let phase = podPhase(this.pod, initStatuses, appStatuses, podTerminal, initialized);
    if (this.terminal) phase = this.terminal.phase;
    const prev = this.lastStatus?.conditions ?? this.pod.status?.conditions;
    const conditions = stampConditions(podConditions(phase, initStatuses, appStatuses, initialized, sidecarNames(this.pod)), prev, apiTime(now)!);
    const status: PodStatus = {
      phase,
      conditions,
      hostIP: this.d.hostIP,
      hostIPs: [{ ip: this.d.hostIP }],
      ...(this.podIPs.length ? { podIP: this.podIPs[0], podIPs: this.podIPs.map((ip) => ({ ip })) } : {}),
      ...(this.startTime ? { startTime: this.startTime } : {}),
      ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
      containerStatuses: appStatuses,
      qosClass: qosClass(this.pod),
    };
    if (this.terminal?.reason) {
      status.reason = this.terminal.reason;
      if (this.terminal.message) status.message = this.terminal.message;
    }
    if (typeof this.pod.metadata.generation === 'number') status.observedGeneration = this.pod.metadata.generation;
    return status;
  }

  private emit(status: PodStatus, force: boolean): void {
    const json = JSON.stringify(status);
    this.lastStatus = status;
    if (json === this.lastStatusJson && !force) return;
    this.lastStatusJson = json;
    this.d.onStatus(this.pod, status, force, json);
  }

  /** Send the current status again (the control plane's copy differs from ours). */
  resend(): void {
    if (this.lastStatus) this.d.onStatus(this.pod, this.lastStatus, true, this.lastStatusJson);
  }

  private warn(s: string): void {
    this.d.logger.warn(`pod ${this.namespace}/${this.name}: ${s}`);
  }
}
