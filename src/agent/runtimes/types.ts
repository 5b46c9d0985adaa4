/**
 * The one interface every container runtime implements (cri, process, fake). It is shaped
 * after CRI's RuntimeService and ImageService, because that is what kubelet drives and what
 * containerd serves: a pod is a sandbox (network identity, shared by its containers) plus
 * containers created inside it. The agent's pod workers speak only this interface.
 *
 * Conventions:
 * - Every id is an opaque string chosen by the runtime.
 * - Operations on something already gone (stop/remove of a missing sandbox or container)
 *   succeed, as CRI's NOT_FOUND is treated by kubelet.
 * - Failures throw {@link RuntimeError} with a reason a pod status can show
 *   (ErrImagePull, CreateContainerError, RunContainerError, ...).
 * - Timestamps are milliseconds since the epoch (the runtime converts CRI's nanoseconds).
 * - Labels and annotations given at creation come back unchanged from list/status calls:
 *   that is how an agent restarted finds and adopts what it started before.
 */

export class RuntimeError extends Error {
  override name = 'RuntimeError';
  constructor(
    /** Kubernetes-style reason: ErrImagePull, ImageNotFound, CreateContainerError, RunContainerError, StartError, SandboxError, NotFound, Unknown. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PortMapping {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  containerPort: number;
  hostPort: number;
  hostIp?: string;
}

export interface SandboxConfig {
  /** Pod name, namespace, uid and attempt (CRI PodSandboxMetadata). */
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  hostname: string;
  /** Directory on the host under which container logs go (CRI log_directory). */
  logDirectory: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  portMappings: PortMapping[];
  /** Optional cgroup parent for the pod (CRI linux.cgroup_parent). */
  cgroupParent?: string;
  /** The pod uses the node's network namespace (spec.hostNetwork): no CNI, no pod IP of its own. */
  hostNetwork?: boolean;
}

export type SandboxState = 'ready' | 'notready';

export interface SandboxInfo {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: SandboxState;
  createdAt: number;
  /** The pod's IP (from CNI for cri; 127.0.0.1 for process). */
  ip?: string;
  /** Extra IPs (dual stack). */
  additionalIps?: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
}

export interface LinuxResources {
  /** cgroup cpu.shares (requests.cpu in millicores × 1024 / 1000, at least 2). */
  cpuShares?: number;
  /** CFS quota in µs per period (limits.cpu); with cpuPeriod. */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** limits.memory in bytes. */
  memoryLimitBytes?: number;
  /** requests.memory in bytes (informational on cgroup v1). */
  memoryRequestBytes?: number;
  oomScoreAdj?: number;
}

export interface ContainerConfig {
  /** Container name and attempt (restart count); the attempt makes the name unique. */
  name: string;
  attempt: number;
  /** The image as the pod spec names it; the runtime resolves it to what was pulled. */
  image: string;
  /** Entrypoint override (spec.command); empty keeps the image's. */
  command: string[];
  /** spec.args; empty keeps the image's. */
  args: string[];
  workingDir?: string;
  env: { name: string; value: string }[];
  mounts: Mount[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Log file path relative to the sandbox's logDirectory, e.g. "web/0.log". */
  logPath: string;
  resources: LinuxResources;
  tty?: boolean;
  stdin?: boolean;
}

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerInfo {
  id: string;
  sandboxId: string;
  name: string;
  attempt: number;
  image: string;
  /** The resolved image (digest or id) when known. */
  imageRef?: string;
  state: ContainerState;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  /** Completed, Error, OOMKilled, StartError, ... */
  reason?: string;
  message?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Absolute path of the container's log file on the host. */
  logPath?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when the command ran past its timeout and was killed. */
  timedOut?: boolean;
}

export interface ContainerStats {
  containerId: string;
  /** Cumulative CPU time in nanoseconds. */
  cpuUsageNanos: number;
  memoryWorkingSetBytes: number;
  /** When the sample was taken (ms since the epoch). */
  timestamp: number;
}

export interface ImageInfo {
  /** The resolved reference (id or digest). */
  ref: string;
  sizeBytes?: number;
}

export interface RuntimeVersion {
  runtimeName: string;
  runtimeVersion: string;
}

export interface Runtime {
  /** cri | process | fake */
  readonly kind: string;
  /**
   * Whether containers' output goes to files under the pod's log directory (the CRI log
   * path), which the agent then makes and removes. False for the fake runtime of hollow
   * nodes, which writes nothing.
   */
  readonly writesLogFiles: boolean;
  /**
   * Whether its containers run on this host, so that the host's CPU and memory are the
   * node's usage. False for the fake runtime: a hollow node's usage is its pods' usage.
   */
  readonly runsOnHost: boolean;
  version(): Promise<RuntimeVersion>;

  // Images
  /** The image if present locally, else undefined. */
  imageStatus(image: string): Promise<ImageInfo | undefined>;
  /** Pull; throws RuntimeError('ErrImagePull', ...) when it cannot. Returns the resolved ref. */
  pullImage(image: string): Promise<string>;

  // Sandboxes
  runPodSandbox(cfg: SandboxConfig): Promise<string>;
  /** Stop every container of the sandbox and tear down its network. Idempotent. */
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<SandboxInfo | undefined>;
  listPodSandboxes(): Promise<SandboxInfo[]>;

  // Containers
  createContainer(sandboxId: string, cfg: ContainerConfig, sandbox: SandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutSeconds (0: SIGKILL at once). Idempotent. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  containerStatus(id: string): Promise<ContainerInfo | undefined>;
  /** All containers, or those of one sandbox. */
  listContainers(filter?: { sandboxId?: string }): Promise<ContainerInfo[]>;

  /** Run a command inside a running container (exec probes). */
  execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult>;
  containerStats(ids?: string[]): Promise<ContainerStats[]>;

  /** Release connections and timers (does not stop containers). */
  close(): Promise<void>;
}
