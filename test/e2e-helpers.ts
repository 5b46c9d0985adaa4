/**
 * Plumbing of the whole-system pod tests (test/e2e-pods.test.ts): a real three-replica
 * control plane (`berth server` processes, scheduler and controllers on), one real
 * `berth agent` process with the cri or process runtime, an API client, bounded polling,
 * and clean-up that leaves nothing running in the shared containerd. Not a test file itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LABEL_NODE, LABEL_POD_UID } from '../src/agent/labels.ts';
import { CriRuntime } from '../src/agent/runtimes/cri.ts';
import { ProcessRuntime } from '../src/agent/runtimes/process.ts';
import type { Runtime } from '../src/agent/runtimes/types.ts';
import { AgentProcs } from '../src/cli/agent-procs.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { ApiCallError, BerthClient, type LogsOptions, type PlainObject } from '../src/client/client.ts';

export { sleep };

export type RuntimeKind = 'cri' | 'process';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/** Poll `fn` until it returns something other than undefined; throw after `limitMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, limitMs = 30_000, everyMs = 100): Promise<T> {
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
      throw new Error(`gave up waiting for ${what} after ${limitMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await sleep(everyMs);
  }
}

export interface E2eEnv {
  kind: RuntimeKind;
  dir: string;
  cluster: ServerCluster;
  agents: AgentProcs;
  /** The agent's node name (unique per run: other tests share containerd). */
  node: string;
  client: BerthClient;
  /** containerd, for inspection and last-resort clean-up (cri only). */
  cri?: CriRuntime;
  /** The agent's process-runtime directory (process only). */
  processDir?: string;
  /** Stops everything (idempotent); `keepDir` leaves the temp dir for inspection. */
  stop(keepDir: boolean): Promise<void>;
}

/** Starts the control plane and one agent of `kind`; resolves once the Node is Ready. */
export async function startEnv(kind: RuntimeKind, criSocket?: string): Promise<E2eEnv> {
  const dir = mkdtempSync(join(tmpdir(), `berth-e2e-${kind}-`));
  const ports = await freePorts(6);
  const cluster = new ServerCluster({ size: 3, dir: join(dir, 'cluster'), peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
  const prefix = `e2e-${kind}-${process.pid}`;
  const agents = new AgentProcs({ dir: join(dir, 'agents'), servers: cluster.apiAddresses(), runtime: kind, namePrefix: prefix, ...(criSocket ? { criSocket } : {}) });
  const node = agents.name(1);
  const client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 10_000 });
  const cri = kind === 'cri' && criSocket ? new CriRuntime(criSocket, { callTimeoutMs: 20_000 }) : undefined;
  const processDir = kind === 'process' ? join(dir, 'agents', 'agent-1', 'process-runtime') : undefined;
  let stopped = false;
  const env: E2eEnv = {
    kind,
    dir,
    cluster,
    agents,
    node,
    client,
    ...(cri ? { cri } : {}),
    ...(processDir ? { processDir } : {}),
    stop: async (keepDir) => {
      if (stopped) return;
      stopped = true;
      try {
        await removeAllPods(env).catch(() => undefined);
      } finally {
        await agents.stopAll();
        client.close();
        await cluster.stopAll();
        await lastResortCleanup(env).catch(() => undefined);
        await cri?.close();
        if (!keepDir) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    if (cri) await cri.version();
    await cluster.startAll();
    await until('the default namespace', async () => ((await client.get('Namespace', '', 'default')) ? true : undefined), 60_000);
    agents.start(1);
    await until(
      `node ${node} to be registered and Ready`,
      async () => {
        const n = (await client.get('Node', '', node)) as { status?: { conditions?: { type: string; status: string }[] } };
        return n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? true : undefined;
      },
      90_000,
      250,
    );
  } catch (e) {
    await env.stop(true).catch(() => undefined);
    throw new Error(`starting the ${kind} environment failed (logs kept in ${dir}): ${(e as Error).message}`);
  }
  return env;
}

/** Deletes every pod with grace 0 and waits until the agent removed them from its runtime. */
export async function removeAllPods(env: E2eEnv, limitMs = 60_000): Promise<void> {
  const pods = (await env.client.list('Pod', {})).items;
  for (const p of pods) {
    const m = p.metadata as { namespace: string; name: string };
    await env.client.delete('Pod', m.namespace, m.name, { gracePeriodSeconds: 0 }).catch((e: unknown) => {
      if (!(e instanceof ApiCallError && e.codeName === 'NOT_FOUND')) throw e;
    });
  }
  await until('the agent to remove every sandbox of its node', async () => ((await leftovers(env)).length === 0 ? true : undefined), limitMs, 250);
}

/** Sandboxes of this run's node still in the runtime. */
export async function leftovers(env: E2eEnv): Promise<string[]> {
  if (env.cri) {
    return (await env.cri.listPodSandboxes()).filter((s) => s.labels[LABEL_NODE] === env.node).map((s) => s.id);
  }
  if (env.processDir) {
    try {
      return readdirSync(join(env.processDir, 'sandboxes')).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
  }
  return [];
}

/** Containers of one pod (by uid) in containerd (cri only). */
export async function criContainersOf(env: E2eEnv, uid: string): Promise<string[]> {
  if (!env.cri) return [];
  return (await env.cri.listContainers()).filter((c) => c.labels[LABEL_POD_UID] === uid && c.labels[LABEL_NODE] === env.node).map((c) => c.id);
}

/** After the agent stopped: whatever of this node the runtime still holds is stopped and removed. */
async function lastResortCleanup(env: E2eEnv): Promise<void> {
  let rt: Runtime | undefined = env.cri;
  let own = false;
  if (!rt && env.processDir) {
    rt = new ProcessRuntime({ dir: env.processDir });
    own = true;
  }
  if (!rt) return;
  try {
    for (const s of await rt.listPodSandboxes()) {
      if (env.cri && s.labels[LABEL_NODE] !== env.node) continue;
      await rt.stopPodSandbox(s.id).catch(() => undefined);
      await rt.removePodSandbox(s.id).catch(() => undefined);
    }
  } finally {
    if (own) await rt.close();
  }
}

// ---- objects --------------------------------------------------------------------------------

export interface Ctr {
  name: string;
  image: string;
  command: string[];
  [k: string]: unknown;
}

export function podObject(name: string, containers: Ctr[], spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { e2e: 'pods', ...labels } },
    spec: { terminationGracePeriodSeconds: 3, ...spec, containers },
  };
}

export interface ContainerStateOut {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string };
}

