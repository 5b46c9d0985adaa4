/**
 * The node agent (kubelet's role). It registers its Node with the control plane, heartbeats
 * at the interval the server asks for, consumes its Assignments stream (a full set, then
 * changes; resumed from the last resourceVersion after a reconnect), runs one level-triggered
 * pod worker per assigned pod, relists the runtime to notice containers changing on their own,
 * reports pod statuses (batched) and usage (every 10 s), and serves Node.ContainerLogs.
 *
 * It reaches the control plane only through the public agent API (proto/berth/v1/agent.proto).
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ConfigMap, Node, Pod, Secret, Taint } from '../api/index.ts';
import { Backoff } from './backoff.ts';
import { sleep, systemClock, type Clock, type TimerHandle } from './clock.ts';
import { ControlClient, type ControlCallError } from './control-client.ts';
import { ANN_GRACE_PERIOD, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from './labels.ts';
import { errorText, silentLogger, type AgentLogger } from './log.ts';
import { NodeServer, type LogInstance, type LogSource } from './node-server.ts';
import { DEFAULT_GRACE_SECONDS, PodWorker, type PodWorkerDeps } from './pod-worker.ts';
import { NetworkProbeExecutor, type ProbeExecutor } from './probes.ts';
import type { AssignmentBatch, PodUsageWire } from './proto.ts';
import { quantityBytes, quantityMilli, type NodeAllocatable } from './resources.ts';
import type { ContainerInfo, Runtime } from './runtimes/types.ts';
import { StatusReporter } from './status-reporter.ts';
import { podUsesObject, VolumeManager, type Mounter } from './volumes.ts';

export const AGENT_VERSION = 'v0.1.0-berth';

export interface AgentCapacity {
  /** Cores, as a quantity ("4", "1500m") or a number. Default: os.cpus(). */
  cpu?: string | number;
  /** Bytes, as a quantity ("8Gi") or a number. Default: os.totalmem(). */
  memory?: string | number;
  /** Maximum pods (default 110). */
  pods?: number;
}

