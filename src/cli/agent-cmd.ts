/**
 * `berth agent`: this machine becomes a node of the cluster. The agent registers with the
 * control plane, runs the pods assigned to it with a container runtime (containerd over CRI,
 * plain processes, or a fake one), and reports their status. Stopping it (SIGINT/SIGTERM)
 * leaves the containers running, as kubelet does: the next agent adopts them.
 */
import * as os from 'node:os';
import { join } from 'node:path';
import type { Taint, TaintEffect } from '../api/index.ts';
import { isQualifiedName, isValidLabelValue, tryParseQuantity } from '../api/index.ts';
import { Agent } from '../agent/agent.ts';
import { stderrAgentLogger } from '../agent/log.ts';
import type { Runtime } from '../agent/runtimes/types.ts';
import { FlagError, parseFlags, strs } from './flags.ts';

export const AGENT_USAGE = `Usage: berth agent --server HOST:PORT[,HOST:PORT...] [options]

Runs a node agent: registers this machine as a Node, runs the pods the control plane assigns
to it, reports their status, and serves their logs. Stopping the agent leaves the containers
running; the next agent started with the same --name and --data-dir adopts them.

Options:
  --server LIST          control-plane API addresses, comma separated (or repeated)
  --name NAME            node name (default: this host's name)
  --runtime KIND         cri (containerd), process (plain child processes, no isolation) or
                         fake (nothing runs; for tests). Default: cri when a CRI socket is found
                         and we are root, else process
  --cri-socket PATH      containerd's socket (default: $BERTH_CRI_SOCKET or the host-setup one)
  --data-dir DIR         pod volumes, logs and process-runtime state (default ~/.berth/agent/NAME)
  --labels LIST          node labels, k=v,k2=v2
  --taints LIST          node taints, key[=value]:Effect,... (NoSchedule, PreferNoSchedule, NoExecute)
  --max-pods N           pods this node accepts (default 110)
  --cpu N                CPU capacity in cores, e.g. 4 or 1500m (default: all of the host's)
  --memory Q             memory capacity, e.g. 8Gi (default: all of the host's)
  --listen HOST:PORT     where the agent's own gRPC service (logs) listens (default 127.0.0.1:0)
  --node-ip IP           the address the control plane reaches this node at (default: the
                         --listen host if it is specific, else the first external IPv4)
  --quiet                log warnings and errors only
  --verbose              log debugging detail too
`;

function splitList(values: string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
}

export function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of splitList(values)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new FlagError(`--labels: "${part}" is not key=value`);
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    const ke = isQualifiedName(k);
    if (ke.length) throw new FlagError(`--labels: invalid key "${k}": ${ke.join('; ')}`);
    const ve = isValidLabelValue(v);
    if (ve.length) throw new FlagError(`--labels: invalid value "${v}" for ${k}: ${ve.join('; ')}`);
    out[k] = v;
  }
  return out;
}

const EFFECTS: TaintEffect[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function parseTaints(values: string[]): Taint[] {
  const out: Taint[] = [];
  for (const part of splitList(values)) {
    const colon = part.lastIndexOf(':');
    if (colon <= 0) throw new FlagError(`--taints: "${part}" is not key[=value]:Effect`);
    const effect = part.slice(colon + 1) as TaintEffect;
    if (!EFFECTS.includes(effect)) throw new FlagError(`--taints: effect "${effect}" in "${part}" must be one of ${EFFECTS.join(', ')}`);
    const kv = part.slice(0, colon);
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? undefined : kv.slice(eq + 1);
    const ke = isQualifiedName(key);
    if (ke.length) throw new FlagError(`--taints: invalid key "${key}": ${ke.join('; ')}`);
    if (value !== undefined) {
      const ve = isValidLabelValue(value);
      if (ve.length) throw new FlagError(`--taints: invalid value "${value}": ${ve.join('; ')}`);
    }
    out.push({ key, ...(value !== undefined ? { value } : {}), effect });
  }
  return out;
}

function checkHostPort(flag: string, v: string): void {
  const m = /^(\[[^\]]+\]|[^\s:]+):(\d+)$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new FlagError(`${flag}: "${v}" is not host:port`);
}

