/**
 * `berth up`: a local cluster on this machine — N `berth server` replicas as child
 * processes on loopback (Raft peers on --base-port.., the API on --api-base-port..), all
 * data, logs and the Secret encryption key under one directory. Running it again on the
 * same directory resumes the same cluster. It writes a context (`local`) with the API
 * endpoints into the client config and makes it current, so `berth get ...` works from
 * any shell; it reports the leader and every leader change; Ctrl-C stops the replicas.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { BerthClient } from '../client/client.ts';
import { configPath, loadConfig, saveConfig, setContext, useContext } from './config.ts';
import { FlagError, bool, int, parseFlags, str } from './flags.ts';
import { painter } from './output/color.ts';
import { sleep } from './proc-cluster.ts';
import { ServerCluster } from './server-cluster.ts';
import { AgentProcs } from './agent-procs.ts';
import { criSocketFromEnv } from '../agent/runtimes/cri-env.ts';
import { gatherStatuses, mergeStatuses } from './commands/cluster.ts';

export const UP_USAGE = `Usage: berth up [flags]

Starts a local cluster of control-plane replicas (separate processes on loopback, data in
--data-dir), writes the context "local" into the client config ($BERTH_CONFIG, else
~/.berth/config) and makes it current, then reports leader changes until Ctrl-C.
Run it again with the same --data-dir to resume the same cluster.

Flags:
  --replicas N          number of replicas (default 3; fixed once the cluster exists)
  --base-port P         Raft peer ports P, P+1, ... (default 7001; fixed once the cluster exists)
  --api-base-port P     API ports P, P+1, ... (default 8001)
  --data-dir DIR        data, logs and the Secret encryption key (default .berth/up)
  --context NAME        the context to write into the client config (default local)
  --no-config           do not touch the client config
  --agents N            node agents to run beside the replicas (default 2; 0 for none)
  --runtime R           the agents' runtime: cri (containerd) or process (default: cri when
                        containerd's socket is found and we are root, else process)
  --apply PATH          once the cluster is up, apply the manifests in PATH (a file or a
                        directory), as 'berth apply -f PATH' would
  --ui                  then open 'berth ui' on the cluster when stdout is a terminal;
                        leaving the UI (q at the top, or Ctrl-C) stops the cluster
  --for DURATION        stop after this long (e.g. 30s), as if interrupted
`;

/** What `up` remembers about a cluster it created (DATA_DIR/up.json). */
export interface UpLayout {
  replicas: number;
  peerPorts: number[];
  apiPorts: number[];
  clusterId: string;
}

const range = (base: number, n: number) => Array.from({ length: n }, (_, i) => base + i);

/**
 * The layout to run: a new one from the flags, or the stored one, where the flags may
 * move the API ports but not change what the Raft log has recorded (replica count, peer
 * addresses).
 */
export function planLayout(
  stored: UpLayout | undefined,
  flags: { replicas?: number | undefined; basePort?: number | undefined; apiBasePort?: number | undefined },
  newClusterId: () => string,
): UpLayout {
  const check = (p: number, name: string) => {
    if (p < 1 || p > 65535) throw new FlagError(`${name}: must be a port number`);
  };
  if (flags.replicas !== undefined && (flags.replicas < 1 || flags.replicas > 9)) throw new FlagError('--replicas: must be between 1 and 9');
  if (flags.basePort !== undefined) check(flags.basePort, '--base-port');
  if (flags.apiBasePort !== undefined) check(flags.apiBasePort, '--api-base-port');
  if (!stored) {
    const n = flags.replicas ?? 3;
    const layout = { replicas: n, peerPorts: range(flags.basePort ?? 7001, n), apiPorts: range(flags.apiBasePort ?? 8001, n), clusterId: newClusterId() };
    const all = [...layout.peerPorts, ...layout.apiPorts];
    if (all.some((p) => p > 65535)) throw new FlagError('ports beyond 65535: choose a lower --base-port or --api-base-port');
    if (new Set(all).size !== all.length) throw new FlagError('--base-port and --api-base-port ranges overlap');
    return layout;
  }
  if (flags.replicas !== undefined && flags.replicas !== stored.replicas) {
    throw new FlagError(
      `--replicas: this cluster was created with ${stored.replicas} replicas; change its membership with 'berth cluster add-member/remove-member', or use another --data-dir`,
    );
  }
  if (flags.basePort !== undefined && flags.basePort !== stored.peerPorts[0]) {
    throw new FlagError(
      `--base-port: this cluster's Raft log records peer ports ${stored.peerPorts.join(',')}; start it with --base-port ${stored.peerPorts[0]} or use another --data-dir`,
    );
  }
  const apiPorts = flags.apiBasePort !== undefined ? range(flags.apiBasePort, stored.replicas) : stored.apiPorts;
  const all = [...stored.peerPorts, ...apiPorts];
  if (new Set(all).size !== all.length) throw new FlagError('--api-base-port: the API ports overlap the peer ports');
  return { ...stored, apiPorts };
}