export interface AgentOptions {
  name: string;
  /** host:port of the control-plane replicas. */
  servers: string[];
  runtime: Runtime;
  /** Pod volumes and logs live here. */
  dataDir: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  capacity?: AgentCapacity;
  /** Where the Node service listens (default 127.0.0.1:0). Ignored with `nodeServer`. */
  listen?: string;
  /** A Node service shared with other agents (hollow fleets). */
  nodeServer?: NodeServer;
  /** The node's InternalIP (default: the listen host if specific, else the first external IPv4). */
  nodeIP?: string;
  clock?: Clock;
  random?: () => number;
  logger?: AgentLogger;
  /** How often the runtime is relisted to notice container changes (ms, default 1000). */
  relistMs?: number;
  /** Every pod is synced at least this often (ms, default 60 s). */
  resyncMs?: number;
  /** Least time between two status reports (ms, default 50; reports are also never concurrent). */
  statusFlushMs?: number;
  statusBatchMax?: number;
  /** Usage sampling and reporting period (ms, default 10 s). */
  usageIntervalMs?: number;
  /** Node usage from the host (/proc) rather than the sum of the containers (default: the runtime's runsOnHost). */
  hostStats?: boolean;
  mounter?: Mounter;
  prober?: ProbeExecutor;
  /** A control client to use (tests, fleets); the agent does not close one it did not make. */
  control?: ControlClient;
  /** Per-call deadline towards the control plane (ms, default 10 s). */
  callTimeoutMs?: number;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

let hostFacts: { osImage: string; machineID: string; bootID: string; kernel: string } | undefined;
function facts() {
  if (!hostFacts) {
    const read = (p: string) => {
      try {
        return readFileSync(p, 'utf8').trim();
      } catch {
        return '';
      }
    };
    const rel = read('/etc/os-release');
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(rel)?.[1] ?? os.type();
    hostFacts = { osImage: pretty, machineID: read('/etc/machine-id'), bootID: read('/proc/sys/kernel/random/boot_id'), kernel: os.release() };
  }
  return hostFacts;
}

/** The first non-internal IPv4 address of the host, else 127.0.0.1. */
export function defaultNodeIP(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function parseObject(json: string): { kind?: string; metadata?: { name?: string; namespace?: string; uid?: string } } | undefined {
  try {
    const o = JSON.parse(json) as unknown;
    return o && typeof o === 'object' && !Array.isArray(o) ? (o as { kind?: string }) : undefined;
  } catch {
    return undefined;
  }
}

function objKey(o: { metadata?: { namespace?: string; name?: string } }): string {
  return `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
}

export class Agent {
  readonly name: string;
  readonly runtime: Runtime;
  readonly dataDir: string;
  readonly clock: Clock;
  private readonly o: AgentOptions;
  private readonly logger: AgentLogger;
  readonly control: ControlClient;
  private readonly ownsControl: boolean;
  private nodeServer: NodeServer | undefined;
  private ownsNodeServer = false;
  private removeLogSource: (() => void) | undefined;
  private readonly reporter: StatusReporter;
  private readonly volumes: VolumeManager;
  private readonly crashBackoff: Backoff;
  private readonly pullBackoff: Backoff;
  private readonly prober: ProbeExecutor;
  private readonly allocatable: NodeAllocatable;
  /** The runtime's own name (CRI Version: "containerd"): the scheme of container IDs. */
  private runtimeName = '';

  /** Assigned pods by uid; ConfigMaps and Secrets by namespace/name. */
  private readonly pods = new Map<string, Pod>();
  private readonly configMaps = new Map<string, ConfigMap>();
  private readonly secrets = new Map<string, Secret>();
  private readonly workers = new Map<string, PodWorker>();
  private resourceVersion = '';
  private synced = false;
  private readonly stopping = new AbortController();
  private stopped = false;

  private nodeJson = '';
  private nodeUid = '';
  private heartbeatMs = 10_000;
  private hbSeq = 0;
  private cancelStream: (() => void) | undefined;
  private relistTimer: TimerHandle | undefined;
  private resyncTimer: TimerHandle | undefined;
  private usageTimer: TimerHandle | undefined;
  private lastSeen = new Map<string, string>();
  private containerIndex = new Map<string, { uid: string; namespace: string; pod: string; container: string }>();
  private prevStats = new Map<string, { cpu: number; ts: number }>();
  private prevHostCpu: { busy: number; total: number } | undefined;
  private lastResend = new Map<string, number>();
  private loops: Promise<void>[] = [];
  private registeredResolve!: () => void;
  /** Resolves once the Node is registered (the first time). */
  readonly registered: Promise<void>;
  /** Resolves once the first full assignment set has been applied. */
  readonly firstSync: Promise<void>;
  private firstSyncResolve!: () => void;
  /** The node's InternalIP. */
  readonly nodeIP: string;

  constructor(opts: AgentOptions) {
    if (!opts.name) throw new Error('agent: a node name is required');
    this.o = opts;
    this.name = opts.name;
    this.runtime = opts.runtime;
    this.dataDir = resolve(opts.dataDir);
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.ownsControl = !opts.control;
    this.control =
      opts.control ??
      new ControlClient({ endpoints: opts.servers, clock: this.clock, ...(opts.random ? { random: opts.random } : {}), ...(opts.callTimeoutMs ? { callTimeoutMs: opts.callTimeoutMs } : {}) });
    this.volumes = new VolumeManager({ dataDir: this.dataDir, ...(opts.mounter ? { mounter: opts.mounter } : {}) });
    this.crashBackoff = new Backoff(this.clock, 10_000, 300_000);
    this.pullBackoff = new Backoff(this.clock, 10_000, 300_000);
    this.prober = opts.prober ?? new NetworkProbeExecutor(opts.runtime);
    const listenHost = (opts.listen ?? '127.0.0.1:0').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    this.nodeIP = opts.nodeIP ?? (listenHost && listenHost !== '0.0.0.0' && listenHost !== '::' ? listenHost : defaultNodeIP());
    const cpuMillis = opts.capacity?.cpu !== undefined ? (quantityMilli(opts.capacity.cpu) ?? 0) : os.cpus().length * 1000;
    const memoryBytes = opts.capacity?.memory !== undefined ? (quantityBytes(opts.capacity.memory) ?? 0) : os.totalmem();
    this.allocatable = { cpuMillis, memoryBytes };
    this.reporter = new StatusReporter({
      nodeName: this.name,
      send: (req) => this.control.reportStatus(req),
      clock: this.clock,
      logger: this.logger,
      backoffMs: (a) => this.control.backoffMs(a),
      ...(opts.statusFlushMs !== undefined ? { flushMs: opts.statusFlushMs } : {}),
      ...(opts.statusBatchMax !== undefined ? { maxBatch: opts.statusBatchMax } : {}),
    });
    this.registered = new Promise((r) => (this.registeredResolve = r));
    this.firstSync = new Promise((r) => (this.firstSyncResolve = r));
  }

  /** Starts serving and registering; resolves once the Node service listens. */
  async start(): Promise<void> {
    const rv = await this.runtime.version();
    this.runtimeName = rv.runtimeName;
    if (this.o.nodeServer) this.nodeServer = this.o.nodeServer;
    else {
      this.nodeServer = await NodeServer.start(this.o.listen ?? '127.0.0.1:0', this.logger);
      this.ownsNodeServer = true;
    }
    this.removeLogSource = this.nodeServer.add(this.logSource());
    this.nodeJson = JSON.stringify(this.buildNode(`${rv.runtimeName}://${rv.runtimeVersion}`, this.nodeServer.port));
    this.loops.push(this.run());
  }

  /** The port of the Node service this agent advertises. */
  get nodePort(): number {
    return this.nodeServer?.port ?? 0;
  }

  /** The Node object as registered (or as it will be). */
  get node(): Node {
    return JSON.parse(this.nodeJson) as Node;
  }

  /** Pods held now (tests, introspection). */
  assignedPods(): Pod[] {
    return [...this.pods.values()];
  }

  podStatus(uid: string) {
    return this.workers.get(uid)?.status;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Stops the agent. Containers keep running (an agent restart adopts them), as with kubelet. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    this.cancelStream?.();
    for (const t of [this.relistTimer, this.resyncTimer, this.usageTimer]) this.clock.clearTimeout(t);
    for (const w of this.workers.values()) w.stop();
    // A sync in flight may be waiting out a container's grace period: give it a little time, not all.
    await Promise.race([Promise.all([...this.workers.values()].map((w) => w.idle().catch(() => undefined))), sleep(systemClock, 5000)]);
    await Promise.race([this.reporter.drain().catch(() => undefined), sleep(systemClock, 2000)]);
    this.reporter.stop();
    this.removeLogSource?.();
    if (this.ownsNodeServer) await this.nodeServer?.stop();
    if (this.ownsControl) this.control.close();
    await Promise.all(this.loops.map((l) => l.catch(() => undefined)));
  }

  // ---- the Node ------------------------------------------------------------------------

  private buildNode(runtimeVersion: string, port: number): Node {
    const f = facts();
    const arch = ARCH[os.arch()] ?? os.arch();
    const cap = this.o.capacity ?? {};
    const cpu = cap.cpu !== undefined ? String(cap.cpu) : String(os.cpus().length);
    const memory = cap.memory !== undefined ? String(cap.memory) : `${Math.floor(os.totalmem() / 1024)}Ki`;
    const pods = String(cap.pods ?? 110);
    const capacity = { cpu, memory, pods };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.name,
        labels: {
          ...(this.o.labels ?? {}),
          'kubernetes.io/hostname': this.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': arch,
        },
      },
      spec: { ...(this.o.taints?.length ? { taints: this.o.taints } : {}) },
      status: {
        capacity,
        allocatable: { ...capacity },
        addresses: [
          { type: 'InternalIP', address: this.nodeIP },
          { type: 'Hostname', address: this.name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
        nodeInfo: {
          machineID: f.machineID,
          bootID: f.bootID,
          kernelVersion: f.kernel,
          osImage: f.osImage,
          containerRuntimeVersion: runtimeVersion,
          kubeletVersion: AGENT_VERSION,
          operatingSystem: 'linux',
          architecture: arch,
        },
      },
    };
  }

  // ---- main loops ----------------------------------------------------------------------

  private async run(): Promise<void> {
    await this.register();
    if (this.stopped) return;
    this.registeredResolve();
    this.loops.push(this.heartbeatLoop(), this.assignmentsLoop());
    this.scheduleRelist();
    this.scheduleResync();
    this.scheduleUsage();
  }

  /** Registers until it works (or the agent stops). */
  private async register(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const res = await this.control.register(this.nodeJson);
        const stored = parseObject(res.node_json) as Node | undefined;
        this.nodeUid = stored?.metadata?.uid ?? '';
        if (res.heartbeat_interval_ms > 0) this.heartbeatMs = res.heartbeat_interval_ms;
        this.logger.info(`registered node ${this.name} (uid ${this.nodeUid || '?'}) with ${this.control.knownLeader ?? this.control.endpoint}; heartbeat every ${this.heartbeatMs} ms`);
        return;
      } catch (e) {
        this.logger.warn(`registering node ${this.name} failed: ${describe(e)}`);
        await sleep(this.clock, this.control.backoffMs(attempt), this.stopping.signal);
      }
    }
  }

  private async heartbeatLoop(): Promise<void> {
    let failures = 0;
    // The first heartbeat goes out at once: registering through a follower does not tell the
    // leader the node is alive, and the node is Ready only once the leader has heard from it.
    let first = true;
    while (!this.stopped) {
      // After a failure, try again sooner than a whole interval (but with back-off).
      const wait = first ? 0 : failures === 0 ? this.heartbeatMs : Math.min(this.heartbeatMs, this.control.backoffMs(failures - 1));
      first = false;
      if (!(await sleep(this.clock, wait, this.stopping.signal))) return;
      try {
        const res = await this.control.heartbeat({ node_name: this.name, node_uid: this.nodeUid, seq: ++this.hbSeq });
        if (res.heartbeat_interval_ms > 0) this.heartbeatMs = res.heartbeat_interval_ms;
        failures = 0;
      } catch (e) {
        failures++;
        const code = (e as ControlCallError).code;
        if (code === grpc.status.NOT_FOUND || code === grpc.status.FAILED_PRECONDITION) {
          // The Node was deleted (or replaced): register it again.
          this.logger.warn(`heartbeat: node unknown to the control plane (${describe(e)}); registering again`);
          await this.register();
          failures = 0;
        } else if (failures === 1 || failures % 10 === 0) {
          this.logger.warn(`heartbeat failed: ${describe(e)}`);
        }
      }
    }
  }

  private async assignmentsLoop(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const err = await new Promise<ControlCallError | undefined>((resolveEnd) => {
        this.cancelStream = this.control.assignments(
          { node_name: this.name, resource_version: this.resourceVersion },
          {
            onBatch: (b) => {
              attempt = 0;
              try {
                this.applyBatch(b);
              } catch (e) {
                // Never let one bad batch take the agent down; the next full set repairs the state.
                this.logger.error(`assignments: applying a batch failed: ${describe(e)}`);
              }
            },
            onEnd: resolveEnd,
          },
        );
      });
      this.cancelStream = undefined;
      if (this.stopped) return;
      if (err) {
        const code = err.code;
        if (this.resourceVersion && (code === grpc.status.OUT_OF_RANGE || code === grpc.status.FAILED_PRECONDITION || code === grpc.status.INVALID_ARGUMENT)) {
          // Too old to resume from: start over with a full set.
          this.logger.info(`assignments: cannot resume from ${this.resourceVersion} (${describe(err)}); asking for a full set`);
          this.resourceVersion = '';
        } else if (code === grpc.status.NOT_FOUND) {
          await this.register();
        } else if (attempt === 0 || attempt % 10 === 0) {
          this.logger.warn(`assignments stream from ${err.endpoint} ended: ${describe(err)}`);
        }
      }
      this.control.rotate();
      await sleep(this.clock, this.control.backoffMs(attempt++), this.stopping.signal);
    }
  }

  /** Applies one batch: a full set replaces everything held; otherwise each change in turn. */
  applyBatch(b: AssignmentBatch): void {
    const touchedConfig: { kind: 'ConfigMap' | 'Secret'; key: string }[] = [];
    if (b.full) {
      const pods = new Map<string, Pod>();
      const cms = new Map<string, ConfigMap>();
      const secrets = new Map<string, Secret>();
      for (const it of b.items ?? []) {
        const o = parseObject(it.object_json);
        if (!o) {
          this.logger.warn('assignments: skipping an item that is not a JSON object');
          continue;
        }
        if ((it.type ?? '').toUpperCase() === 'DELETED') continue;
        if (o.kind === 'Pod' && o.metadata?.uid) pods.set(o.metadata.uid, o as Pod);
        else if (o.kind === 'ConfigMap') cms.set(objKey(o), o as ConfigMap);
        else if (o.kind === 'Secret') secrets.set(objKey(o), o as Secret);
      }
      for (const [key, cm] of cms) if (JSON.stringify(this.configMaps.get(key)) !== JSON.stringify(cm)) touchedConfig.push({ kind: 'ConfigMap', key });
      for (const key of this.configMaps.keys()) if (!cms.has(key)) touchedConfig.push({ kind: 'ConfigMap', key });
      for (const [key, s] of secrets) if (JSON.stringify(this.secrets.get(key)) !== JSON.stringify(s)) touchedConfig.push({ kind: 'Secret', key });
      for (const key of this.secrets.keys()) if (!secrets.has(key)) touchedConfig.push({ kind: 'Secret', key });
      this.configMaps.clear();
      for (const [k, v] of cms) this.configMaps.set(k, v);
      this.secrets.clear();
      for (const [k, v] of secrets) this.secrets.set(k, v);
      for (const uid of [...this.pods.keys()]) if (!pods.has(uid)) this.removePod(uid);
      for (const p of pods.values()) this.safely(() => this.upsertPod(p));
    } else {
      for (const it of b.items ?? []) {
        const o = parseObject(it.object_json);
        if (!o) {
          this.logger.warn('assignments: skipping an item that is not a JSON object');
          continue;
        }
        const deleted = (it.type ?? '').toUpperCase() === 'DELETED';
        if (o.kind === 'Pod') {
          const uid = o.metadata?.uid;
          if (!uid) continue;
          if (deleted) this.removePod(uid);
          else this.safely(() => this.upsertPod(o as Pod));
        } else if (o.kind === 'ConfigMap' || o.kind === 'Secret') {
          const map = (o.kind === 'ConfigMap' ? this.configMaps : this.secrets) as Map<string, unknown>;
          const key = objKey(o);
          if (deleted) map.delete(key);
          else map.set(key, o);
          touchedConfig.push({ kind: o.kind, key });
        }
      }
    }
    if (b.resource_version) this.resourceVersion = b.resource_version;
    // A changed ConfigMap/Secret refreshes the volumes of the pods using it (in place).
    for (const t of touchedConfig) {
      const [ns, name] = [t.key.slice(0, t.key.indexOf('/')), t.key.slice(t.key.indexOf('/') + 1)];
      for (const [uid, p] of this.pods) {
        if ((p.metadata.namespace ?? 'default') === ns && podUsesObject(p, t.kind, name)) this.workers.get(uid)?.kick();
      }
    }
    if (b.full && !this.synced) {
      this.synced = true;
      this.firstSyncResolve();
      void this.relist(); // adopt, and find orphans, now that the assigned set is known
    }
  }

  private workerDeps(): PodWorkerDeps {
    return {
      runtime: this.runtime,
      clock: this.clock,
      logger: this.logger,
      nodeName: this.name,
      hostIP: this.nodeIP,
      logRoot: join(this.dataDir, 'logs'),
      volumes: this.volumes,
      node: this.allocatable,
      configMap: (ns, n) => this.configMaps.get(`${ns}/${n}`),
      secret: (ns, n) => this.secrets.get(`${ns}/${n}`),
      crashBackoff: this.crashBackoff,
      pullBackoff: this.pullBackoff,
      prober: this.prober,
      ...(this.runtimeName ? { runtimeName: this.runtimeName } : {}),
      knownSandboxes: (uid) => (this.sandboxesByUid ? (this.sandboxesByUid.get(uid) ?? []) : undefined),
      onStatus: (pod, _status, _force, json) => {
        if (!this.pods.has(pod.metadata.uid ?? '')) return;
        this.reporter.report({
          namespace: pod.metadata.namespace ?? 'default',
          name: pod.metadata.name ?? '',
          uid: pod.metadata.uid ?? '',
          generation: pod.metadata.generation ?? 0,
          status_json: json,
        });
      },
      onGone: (uid) => {
        this.workers.delete(uid);
        this.lastResend.delete(uid);
        // Assigned again while its old worker was tearing down: start afresh.
        const again = this.pods.get(uid);
        if (again && !this.stopped) {
          const w = new PodWorker(again, this.workerDeps());
          this.workers.set(uid, w);
          w.kick();
        } else this.reporter.drop(uid);
      },
    };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.logger.warn(`assignments: skipping a malformed object: ${describe(e)}`);
    }
  }

  private upsertPod(pod: Pod): void {
    const uid = pod.metadata.uid!;
    if (pod.spec?.nodeName && pod.spec.nodeName !== this.name) {
      this.logger.warn(`assignments: pod ${objKey(pod)} is bound to ${pod.spec.nodeName}, not this node; ignored`);
      return;
    }
    if (!pod.spec || !Array.isArray(pod.spec.containers)) {
      this.logger.warn(`assignments: pod ${objKey(pod)} has no containers; ignored`);
      return;
    }
    this.pods.set(uid, pod);
    const w = this.workers.get(uid);
    if (!w) {
      const nw = new PodWorker(pod, this.workerDeps());
      this.workers.set(uid, nw);
      nw.kick();
      return;
    }
    w.update(pod);
    this.checkDrift(pod, w);
  }

  /**
   * Kubelet's status manager compares the API's copy with its own: when the control plane's
   * status of a pod differs from ours in what matters (a lost report, a status written by
   * someone else), ours is sent again — at most every 10 s per pod, so a disagreement cannot loop.
   */
  private checkDrift(pod: Pod, w: PodWorker): void {
    const mine = w.status;
    if (!mine || !pod.status) return;
    // The pod's own Ready and ContainersReady conditions count too: the node controller marks
    // the pods of a node it thinks dead not ready through the Ready condition alone, and an
    // agent that comes back must undo that.
    const digest = (s: typeof mine) =>
      JSON.stringify([
        s.phase,
        (s.conditions ?? []).filter((c) => c.type === 'Ready' || c.type === 'ContainersReady').map((c) => [c.type, c.status]).sort(),
        (s.containerStatuses ?? []).map((c) => [c.name, c.ready, c.restartCount, Object.keys(c.state ?? {})[0]]),
      ]);
    if (digest(mine) === digest(pod.status)) return;
    const now = this.clock.now();
    const uid = pod.metadata.uid!;
    if (now - (this.lastResend.get(uid) ?? -Infinity) < 10_000) return;
    this.lastResend.set(uid, now);
    w.resend();
  }

  private removePod(uid: string): void {
    this.pods.delete(uid);
    this.reporter.drop(uid);
    this.workers.get(uid)?.remove();
  }

  // ---- relist (PLEG), resync -----------------------------------------------------------

  private scheduleRelist(): void {
    if (this.stopped) return;
    this.relistTimer = this.clock.setTimeout(() => {
      void this.relist().finally(() => this.scheduleRelist());
    }, this.o.relistMs ?? 1000);
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    const base = this.o.resyncMs ?? 60_000;
    // Jittered so that a fleet of agents does not resync in step.
    const jitter = 0.9 + 0.2 * (this.o.random ?? Math.random)();
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const w of this.workers.values()) w.kick();
      this.scheduleResync();
    }, base * jitter);
  }

  private relisting = false;

  /** Looks at everything the runtime runs for this node; kicks pods whose containers changed. */
  /** Sandbox ids per pod uid from the last relist (undefined before the first). */
  private sandboxesByUid: Map<string, string[]> | undefined;

  async relist(): Promise<void> {
    if (this.relisting || this.stopped) return;
    this.relisting = true;
    try {
      const [sandboxes, containers] = await Promise.all([this.runtime.listPodSandboxes(), this.runtime.listContainers()]);
      const seen = new Map<string, string>();
      const index = new Map<string, { uid: string; namespace: string; pod: string; container: string }>();
      const changed = new Set<string>();
      const sandboxUid = new Map<string, string>();
      for (const s of sandboxes) {
        if (s.labels[LABEL_NODE] !== this.name || !s.labels[LABEL_POD_UID]) continue;
        const uid = s.labels[LABEL_POD_UID]!;
        sandboxUid.set(s.id, uid);
        const fp = s.state;
        seen.set(`s/${s.id}`, fp);
        if (this.lastSeen.get(`s/${s.id}`) !== fp) changed.add(uid);
        const w = this.workers.get(uid);
        if (w) w.noteSandbox(s.id);
        else if (this.synced && !this.pods.has(uid)) this.adoptOrphan(s.labels, s.annotations, uid);
      }
      for (const c of containers) {
        const uid = c.labels[LABEL_POD_UID];
        if (!uid || c.labels[LABEL_NODE] !== this.name) continue;
        index.set(c.id, { uid, namespace: c.labels[LABEL_POD_NAMESPACE] ?? 'default', pod: c.labels[LABEL_POD_NAME] ?? '', container: c.labels[LABEL_CONTAINER_NAME] ?? c.name });
        const fp = `${c.state}/${c.exitCode ?? ''}`;
        seen.set(`c/${c.id}`, fp);
        if (this.lastSeen.get(`c/${c.id}`) !== fp) changed.add(uid);
      }
      for (const k of this.lastSeen.keys()) {
        if (!seen.has(k)) {
          const id = k.slice(2);
          const uid = k.startsWith('s/') ? undefined : this.containerIndex.get(id)?.uid;
          if (uid) changed.add(uid);
        }
      }
      this.lastSeen = seen;
      this.containerIndex = index;
      const byUid = new Map<string, string[]>();
      for (const [id, uid] of sandboxUid) {
        const list = byUid.get(uid);
        if (list) list.push(id);
        else byUid.set(uid, [id]);
      }
      this.sandboxesByUid = byUid;
      for (const uid of changed) this.workers.get(uid)?.kick();
    } catch (e) {
      this.logger.warn(`relisting the runtime failed: ${describe(e)}`);
    } finally {
      this.relisting = false;
    }
  }

  /** A sandbox of a pod no longer assigned here: stop and remove it (with the grace it was given). */
  private adoptOrphan(labels: Record<string, string>, annotations: Record<string, string>, uid: string): void {
    const g = Number(annotations[ANN_GRACE_PERIOD]);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: labels[LABEL_POD_NAME] ?? uid, namespace: labels[LABEL_POD_NAMESPACE] ?? 'default', uid },
      spec: { containers: [], terminationGracePeriodSeconds: Number.isFinite(g) && g >= 0 ? g : DEFAULT_GRACE_SECONDS },
    };
    this.logger.info(`removing orphaned pod ${objKey(pod)} (${uid}): not assigned to this node`);
    const w = new PodWorker(pod, this.workerDeps());
    this.workers.set(uid, w);
    w.remove();
  }

  // ---- usage ---------------------------------------------------------------------------

  private scheduleUsage(): void {
    if (this.stopped) return;
    this.usageTimer = this.clock.setTimeout(() => {
      void this.collectUsage()
        .catch((e) => this.logger.warn(`collecting usage failed: ${describe(e)}`))
        .finally(() => this.scheduleUsage());
    }, this.o.usageIntervalMs ?? 10_000);
  }

  /** Samples container stats; CPU is the rate between this sample and the previous one. */
  async collectUsage(): Promise<void> {
    const stats = await this.runtime.containerStats();
    const byPod = new Map<string, PodUsageWire>();
    const next = new Map<string, { cpu: number; ts: number }>();
    let sumCpu = 0;
    let sumMem = 0;
    for (const s of stats) {
      const where = this.containerIndex.get(s.containerId);
      next.set(s.containerId, { cpu: s.cpuUsageNanos, ts: s.timestamp });
      if (!where) continue;
      const prev = this.prevStats.get(s.containerId);
      if (!prev || s.timestamp <= prev.ts) continue; // a rate needs two samples
      const milli = Math.max(0, Math.round((s.cpuUsageNanos - prev.cpu) / ((s.timestamp - prev.ts) * 1000)));
      let pu = byPod.get(where.uid);
      if (!pu) {
        pu = { namespace: where.namespace, name: where.pod, uid: where.uid, containers: [] };
        byPod.set(where.uid, pu);
      }
      pu.containers.push({ name: where.container, cpu_millicores: milli, memory_bytes: Math.max(0, Math.round(s.memoryWorkingSetBytes)) });
      sumCpu += milli;
      sumMem += s.memoryWorkingSetBytes;
    }
    this.prevStats = next;
    let nodeCpu = sumCpu;
    let nodeMem = sumMem;
    if (this.o.hostStats ?? this.runtime.runsOnHost) {
      const host = this.hostUsage();
      if (host) {
        nodeCpu = host.cpu;
        nodeMem = host.mem;
      }
    }
    if (byPod.size > 0 || nodeCpu > 0 || nodeMem > 0) this.reporter.setUsage([...byPod.values()], nodeCpu, Math.round(nodeMem));
  }

  private hostUsage(): { cpu: number; mem: number } | undefined {
    const cpus = os.cpus();
    let busy = 0;
    let total = 0;
    for (const c of cpus) {
      const t = c.times;
      busy += t.user + t.nice + t.sys + t.irq;
      total += t.user + t.nice + t.sys + t.irq + t.idle;
    }
    const prev = this.prevHostCpu;
    this.prevHostCpu = { busy, total };
    let mem = os.totalmem() - os.freemem();
    try {
      const mi = readFileSync('/proc/meminfo', 'utf8');
      const avail = /^MemAvailable:\s+(\d+) kB/m.exec(mi);
      if (avail) mem = os.totalmem() - Number(avail[1]) * 1024;
    } catch {
      // not Linux: free memory will do
    }
    if (!prev || total <= prev.total) return { cpu: 0, mem };
    return { cpu: Math.round(((busy - prev.busy) / (total - prev.total)) * cpus.length * 1000), mem };
  }

  // ---- logs ----------------------------------------------------------------------------

  private logSource(): LogSource {
    return {
      findPod: (ns, name) => {
        for (const p of this.pods.values()) if ((p.metadata.namespace ?? 'default') === ns && p.metadata.name === name) return p;
        return undefined;
      },
      instances: async (pod, container) => {
        const uid = pod.metadata.uid ?? '';
        const all = (await this.runtime.listContainers()).filter(
          (c) => c.labels[LABEL_POD_UID] === uid && c.labels[LABEL_NODE] === this.name && (c.labels[LABEL_CONTAINER_NAME] ?? c.name) === container,
        );
        all.sort((a, b) => b.attempt - a.attempt || b.createdAt - a.createdAt);
        const logDir = join(this.dataDir, 'logs', `${pod.metadata.namespace ?? 'default'}_${pod.metadata.name ?? ''}_${uid}`);
        return all.map((c: ContainerInfo): LogInstance => ({
          id: c.id,
          attempt: c.attempt,
          path: c.logPath ?? join(logDir, container, `${c.attempt}.log`),
          running: async () => (await this.runtime.containerStatus(c.id))?.state === 'running',
        }));
      },
      waitingReason: (pod, container) => {
        const s = this.workers.get(pod.metadata.uid ?? '')?.status;
        const all = [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])];
        return all.find((c) => c.name === container)?.state?.waiting?.reason;
      },
      now: () => this.clock.now(),
    };
  }
}

function describe(e: unknown): string {
  const c = e as ControlCallError;
  return c && typeof c.code === 'number' && c.codeName ? `${c.codeName}: ${c.message}` : errorText(e);
}
