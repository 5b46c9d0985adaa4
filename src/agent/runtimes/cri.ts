/**
 * The `cri` runtime: drives containerd (or any CRI server) over its unix socket with the
 * runtime.v1 RuntimeService and ImageService from proto/cri/api.proto.
 *
 * CRI already has the shape of the Runtime interface, so this file is mostly translation:
 * camelCase configs to CRI messages, nanosecond timestamps to milliseconds, gRPC errors to
 * RuntimeError reasons. Every call carries a deadline so a wedged containerd cannot hang a pod
 * worker.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RuntimeError,
  type ContainerConfig,
  type ContainerInfo,
  type ContainerState,
  type ContainerStats,
  type ExecResult,
  type ImageInfo,
  type LinuxResources,
  type Runtime,
  type RuntimeVersion,
  type SandboxConfig,
  type SandboxInfo,
} from './types.ts';

export const CRI_PROTO = fileURLToPath(new URL('../../../proto/cri/api.proto', import.meta.url));

const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  // CRI timestamps are int64 nanoseconds: past 2^53, so they arrive as strings.
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export interface CriRuntimeOptions {
  /** Deadline of an ordinary call (status, list, stop, remove). Default 30 s. */
  callTimeoutMs?: number;
  /** Deadline of RunPodSandbox, CreateContainer, StartContainer: slow under load. Default 120 s. */
  startTimeoutMs?: number;
  /** Deadline of PullImage. Default 300 s. */
  pullTimeoutMs?: number;
}

// ---- wire shapes (only the fields read here) --------------------------------------------------

type Labels = Record<string, string>;

interface WireSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

interface WirePodSandbox {
  id: string;
  metadata: WireSandboxMetadata | null;
  state: string;
  created_at: string;
  labels: Labels;
  annotations: Labels;
}

interface WirePodSandboxStatus extends WirePodSandbox {
  network: { ip: string; additional_ips: { ip: string }[] } | null;
}

interface WireContainer {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number } | null;
  image: { image: string } | null;
  image_ref: string;
  state: string;
  created_at: string;
  labels: Labels;
  annotations: Labels;
}

interface WireContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: string;
  created_at: string;
  started_at: string;
  finished_at: string;
  exit_code: number;
  image: { image: string } | null;
  image_ref: string;
  reason: string;
  message: string;
  labels: Labels;
  annotations: Labels;
  log_path: string;
}

interface WireUInt64 {
  value: string;
}

interface WireContainerStats {
  attributes: { id: string } | null;
  cpu: { timestamp: string; usage_core_nano_seconds: WireUInt64 | null } | null;
  memory: { timestamp: string; working_set_bytes: WireUInt64 | null } | null;
}

interface WireImage {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string;
}

type Callback = (err: grpc.ServiceError | null, res: unknown) => void;
type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;
type ServiceClient = grpc.Client & Record<string, UnaryMethod>;
type ClientCtor = new (address: string, creds: grpc.ChannelCredentials, opts?: grpc.ClientOptions) => ServiceClient;

let servicesCache: { runtime: ClientCtor; image: ClientCtor } | undefined;

function services(): { runtime: ClientCtor; image: ClientCtor } {
  if (!servicesCache) {
    const def = protoLoader.loadSync(CRI_PROTO, PROTO_OPTIONS);
    const pkg = (grpc.loadPackageDefinition(def).runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
    servicesCache = {
      runtime: pkg.RuntimeService as unknown as ClientCtor,
      image: pkg.ImageService as unknown as ClientCtor,
    };
  }
  return servicesCache;
}

// ---- conversions -------------------------------------------------------------------------------

/** CRI nanoseconds (as a decimal string) to ms since the epoch; 0 (unset) to undefined. */
export function nanosToMs(ns: string | number | undefined | null): number | undefined {
  if (ns === undefined || ns === null || ns === '' || ns === '0' || ns === 0) return undefined;
  if (typeof ns === 'number') return Math.floor(ns / 1e6);
  return Number(BigInt(ns) / 1_000_000n);
}

function u64(v: WireUInt64 | null | undefined): number {
  return v ? Number(v.value) : 0;
}

const CONTAINER_STATES: Record<string, ContainerState> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
  CONTAINER_UNKNOWN: 'unknown',
};

function containerState(s: string): ContainerState {
  return CONTAINER_STATES[s] ?? 'unknown';
}