export function readLayout(file: string): UpLayout | undefined {
  if (!existsSync(file)) return undefined;
  let v: Partial<UpLayout>;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as Partial<UpLayout>;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const ports = (a: unknown) => Array.isArray(a) && a.every((p) => Number.isInteger(p) && p > 0 && p < 65536);
  if (!Number.isInteger(v.replicas) || !ports(v.peerPorts) || !ports(v.apiPorts) || typeof v.clusterId !== 'string') {
    throw new Error(`${file}: not a layout written by 'berth up' (delete the directory to start afresh)`);
  }
  if (v.peerPorts!.length !== v.replicas || v.apiPorts!.length !== v.replicas) throw new Error(`${file}: port lists do not match the replica count`);
  return v as UpLayout;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const s = createServer();
    s.once('error', () => resolveFree(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolveFree(true)));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runUp(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    replicas: 'int',
    'base-port': 'int',
    'api-base-port': 'int',
    'data-dir': 'string',
    context: 'string',
    'no-config': 'bool',
    for: 'duration',
    agents: 'int',
    runtime: 'string',
    apply: 'string',
    ui: 'bool',
    help: { type: 'bool', short: 'h' },
  });
  if (bool(f, 'help')) {
    process.stdout.write(UP_USAGE);
    return 0;
  }
  if (f._.length > 0) throw new FlagError(`unexpected argument "${f._[0]}"`);
  const out = (s: string) => void process.stdout.write(s);
  const p = painter(Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined);
  const dir = resolve(str(f, 'data-dir') ?? '.berth/up');
  const rel = relative(process.cwd(), dir);
  const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? dir : rel;
  const layoutFile = join(dir, 'up.json');
  const stored = readLayout(layoutFile);
  const layout = planLayout(stored, { replicas: int(f, 'replicas'), basePort: int(f, 'base-port'), apiBasePort: int(f, 'api-base-port') }, () => `local-${randomBytes(4).toString('hex')}`);

  // One `up` per directory.
  const pidFile = join(dir, 'up.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new FlagError(`'berth up' is already running on ${shown} (pid ${pid})`);
    }
  }
  for (const port of [...layout.peerPorts, ...layout.apiPorts]) {
    if (!(await portFree(port))) {
      throw new FlagError(`127.0.0.1:${port} is in use; choose other ports with --base-port/--api-base-port (peer ports are fixed once a cluster exists)`);
    }
  }
  const agentCount = int(f, 'agents') ?? 2;
  if (agentCount < 0 || agentCount > 50) throw new FlagError('--agents: must be between 0 and 50');
  const socket = criSocketFromEnv();
  const isRoot = process.getuid?.() === 0;
  const runtime = str(f, 'runtime') ?? (socket && isRoot ? 'cri' : 'process');
  if (runtime !== 'cri' && runtime !== 'process') throw new FlagError(`--runtime: must be cri or process, got "${runtime}"`);
  if (runtime === 'cri' && !socket) throw new FlagError('--runtime cri: no containerd socket found (set BERTH_CRI_SOCKET, or run scripts/host-setup.sh as root)');
  const cluster = new ServerCluster({
    size: layout.replicas,
    dir,
    peerPorts: layout.peerPorts,
    apiPorts: layout.apiPorts,
    clusterId: layout.clusterId,
    extraArgs: ['--quiet'],
  });
  let stopping = false;
  let resolveStop: () => void = () => {};
  const stopped = new Promise<void>((r) => (resolveStop = r));
  const onSignal = () => {
    if (stopping) {
      out('stopping at once (SIGKILL)\n');
      for (const id of cluster.procs.keys()) cluster.signal(id, 'SIGKILL');
      return;
    }
    stopping = true;
    resolveStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  out(`${stored ? 'resuming' : 'starting'} a local cluster of ${layout.replicas} replica${layout.replicas > 1 ? 's' : ''} in ${shown} (cluster id ${layout.clusterId})\n`);
  try {
    await cluster.startAll();
  } catch (e) {
    await cluster.stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 1;
  }
  writeFileSync(layoutFile, `${JSON.stringify(layout, null, 2)}\n`);
  writeFileSync(pidFile, `${process.pid}\n`);
  const agents = new AgentProcs({ dir, servers: cluster.apiAddresses(), runtime: runtime as 'cri' | 'process', ...(runtime === 'cri' && socket ? { criSocket: socket } : {}) });
  agents.startAll(agentCount);

  for (let id = 1; id <= layout.replicas; id++) {
    out(`  replica ${id}: API ${cluster.apiAddress(id)}, Raft peer 127.0.0.1:${layout.peerPorts[id - 1]}, log ${join(shown, `server-${id}.log`)}\n`);
  }
  for (const n of agents.ids()) out(`  agent ${agents.name(n)}: runtime ${runtime}, log ${join(shown, `agent-${n}.log`)}\n`);
  out(`API: ${cluster.apiAddresses().join(',')}\n`);

  const client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 2000 });
  let leader = 0;
  let term = 0;
  const poll = async () => {
    const merged = mergeStatuses((await gatherStatuses(client)).answers);
    return merged;
  };
  // Wait for the first leader (the replicas elect one within a second or two).
  const deadline = Date.now() + 30_000;
  while (!stopping && Date.now() < deadline) {
    const m = await poll();
    if (m.leader !== 0) {
      leader = m.leader;
      term = m.term;
      break;
    }
    await sleep(100);
  }
  if (leader !== 0) out(`${p.green('leader')}: replica ${leader} (term ${term})\n`);
  else if (!stopping) out(`${p.yellow('no leader yet')}: see the replicas' logs in ${shown}\n`);

  if (!bool(f, 'no-config')) {
    const path = configPath();
    const name = str(f, 'context') ?? 'local';
    try {
      const cfg = await loadConfig(path);
      const { config } = setContext(cfg, name, { servers: cluster.apiAddresses() });
      await saveConfig(path, useContext(config, name));
      out(`context "${name}" written to ${path} and made current; try: berth get namespaces\n`);
    } catch (e) {
      process.stderr.write(`warning: could not write the client config: ${(e as Error).message}\n`);
    }
  }
  const applyPath = str(f, 'apply');
  if (applyPath && !stopping) {
    const { runApply } = await import('./commands/apply.ts');
    const { processIo } = await import('./commands/common.ts');
    const io = processIo();
    // Applied through the cluster's own endpoints, whatever the client config says.
    const code = await runApply(['-f', applyPath, '--server', cluster.apiAddresses().join(',')], io).catch((e: Error) => {
      process.stderr.write(`error: applying ${applyPath}: ${e.message}\n`);
      return 1;
    });
    if (code !== 0) process.stderr.write(`warning: 'berth apply -f ${applyPath}' failed; the cluster keeps running\n`);
  }
  if (bool(f, 'ui') && process.stdout.isTTY && !stopping) {
    const { runUi } = await import('../tui/index.ts');
    const { processIo } = await import('./commands/common.ts');
    // The UI owns the terminal (and Ctrl-C) until it is left; then the cluster stops.
    process.off('SIGINT', onSignal);
    await runUi(['--server', cluster.apiAddresses().join(',')], processIo()).catch((e: Error) => process.stderr.write(`error: berth ui: ${e.message}\n`));
    process.on('SIGINT', onSignal);
    stopping = true;
  }
  if (!stopping) out('Ctrl-C stops the cluster.\n');

  const until = f.for !== undefined ? Date.now() + (f.for as number) : Infinity;
  const exited = new Set<number>();
  let leaderlessSince = 0;
  while (!stopping && Date.now() < until) {
    await Promise.race([sleep(Math.min(300, Math.max(0, until - Date.now()))), stopped]);
    if (stopping) break;
    for (let id = 1; id <= layout.replicas; id++) {
      if (!cluster.running(id) && !exited.has(id)) {
        exited.add(id);
        out(`${p.red(`replica ${id} exited`)}; see ${join(shown, `server-${id}.log`)}\n`);
      }
    }
    for (const n of agents.ids()) {
      if (!agents.running(n) && !exited.has(-n)) {
        exited.add(-n);
        out(`${p.red(`agent ${agents.name(n)} exited`)}; see ${join(shown, `agent-${n}.log`)}\n`);
      }
    }
    const m = await poll();
    if (m.leader !== 0 && (m.leader !== leader || m.term !== term)) {
      if (m.leader !== leader) out(`${p.yellow('leader changed')}: replica ${m.leader} (term ${m.term})\n`);
      leader = m.leader;
      term = m.term;
      leaderlessSince = 0;
    } else if (m.leader === 0 && leader !== 0) {
      if (leaderlessSince === 0) leaderlessSince = Date.now();
      else if (Date.now() - leaderlessSince > 1000) {
        out(`${p.red('no leader')}: an election is in progress or a quorum is down\n`);
        leader = 0;
      }
    }
  }

  out('stopping agents and replicas...\n');
  client.close();
  // Agents first: they leave their containers running (as kubelet does) and would only
  // reconnect in a loop once the replicas are gone.
  await agents.stopAll();
  await cluster.stopAll();
  rmSync(pidFile, { force: true });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  out('stopped\n');
  return 0;
}