export interface ContainerStatusOut {
  name: string;
  state?: ContainerStateOut;
  lastState?: ContainerStateOut;
  ready: boolean;
  restartCount: number;
  containerID?: string;
}

export interface PodOut {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    conditions?: { type: string; status: string; reason?: string }[];
    containerStatuses?: ContainerStatusOut[];
  };
}

export async function getPod(c: BerthClient, name: string): Promise<PodOut> {
  return (await c.get('Pod', 'default', name)) as unknown as PodOut;
}

/** The pod, or undefined once it is gone (NOT_FOUND). */
export async function getPodOrGone(c: BerthClient, name: string): Promise<PodOut | undefined> {
  try {
    return await getPod(c, name);
  } catch (e) {
    if (e instanceof ApiCallError && e.codeName === 'NOT_FOUND') return undefined;
    throw e;
  }
}

export function firstStatus(p: PodOut | undefined): ContainerStatusOut | undefined {
  return p?.status?.containerStatuses?.[0];
}

export function condition(p: PodOut | undefined, type: string): string | undefined {
  return p?.status?.conditions?.find((c) => c.type === type)?.status;
}

/** Polls the pod until `pred` holds; returns the pod it held for. */
export function podWhere(c: BerthClient, name: string, what: string, pred: (p: PodOut) => boolean, limitMs = 60_000): Promise<PodOut> {
  return until(`pod ${name}: ${what}`, async () => {
    const p = await getPod(c, name);
    return pred(p) ? p : undefined;
  }, limitMs);
}

/** Running with its (only) container ready. */
export function isRunningReady(p: PodOut): boolean {
  return p.status?.phase === 'Running' && condition(p, 'Ready') === 'True' && firstStatus(p)?.state?.running !== undefined;
}

/**
 * Every version of one pod the API commits, in order, from a watch (re-opened from the last
 * resourceVersion if the stream breaks): transitions that last less than a poll are kept.
 */
export class PodRecorder {
  readonly history: PodOut[] = [];
  deleted = false;
  private cancel: (() => void) | undefined;
  private rv = '';
  private stopped = false;

  constructor(
    private readonly c: BerthClient,
    readonly name: string,
  ) {
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    this.cancel = this.c.watch(
      'Pod',
      { namespace: 'default', fieldSelector: `metadata.name=${this.name}`, resourceVersion: this.rv },
      (ev) => {
        if (ev.resourceVersion) this.rv = ev.resourceVersion;
        if (ev.type === 'BOOKMARK' || !ev.object) return;
        this.history.push(ev.object as unknown as PodOut);
        if (ev.type === 'DELETED') this.deleted = true;
      },
      () => {
        if (!this.stopped) setTimeout(() => this.open(), 200);
      },
    );
  }

  get latest(): PodOut | undefined {
    return this.history[this.history.length - 1];
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }
}

/** The whole log of a pod's container through the API (relayed from the agent). */
export async function podLogs(c: BerthClient, name: string, opts: LogsOptions = {}): Promise<string> {
  let text = '';
  await c.logs('default', name, opts, (b) => (text += b.toString('utf8'))).done;
  return text;
}

// ---- host side ------------------------------------------------------------------------------

export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (ch: string) => (body += ch));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Pids (on this host, containers included) whose command line contains `text`. */
export function processesMatching(text: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(text)) out.push(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI as a child process (`node --import tsx src/cli/main.ts ARGS`). */
export function berthCli(args: string[], dir: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env: { ...process.env, BERTH_CONFIG: join(dir, 'no-config'), BERTH_SERVER: '', NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && code === -1) reject(err);
        else resolve({ code, stdout, stderr });
      },
    );
  });
}