export async function runAgent(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    server: 'strings',
    name: 'string',
    runtime: 'string',
    'cri-socket': 'string',
    'data-dir': 'string',
    labels: 'strings',
    taints: 'strings',
    'max-pods': 'int',
    cpu: 'string',
    memory: 'string',
    listen: 'string',
    'node-ip': 'string',
    quiet: 'bool',
    verbose: 'bool',
  });
  if (f._.length > 0) throw new FlagError(`unexpected argument "${f._[0]}"`);
  const servers = splitList(strs(f, 'server'));
  if (servers.length === 0) throw new FlagError('--server: required, e.g. --server 127.0.0.1:8001,127.0.0.1:8002');
  for (const s of servers) checkHostPort('--server', s);
  const name = ((f.name as string | undefined) ?? os.hostname()).toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
    throw new FlagError(`--name: "${name}" is not a valid node name (lower case letters, digits, '-' and '.')`);
  }
  const labels = parseLabels(strs(f, 'labels'));
  const taints = parseTaints(strs(f, 'taints'));
  const maxPods = f['max-pods'] as number | undefined;
  if (maxPods !== undefined && (maxPods < 1 || maxPods > 10_000)) throw new FlagError('--max-pods: must be between 1 and 10000');
  const cpu = f.cpu as string | undefined;
  if (cpu !== undefined) {
    const q = tryParseQuantity(cpu);
    if (!q || q.sign() <= 0) throw new FlagError(`--cpu: "${cpu}" is not a positive quantity of cores (e.g. 4 or 1500m)`);
  }
  const memory = f.memory as string | undefined;
  if (memory !== undefined) {
    const q = tryParseQuantity(memory);
    if (!q || q.sign() <= 0) throw new FlagError(`--memory: "${memory}" is not a positive quantity (e.g. 8Gi)`);
  }
  const listen = (f.listen as string | undefined) ?? '127.0.0.1:0';
  checkHostPort('--listen', listen);
  const nodeIP = f['node-ip'] as string | undefined;
  if (nodeIP !== undefined && !/^[0-9a-fA-F.:]+$/.test(nodeIP)) throw new FlagError(`--node-ip: "${nodeIP}" is not an IP address`);
  const dataDir = (f['data-dir'] as string | undefined) ?? join(os.homedir(), '.berth', 'agent', name);

  const { criSocketFromEnv } = await import('../agent/runtimes/cri-env.ts');
  let kind = f.runtime as string | undefined;
  const socketFlag = f['cri-socket'] as string | undefined;
  if (kind === undefined) kind = (socketFlag ?? criSocketFromEnv()) && process.getuid?.() === 0 ? 'cri' : 'process';
  if (!['cri', 'process', 'fake'].includes(kind)) throw new FlagError(`--runtime: "${kind}" must be cri, process or fake`);
  if (socketFlag !== undefined && kind !== 'cri') throw new FlagError('--cri-socket: only meaningful with --runtime cri');

  const logger = stderrAgentLogger(name, Boolean(f.quiet), Boolean(f.verbose));
  let runtime: Runtime;
  if (kind === 'cri') {
    const socket = socketFlag ?? criSocketFromEnv();
    if (!socket) throw new FlagError('--runtime cri: no CRI socket found; give --cri-socket or set BERTH_CRI_SOCKET');
    const { CriRuntime } = await import('../agent/runtimes/cri.ts');
    runtime = new CriRuntime(socket);
  } else if (kind === 'process') {
    const { ProcessRuntime } = await import('../agent/runtimes/process.ts');
    runtime = new ProcessRuntime({ dir: join(dataDir, 'process-runtime') });
    logger.warn('runtime "process": containers are plain host processes with NO isolation; images are ignored and spec.command is run as given');
  } else {
    const { FakeRuntime } = await import('../agent/runtimes/fake.ts');
    runtime = new FakeRuntime();
  }
  try {
    await runtime.version();
  } catch (e) {
    await runtime.close().catch(() => undefined);
    throw new Error(`runtime ${kind}: not reachable: ${(e as Error).message}`);
  }

  const agent = new Agent({
    name,
    servers,
    runtime,
    dataDir,
    labels,
    taints,
    capacity: { ...(cpu !== undefined ? { cpu } : {}), ...(memory !== undefined ? { memory } : {}), ...(maxPods !== undefined ? { pods: maxPods } : {}) },
    listen,
    ...(nodeIP ? { nodeIP } : {}),
    // A real node reports a status change as soon as its previous report is answered (a pod's
    // start is what users wait for); hollow nodes, a thousand to a process, keep the default 50 ms.
    statusFlushMs: 10,
    logger,
  });
  await agent.start();
  logger.info(`node ${name}: runtime ${kind}, data in ${dataDir}, node service on ${agent.nodeIP}:${agent.nodePort}, control plane ${servers.join(',')}`);
  process.send?.({ event: 'agent-ready', name, nodePort: agent.nodePort });

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      logger.info(`${sig}: stopping the agent (containers keep running)`);
      void agent
        .stop()
        .then(() => runtime.close())
        .catch((e) => logger.error(`stopping: ${(e as Error).message}`))
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('disconnect', () => stop('disconnect'));
  });
  // The IPC channel to a parent (berth up) keeps the process alive; so might a library
  // handle that did not close. The agent has stopped: leave.
  if (process.connected) process.disconnect();
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