// The pod shares network and IPC; each container has its own PID namespace (the v1 PodSpec
// default, shareProcessNamespace false). A hostNetwork pod and its containers use the node's
// network namespace instead, and containerd runs no CNI for it.
function namespaceOptions(hostNetwork: boolean | undefined): Record<string, string> {
  return { network: hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' };
}

function sandboxToWire(cfg: SandboxConfig): Record<string, unknown> {
  return {
    metadata: { name: cfg.name, uid: cfg.uid, namespace: cfg.namespace, attempt: cfg.attempt },
    // The node's UTS namespace is shared with a hostNetwork pod: runc refuses to set a hostname.
    hostname: cfg.hostNetwork ? '' : cfg.hostname,
    log_directory: cfg.logDirectory,
    port_mappings: cfg.portMappings.map((p) => ({
      protocol: p.protocol,
      container_port: p.containerPort,
      host_port: p.hostPort,
      host_ip: p.hostIp ?? '',
    })),
    labels: { ...cfg.labels },
    annotations: { ...cfg.annotations },
    linux: {
      cgroup_parent: cfg.cgroupParent ?? '',
      security_context: { namespace_options: namespaceOptions(cfg.hostNetwork) },
    },
  };
}

function resourcesToWire(r: LinuxResources): Record<string, unknown> {
  // int64 fields go out as strings: exact beyond 2^53 and accepted by protobufjs.
  const out: Record<string, unknown> = {};
  if (r.cpuPeriod !== undefined) out.cpu_period = String(Math.trunc(r.cpuPeriod));
  if (r.cpuQuota !== undefined) out.cpu_quota = String(Math.trunc(r.cpuQuota));
  if (r.cpuShares !== undefined) out.cpu_shares = String(Math.trunc(r.cpuShares));
  if (r.memoryLimitBytes !== undefined) out.memory_limit_in_bytes = String(Math.trunc(r.memoryLimitBytes));
  if (r.oomScoreAdj !== undefined) out.oom_score_adj = String(Math.trunc(r.oomScoreAdj));
  return out;
}

function containerToWire(cfg: ContainerConfig, sandbox: SandboxConfig): Record<string, unknown> {
  return {
    metadata: { name: cfg.name, attempt: cfg.attempt },
    image: { image: cfg.image, user_specified_image: cfg.image },
    command: cfg.command,
    args: cfg.args,
    working_dir: cfg.workingDir ?? '',
    envs: cfg.env.map((e) => ({ key: e.name, value: e.value })),
    mounts: cfg.mounts.map((m) => ({
      container_path: m.containerPath,
      host_path: m.hostPath,
      readonly: m.readonly,
    })),
    labels: { ...cfg.labels },
    annotations: { ...cfg.annotations },
    log_path: cfg.logPath,
    tty: cfg.tty ?? false,
    stdin: cfg.stdin ?? false,
    linux: {
      resources: resourcesToWire(cfg.resources),
      security_context: { namespace_options: namespaceOptions(sandbox.hostNetwork) },
    },
  };
}

function sandboxFromWire(s: WirePodSandbox | WirePodSandboxStatus): SandboxInfo {
  const info: SandboxInfo = {
    id: s.id,
    name: s.metadata?.name ?? '',
    namespace: s.metadata?.namespace ?? '',
    uid: s.metadata?.uid ?? '',
    attempt: s.metadata?.attempt ?? 0,
    state: s.state === 'SANDBOX_READY' ? 'ready' : 'notready',
    createdAt: nanosToMs(s.created_at) ?? 0,
    labels: { ...s.labels },
    annotations: { ...s.annotations },
  };
  if ('network' in s && s.network) {
    if (s.network.ip) info.ip = s.network.ip;
    const extra = s.network.additional_ips.map((a) => a.ip).filter(Boolean);
    if (extra.length > 0) info.additionalIps = extra;
  }
  return info;
}

function containerFromStatus(s: WireContainerStatus, sandboxId: string): ContainerInfo {
  const info: ContainerInfo = {
    id: s.id,
    sandboxId,
    name: s.metadata?.name ?? '',
    attempt: s.metadata?.attempt ?? 0,
    image: s.image?.image ?? '',
    state: containerState(s.state),
    createdAt: nanosToMs(s.created_at) ?? 0,
    labels: { ...s.labels },
    annotations: { ...s.annotations },
  };
  if (s.image_ref) info.imageRef = s.image_ref;
  const started = nanosToMs(s.started_at);
  if (started !== undefined) info.startedAt = started;
  const finished = nanosToMs(s.finished_at);
  if (finished !== undefined) {
    info.finishedAt = finished;
    info.exitCode = s.exit_code;
  }
  if (s.reason) info.reason = s.reason;
  if (s.message) info.message = s.message;
  if (s.log_path) info.logPath = s.log_path;
  return info;
}

function containerFromList(c: WireContainer): ContainerInfo {
  const info: ContainerInfo = {
    id: c.id,
    sandboxId: c.pod_sandbox_id,
    name: c.metadata?.name ?? '',
    attempt: c.metadata?.attempt ?? 0,
    image: c.image?.image ?? '',
    state: containerState(c.state),
    createdAt: nanosToMs(c.created_at) ?? 0,
    labels: { ...c.labels },
    annotations: { ...c.annotations },
  };
  if (c.image_ref) info.imageRef = c.image_ref;
  return info;
}

/** Run fn over items with at most `limit` calls in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function isGrpcError(e: unknown): e is grpc.ServiceError {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'number';
}

function codeOf(e: unknown): grpc.status | undefined {
  return isGrpcError(e) ? e.code : undefined;
}

// ---- the runtime -------------------------------------------------------------------------------

export class CriRuntime implements Runtime {
  readonly kind = 'cri';
  readonly writesLogFiles = true;
  readonly runsOnHost = true;
  readonly socket: string;
  private readonly runtimeClient: ServiceClient;
  private readonly imageClient: ServiceClient;
  private readonly callTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly pullTimeoutMs: number;
  /** Container id → its sandbox id, learned at create and list; saves a list per status call. */
  private readonly containerSandbox = new Map<string, string>();

  constructor(socket: string, opts: CriRuntimeOptions = {}) {
    if (!isAbsolute(socket)) throw new Error(`CRI socket path must be absolute, got '${socket}'`);
    this.socket = socket;
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.startTimeoutMs = opts.startTimeoutMs ?? 120_000;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? 300_000;
    const { runtime, image } = services();
    const channelOptions: grpc.ClientOptions = {
      // ExecSync may return up to 16 MiB of stdout plus 16 MiB of stderr.
      'grpc.max_receive_message_length': 40 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
    };
    const address = `unix://${socket}`;
    this.runtimeClient = new runtime(address, grpc.credentials.createInsecure(), channelOptions);
    this.imageClient = new image(address, grpc.credentials.createInsecure(), channelOptions);
  }

  /** One unary call with a deadline; gRPC errors are rethrown as they are (callers map them). */
  private call<Res>(client: ServiceClient, method: string, req: unknown, timeoutMs = this.callTimeoutMs): Promise<Res> {
    const fn = client[method];
    if (typeof fn !== 'function') throw new Error(`CRI client has no method ${method}`);
    return new Promise<Res>((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve(res as Res);
      });
    });
  }

  private rt<Res>(method: string, req: unknown, timeoutMs?: number): Promise<Res> {
    return this.call<Res>(this.runtimeClient, method, req, timeoutMs);
  }

  private img<Res>(method: string, req: unknown, timeoutMs?: number): Promise<Res> {
    return this.call<Res>(this.imageClient, method, req, timeoutMs);
  }

  /** A RuntimeError naming the call and what went wrong; a missing socket says how to fix it. */
  private fail(reason: string, what: string, e: unknown): RuntimeError {
    if (e instanceof RuntimeError) return e;
    if (codeOf(e) === grpc.status.UNAVAILABLE && !existsSync(this.socket)) {
      return new RuntimeError(reason, `${what}: containerd socket ${this.socket} not found: run scripts/host-setup.sh`);
    }
    const detail = isGrpcError(e) ? `${grpc.status[e.code] ?? e.code}: ${e.details || e.message}` : String((e as Error)?.message ?? e);
    return new RuntimeError(reason, `${what}: ${detail} (CRI socket ${this.socket})`);
  }

  async version(): Promise<RuntimeVersion> {
    try {
      const r = await this.rt<{ runtime_name: string; runtime_version: string }>('Version', { version: 'v1' });
      return { runtimeName: r.runtime_name, runtimeVersion: r.runtime_version };
    } catch (e) {
      throw this.fail('Unknown', 'CRI Version', e);
    }
  }

  // ---- images ----

  async imageStatus(image: string): Promise<ImageInfo | undefined> {
    let r: { image: WireImage | null };
    try {
      r = await this.img('ImageStatus', { image: { image } });
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return undefined;
      throw this.fail('Unknown', `ImageStatus ${image}`, e);
    }
    if (!r.image || !r.image.id) return undefined;
    const info: ImageInfo = { ref: r.image.id };
    const size = Number(r.image.size);
    if (size > 0) info.sizeBytes = size;
    return info;
  }

  async pullImage(image: string): Promise<string> {
    try {
      const r = await this.img<{ image_ref: string }>('PullImage', { image: { image } }, this.pullTimeoutMs);
      if (!r.image_ref) throw new RuntimeError('ErrImagePull', `PullImage ${image}: runtime returned no image reference`);
      return r.image_ref;
    } catch (e) {
      throw this.fail('ErrImagePull', `pull image ${image}`, e);
    }
  }

  /** Every image the runtime holds (tags and digests), for diagnostics and image GC. */
  async listImages(): Promise<{ id: string; tags: string[]; digests: string[]; sizeBytes: number }[]> {
    try {
      const r = await this.img<{ images: WireImage[] }>('ListImages', {});
      return r.images.map((i) => ({ id: i.id, tags: i.repo_tags, digests: i.repo_digests, sizeBytes: Number(i.size) }));
    } catch (e) {
      throw this.fail('Unknown', 'ListImages', e);
    }
  }

  // ---- sandboxes ----

  async runPodSandbox(cfg: SandboxConfig): Promise<string> {
    const what = `run pod sandbox ${cfg.namespace}/${cfg.name} (attempt ${cfg.attempt})`;
    try {
      // containerd writes container logs below this directory but does not create it.
      if (cfg.logDirectory) mkdirSync(cfg.logDirectory, { recursive: true });
      const r = await this.rt<{ pod_sandbox_id: string }>('RunPodSandbox', { config: sandboxToWire(cfg) }, this.startTimeoutMs);
      return r.pod_sandbox_id;
    } catch (e) {
      throw this.fail('SandboxError', what, e);
    }
  }

  async stopPodSandbox(id: string): Promise<void> {
    try {
      // Stopping kills every container of the pod: allow for slow teardown under load.
      await this.rt('StopPodSandbox', { pod_sandbox_id: id }, this.startTimeoutMs);
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return;
      throw this.fail('Unknown', `stop pod sandbox ${id}`, e);
    }
  }

  async removePodSandbox(id: string): Promise<void> {
    try {
      await this.rt('RemovePodSandbox', { pod_sandbox_id: id }, this.startTimeoutMs);
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return;
      throw this.fail('Unknown', `remove pod sandbox ${id}`, e);
    }
    for (const [cid, sid] of this.containerSandbox) if (sid === id) this.containerSandbox.delete(cid);
  }

  async podSandboxStatus(id: string): Promise<SandboxInfo | undefined> {
    try {
      const r = await this.rt<{ status: WirePodSandboxStatus | null }>('PodSandboxStatus', { pod_sandbox_id: id });
      return r.status ? sandboxFromWire(r.status) : undefined;
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return undefined;
      throw this.fail('Unknown', `pod sandbox status ${id}`, e);
    }
  }

  /** Every sandbox, with its IP (one status call per sandbox: the list carries no network). */
  async listPodSandboxes(): Promise<SandboxInfo[]> {
    let items: WirePodSandbox[];
    try {
      items = (await this.rt<{ items: WirePodSandbox[] }>('ListPodSandbox', {})).items;
    } catch (e) {
      throw this.fail('Unknown', 'list pod sandboxes', e);
    }
    const full = await mapLimit(items, 8, async (s) => {
      // A sandbox removed between list and status is simply gone.
      if (s.state !== 'SANDBOX_READY') return sandboxFromWire(s);
      return this.podSandboxStatus(s.id);
    });
    return full.filter((s): s is SandboxInfo => s !== undefined);
  }

  // ---- containers ----

  async createContainer(sandboxId: string, cfg: ContainerConfig, sandbox: SandboxConfig): Promise<string> {
    const what = `create container ${cfg.name} (attempt ${cfg.attempt}) in pod ${sandbox.namespace}/${sandbox.name}`;
    try {
      if (sandbox.logDirectory && cfg.logPath) mkdirSync(dirname(join(sandbox.logDirectory, cfg.logPath)), { recursive: true });
      const r = await this.rt<{ container_id: string }>(
        'CreateContainer',
        { pod_sandbox_id: sandboxId, config: containerToWire(cfg, sandbox), sandbox_config: sandboxToWire(sandbox) },
        this.startTimeoutMs,
      );
      this.containerSandbox.set(r.container_id, sandboxId);
      return r.container_id;
    } catch (e) {
      const msg = isGrpcError(e) ? e.details : '';
      const reason = codeOf(e) === grpc.status.NOT_FOUND && /image/i.test(msg) ? 'ImageNotFound' : 'CreateContainerError';
      throw this.fail(reason, what, e);
    }
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.rt('StartContainer', { container_id: id }, this.startTimeoutMs);
    } catch (e) {
      throw this.fail('RunContainerError', `start container ${id}`, e);
    }
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const grace = Math.max(0, Math.trunc(timeoutSeconds));
    try {
      // containerd waits the grace period, then SIGKILLs: the deadline must outlast both.
      await this.rt('StopContainer', { container_id: id, timeout: String(grace) }, grace * 1000 + this.callTimeoutMs);
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return;
      throw this.fail('Unknown', `stop container ${id}`, e);
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.rt('RemoveContainer', { container_id: id });
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return;
      throw this.fail('Unknown', `remove container ${id}`, e);
    }
    this.containerSandbox.delete(id);
  }

  async containerStatus(id: string): Promise<ContainerInfo | undefined> {
    let status: WireContainerStatus | null;
    try {
      status = (await this.rt<{ status: WireContainerStatus | null }>('ContainerStatus', { container_id: id })).status;
    } catch (e) {
      if (codeOf(e) === grpc.status.NOT_FOUND) return undefined;
      throw this.fail('Unknown', `container status ${id}`, e);
    }
    if (!status) return undefined;
    // ContainerStatus does not name the sandbox; ListContainers does.
    let sandboxId = this.containerSandbox.get(id);
    if (sandboxId === undefined) {
      const listed = await this.rawListContainers({ id });
      // Removed between the two calls: gone.
      if (listed.length === 0) return undefined;
      sandboxId = listed[0]!.pod_sandbox_id;
      this.containerSandbox.set(id, sandboxId);
    }
    return containerFromStatus(status, sandboxId);
  }

  private async rawListContainers(filter: { id?: string; pod_sandbox_id?: string }): Promise<WireContainer[]> {
    try {
      return (await this.rt<{ containers: WireContainer[] }>('ListContainers', { filter })).containers;
    } catch (e) {
      throw this.fail('Unknown', 'list containers', e);
    }
  }

  /**
   * Containers with full status (exit code, reason, times, log path): one ContainerStatus per
   * container after the list, since the list alone carries none of that.
   */
  async listContainers(filter?: { sandboxId?: string }): Promise<ContainerInfo[]> {
    const listed = await this.rawListContainers(filter?.sandboxId ? { pod_sandbox_id: filter.sandboxId } : {});
    for (const c of listed) this.containerSandbox.set(c.id, c.pod_sandbox_id);
    const full = await mapLimit(listed, 8, async (c) => {
      try {
        const r = await this.rt<{ status: WireContainerStatus | null }>('ContainerStatus', { container_id: c.id });
        return r.status ? containerFromStatus(r.status, c.pod_sandbox_id) : containerFromList(c);
      } catch (e) {
        if (codeOf(e) === grpc.status.NOT_FOUND) return undefined;
        throw this.fail('Unknown', `container status ${c.id}`, e);
      }
    });
    return full.filter((c): c is ContainerInfo => c !== undefined);
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
    if (cmd.length === 0) throw new RuntimeError('Unknown', `exec in container ${id}: empty command`);
    const t = Math.max(1, Math.ceil(timeoutSeconds));
    try {
      // containerd enforces the timeout itself; our deadline is only a backstop behind it.
      const r = await this.rt<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
        'ExecSync',
        { container_id: id, cmd, timeout: String(t) },
        t * 1000 + this.callTimeoutMs,
      );
      return { exitCode: r.exit_code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
    } catch (e) {
      if (codeOf(e) === grpc.status.DEADLINE_EXCEEDED) {
        return { exitCode: -1, stdout: '', stderr: `command timed out after ${t}s`, timedOut: true };
      }
      if (codeOf(e) === grpc.status.NOT_FOUND) throw this.fail('NotFound', `exec in container ${id}`, e);
      throw this.fail('Unknown', `exec in container ${id}`, e);
    }
  }

  async containerStats(ids?: string[]): Promise<ContainerStats[]> {
    let stats: WireContainerStats[];
    try {
      const filter = ids && ids.length === 1 ? { id: ids[0] } : {};
      stats = (await this.rt<{ stats: WireContainerStats[] }>('ListContainerStats', { filter })).stats;
    } catch (e) {
      throw this.fail('Unknown', 'list container stats', e);
    }
    const wanted = ids ? new Set(ids) : undefined;
    const out: ContainerStats[] = [];
    for (const s of stats) {
      const id = s.attributes?.id;
      if (!id || (wanted && !wanted.has(id))) continue;
      out.push({
        containerId: id,
        cpuUsageNanos: u64(s.cpu?.usage_core_nano_seconds),
        memoryWorkingSetBytes: u64(s.memory?.working_set_bytes),
        timestamp: nanosToMs(s.cpu?.timestamp) ?? nanosToMs(s.memory?.timestamp) ?? Date.now(),
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.runtimeClient.close();
    this.imageClient.close();
  }
}
