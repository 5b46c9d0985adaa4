/**
 * The process runtime: berth's embedded default, no root and no containerd needed. Each
 * container's command runs as a plain child process on the host.
 *
 * IT OFFERS NO ISOLATION. A "container" here shares the host's filesystem, network, users
 * and process table; the image is ignored (`command` is required, and is run as given);
 * resource limits are not enforced by a kernel. It exists so that berth can be tried and
 * developed on any machine; use the cri runtime (containerd) for real workloads.
 *
 * What it does do, to behave like a runtime:
 * - Every container runs under a small `sh` wrapper in its own session and process group
 *   (spawned detached and unref'd), so it survives the agent. The wrapper forwards SIGTERM to
 *   the command and records the command's exit status in a file: that is how an exit is known
 *   even after an agent restart, when the agent is no longer the parent.
 * - Mounts: the process cannot see them at their containerPath (absolute paths are NOT
 *   remapped). Instead each container gets a directory `root/` in which every mount appears
 *   as a symlink at its containerPath (`root/config` → the volume for mountPath /config).
 *   The process runs in `workingDir` when that directory exists on the host, else in `root/`,
 *   so relative paths like `config/app.conf` work.
 * - Logs: stdout and stderr go straight to files (no pipe to the agent, which could die), and a
 *   pump in the runtime turns them into the CRI log format at the container's log path.
 *   Timestamps are therefore when the pump read a line (within ~200 ms while the agent runs;
 *   lines written while no agent ran get the time they were read), and the order of stdout
 *   against stderr lines is approximate.
 * - Stop: SIGTERM to the command; after the timeout SIGKILL to the whole process group. When the
 *   command exits, anything it left in its group is killed, as a container's PID namespace would.
 * - Exit codes: the command's own status, 128+n for signal n (so 143 after SIGTERM, 137 after
 *   SIGKILL); reason Completed (0) or Error. A command that cannot be executed fails
 *   StartContainer and ends as StartError with exit code 128, like containerd.
 * - Adoption: state lives in `<dir>/sandboxes/<id>.json` and `<dir>/containers/<id>/state.json`;
 *   a new ProcessRuntime on the same directory adopts running processes after checking the
 *   recorded pid still belongs to the process started (its start time in /proc/<pid>/stat).
 *   If a process exited while no agent ran and left no exit record (only possible when the
 *   wrapper itself was SIGKILLed, or the host rebooted), its exit is reported as exit code 137,
 *   reason Error, with a message saying the status is unknown.
 * - Memory limit: enforced by watching: once a second the resident memory of the container's
 *   process group is summed, and a group over its limit is SIGKILLed and reported OOMKilled
 *   (exit 137). A fast allocation can overshoot between two samples; the kernel is not asked.
 * - Stats: CPU time and resident memory summed over the process group from /proc.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsc, openSync, closeSync, readFileSync, readdirSync, renameSync, statSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { access, appendFile, mkdir, open, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { systemClock, type Clock } from '../clock.ts';
import { CriLineEncoder, rfc3339Nano } from '../cri-log.ts';
import {
  RuntimeError,
  type ContainerConfig,
  type ContainerInfo,
  type ContainerState,
  type ContainerStats,
  type ExecResult,
  type ImageInfo,
  type LinuxResources,
  type Mount,
  type Runtime,
  type RuntimeVersion,
  type SandboxConfig,
  type SandboxInfo,
  type SandboxState,
} from './types.ts';

export const PROCESS_RUNTIME_VERSION = '0.1.0';

/**
 * The wrapper: runs "$@" in the background, forwards SIGTERM/SIGINT to it, waits (again, if a
 * trapped signal interrupted the wait) and writes the exit status to $1 (atomically).
 */
const WRAPPER = [
  'f="$1"; shift',
  't=0',
  '"$@" &',
  'p=$!',
  "trap 't=1; kill -TERM \"$p\" 2>/dev/null' TERM",
  "trap 't=1; kill -INT \"$p\" 2>/dev/null' INT",
  'wait "$p"; c=$?',
  'while [ "$t" = 1 ]; do t=0; wait "$p"; r=$?; [ "$r" = 127 ] || c=$r; done',
  'echo "$c" > "$f.tmp" && mv "$f.tmp" "$f"',
  'exit "$c"',
].join('\n');

interface SandboxRecord {
  id: string;
  config: SandboxConfig;
  state: SandboxState;
  createdAt: number;
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  name: string;
  attempt: number;
  image: string;
  command: string[];
  args: string[];
  workingDir?: string;
  env: { name: string; value: string }[];
  mounts: Mount[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  resources: LinuxResources;
  hostname: string;
  state: ContainerState;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  reason?: string;
  message?: string;
  /** The wrapper's pid (also the process group id) and its start time in clock ticks since boot. */
  pid?: number;
  pidStart?: number;
  /** Set when the runtime itself killed the group with SIGKILL (the exit is then known: 137). */
  killed?: boolean;
  oomKilled?: boolean;
  /** Raw stdout/stderr bytes already turned into CRI entries. */
  offsets: { stdout: number; stderr: number };
  /** Everything written has been pumped into the log (the container exited). */
  drained?: boolean;
}

export interface ProcessRuntimeOptions {
  /** Where the runtime keeps its state (records, raw output, mount trees). */
  dir: string;
  clock?: Clock;
  /** Opaque ids; default random hex. */
  newId?: () => string;
  /** Log pump period (ms, default 200). */
  pumpMs?: number;
  /** Exit and memory-limit check period (ms, default 1000). */
  monitorMs?: number;
  /** Environment the containers' PATH and HOME default from (default process.env). */
  hostEnv?: NodeJS.ProcessEnv;
}

/** Fields of /proc/<pid>/stat that matter here. */
export interface ProcStat {
  state: string;
  pgrp: number;
  cpuTicks: number;
  startTime: number;
  rssPages: number;
}

/** /proc/<pid>/stat, or undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain anything: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const f = (n: number) => Number(rest[n - 3]);
  return {
    state: rest[0] ?? '?',
    pgrp: f(5),
    cpuTicks: f(14) + f(15) + f(16) + f(17),
    startTime: f(22),
    rssPages: f(24),
  };
}

let sysconf: { clkTck: number; pageSize: number } | undefined;
function sys(): { clkTck: number; pageSize: number } {
  if (!sysconf) {
    const get = (name: string, dflt: number) => {
      try {
        const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
        return Number.isFinite(v) && v > 0 ? v : dflt;
      } catch {
        return dflt;
      }
    };
    sysconf = { clkTck: get('CLK_TCK', 100), pageSize: get('PAGESIZE', 4096) };
  }
  return sysconf;
}

/** Every process, grouped by process group: pgid → stats. */
function scanGroups(): Map<number, { cpuTicks: number; rssPages: number }> {
  const out = new Map<number, { cpuTicks: number; rssPages: number }>();
  let names: string[];
  try {
    // Synchronous on purpose: one consistent pass; /proc reads do not block.
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const st = readProcStat(Number(n));
    if (!st || st.state === 'Z') continue;
    const g = out.get(st.pgrp) ?? { cpuTicks: 0, rssPages: 0 };
    g.cpuTicks += st.cpuTicks;
    g.rssPages += st.rssPages;
    out.set(st.pgrp, g);
  }
  return out;
}

function signalNumber(sig: NodeJS.Signals | null): number {
  if (!sig) return 0;
  return osConstants.signals[sig] ?? 9;
}

function killGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, fsc.X_OK);
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

export class ProcessRuntime implements Runtime {
  readonly kind = 'process';
  readonly writesLogFiles = true;
  readonly runsOnHost = true;
  readonly dir: string;
  private readonly clock: Clock;
  private readonly newId: () => string;
  private readonly pumpMs: number;
  private readonly monitorMs: number;
  private readonly hostEnv: NodeJS.ProcessEnv;
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, ContainerRecord>();
  /** Children this instance started: their exit events are authoritative. */
  private readonly children = new Map<string, { child: ChildProcess; exited: Promise<void> }>();
  private readonly encoders = new Map<string, { stdout: CriLineEncoder; stderr: CriLineEncoder; idleTicks: number }>();
  private readonly saving = new Map<string, { running: Promise<void>; again: boolean }>();
  private loaded: Promise<void> | undefined;
  private pumpTimer: NodeJS.Timeout | undefined;
  private monitorTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  private closed = false;
  private tsSeq = 0;
  private tsLast = 0;

  constructor(opts: ProcessRuntimeOptions) {
    this.dir = resolve(opts.dir);
    this.clock = opts.clock ?? systemClock;
    this.newId = opts.newId ?? (() => randomBytes(12).toString('hex'));
    this.pumpMs = opts.pumpMs ?? 200;
    this.monitorMs = opts.monitorMs ?? 1000;
    this.hostEnv = opts.hostEnv ?? process.env;
  }

  // ---- state on disk -----------------------------------------------------------------------

  private sandboxFile(id: string): string {
    return join(this.dir, 'sandboxes', `${id}.json`);
  }

  private containerDir(id: string): string {
    return join(this.dir, 'containers', id);
  }

  private ready(): Promise<void> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  /** Reads every record and adopts what still runs. */
  private async load(): Promise<void> {
    await mkdir(join(this.dir, 'sandboxes'), { recursive: true });
    await mkdir(join(this.dir, 'containers'), { recursive: true });
    for (const f of await readdir(join(this.dir, 'sandboxes'))) {
      if (!f.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(await readFile(join(this.dir, 'sandboxes', f), 'utf8')) as SandboxRecord;
        if (rec && typeof rec.id === 'string' && rec.config) this.sandboxes.set(rec.id, rec);
      } catch {
        // A torn or foreign file: skip it rather than fail the runtime.
      }
    }
    for (const id of await readdir(join(this.dir, 'containers'))) {
      try {
        const rec = JSON.parse(await readFile(join(this.containerDir(id), 'state.json'), 'utf8')) as ContainerRecord;
        if (!rec || rec.id !== id) continue;
        rec.offsets ??= { stdout: 0, stderr: 0 };
        this.containers.set(id, rec);
        if (rec.state === 'running') {
          if (!this.sameProcess(rec)) this.finalize(rec, undefined);
        }
      } catch {
        // idem
      }
    }
    this.schedule();
  }

  /** The recorded wrapper still runs (same pid and same start time: not a reused pid). */
  private sameProcess(rec: ContainerRecord): boolean {
    if (!rec.pid) return false;
    const st = readProcStat(rec.pid);
    return Boolean(st && st.state !== 'Z' && (rec.pidStart === undefined || st.startTime === rec.pidStart));
  }

  /** Writes a record (serialised per record; the newest state wins). */
  private persist(kind: 'sandbox' | 'container', id: string): void {
    const key = `${kind}/${id}`;
    const cur = this.saving.get(key);
    if (cur) {
      cur.again = true;
      return;
    }
    const entry = { running: Promise.resolve(), again: false };
    const write = async () => {
      do {
        entry.again = false;
        const rec = kind === 'sandbox' ? this.sandboxes.get(id) : this.containers.get(id);
        if (!rec) return;
        const path = kind === 'sandbox' ? this.sandboxFile(id) : join(this.containerDir(id), 'state.json');
        const tmp = `${path}.tmp`;
        try {
          await writeFile(tmp, JSON.stringify(rec));
          await rename(tmp, path);
        } catch {
          // The directory was removed meanwhile (container removed): nothing to keep.
        }
      } while (entry.again);
    };
    entry.running = write().finally(() => this.saving.delete(key));
    this.saving.set(key, entry);
  }

  /** Waits for pending writes (tests, close). */
  async flush(): Promise<void> {
    while (this.saving.size > 0) await Promise.all([...this.saving.values()].map((s) => s.running));
  }

  // ---- Runtime: images (ignored) ---------------------------------------------------------------

  async version(): Promise<RuntimeVersion> {
    return { runtimeName: 'process', runtimeVersion: PROCESS_RUNTIME_VERSION };
  }

  /** Images are not used: every image is "present", so pull policies never block a pod. */
  async imageStatus(image: string): Promise<ImageInfo | undefined> {
    return { ref: image };
  }

  async pullImage(image: string): Promise<string> {
    return image;
  }

  // ---- Runtime: sandboxes --------------------------------------------------------------------

  async runPodSandbox(cfg: SandboxConfig): Promise<string> {
    await this.ready();
    this.check();
    const id = this.newId();
    await mkdir(cfg.logDirectory, { recursive: true });
    this.sandboxes.set(id, { id, config: cfg, state: 'ready', createdAt: this.clock.now() });
    this.persist('sandbox', id);
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.ready();
    const s = this.sandboxes.get(id);
    if (!s) return;
    // As CRI: whatever still runs in the sandbox is stopped without a grace period.
    await Promise.all([...this.containers.values()].filter((c) => c.sandboxId === id).map((c) => this.stopContainer(c.id, 0)));
    s.state = 'notready';
    this.persist('sandbox', id);
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.ready();
    if (!this.sandboxes.has(id)) return;
    for (const c of [...this.containers.values()]) if (c.sandboxId === id) await this.removeContainer(c.id);
    this.sandboxes.delete(id);
    await this.flush();
    await rm(this.sandboxFile(id), { force: true });
  }

  async podSandboxStatus(id: string): Promise<SandboxInfo | undefined> {
    await this.ready();
    const s = this.sandboxes.get(id);
    return s ? this.sandboxInfo(s) : undefined;
  }

  async listPodSandboxes(): Promise<SandboxInfo[]> {
    await this.ready();
    return [...this.sandboxes.values()].map((s) => this.sandboxInfo(s));
  }

  private sandboxInfo(s: SandboxRecord): SandboxInfo {
    return {
      id: s.id,
      name: s.config.name,
      namespace: s.config.namespace,
      uid: s.config.uid,
      attempt: s.config.attempt,
      state: s.state,
      createdAt: s.createdAt,
      ip: '127.0.0.1',
      labels: { ...s.config.labels },
      annotations: { ...s.config.annotations },
    };
  }

  // ---- Runtime: containers -------------------------------------------------------------------

  async createContainer(sandboxId: string, cfg: ContainerConfig, sandbox: SandboxConfig): Promise<string> {
    await this.ready();
    this.check();
    const s = this.sandboxes.get(sandboxId);
    if (!s) throw new RuntimeError('NotFound', `sandbox ${sandboxId} not found`);
    if (s.state !== 'ready') throw new RuntimeError('CreateContainerError', `sandbox ${sandboxId} is not ready`);
    if (cfg.command.length === 0) {
      throw new RuntimeError(
        'CreateContainerError',
        `the process runtime ignores images and runs the container's command: container "${cfg.name}" has no command (set spec.containers[].command)`,
      );
    }
    const id = this.newId();
    const dir = this.containerDir(id);
    await mkdir(join(dir, 'root'), { recursive: true });
    await this.linkMounts(join(dir, 'root'), cfg.mounts);
    const logDir = s.config.logDirectory || sandbox.logDirectory;
    const logPath = isAbsolute(cfg.logPath) ? cfg.logPath : join(logDir, cfg.logPath);
    await mkdir(dirname(logPath), { recursive: true });
    const rec: ContainerRecord = {
      id,
      sandboxId,
      name: cfg.name,
      attempt: cfg.attempt,
      image: cfg.image,
      command: [...cfg.command],
      args: [...cfg.args],
      ...(cfg.workingDir ? { workingDir: cfg.workingDir } : {}),
      env: cfg.env.map((e) => ({ name: e.name, value: e.value })),
      mounts: cfg.mounts.map((m) => ({ ...m })),
      labels: { ...cfg.labels },
      annotations: { ...cfg.annotations },
      logPath,
      resources: { ...cfg.resources },
      hostname: s.config.hostname || sandbox.hostname,
      state: 'created',
      createdAt: this.clock.now(),
      offsets: { stdout: 0, stderr: 0 },
    };
    this.containers.set(id, rec);
    this.persist('container', id);
    return id;
  }

  /** Each mount as a symlink at its containerPath under `root` (nested mounts under a mount are skipped). */
  private async linkMounts(root: string, mounts: Mount[]): Promise<void> {
    const sorted = [...mounts].sort((a, b) => a.containerPath.length - b.containerPath.length);
    const linked: string[] = [];
    for (const m of sorted) {
      const rel = m.containerPath.replace(/^\/+/, '').replace(/\/+$/, '');
      if (!rel || rel.split('/').includes('..')) continue;
      if (linked.some((l) => rel.startsWith(l + '/'))) continue; // would land inside another volume
      const at = join(root, rel);
      await mkdir(dirname(at), { recursive: true });
      await rm(at, { force: true, recursive: true });
      await symlink(m.hostPath, at);
      linked.push(rel);
    }
  }

  private containerEnv(rec: ContainerRecord): Record<string, string> {
    const env: Record<string, string> = {};
    env.PATH = this.hostEnv.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    if (this.hostEnv.HOME) env.HOME = this.hostEnv.HOME;
    env.HOSTNAME = rec.hostname;
    for (const e of rec.env) env[e.name] = e.value;
    return env;
  }

  private async workDir(rec: ContainerRecord): Promise<string> {
    if (rec.workingDir) {
      const st = await stat(rec.workingDir).catch(() => undefined);
      if (st?.isDirectory()) return rec.workingDir;
    }
    return join(this.containerDir(rec.id), 'root');
  }

  /** The executable as exec(3) would find it, or undefined. */
  private async resolveExecutable(cmd: string, cwd: string, env: Record<string, string>): Promise<string | undefined> {
    if (cmd.includes('/')) {
      const p = resolve(cwd, cmd);
      return (await isExecutable(p)) ? p : undefined;
    }
    for (const dir of (env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      const p = join(resolve(cwd, dir), cmd);
      if (await isExecutable(p)) return p;
    }
    return undefined;
  }

  async startContainer(id: string): Promise<void> {
    await this.ready();
    this.check();
    const rec = this.containers.get(id);
    if (!rec) throw new RuntimeError('NotFound', `container ${id} not found`);
    if (rec.state !== 'created') throw new RuntimeError('RunContainerError', `container ${id} is ${rec.state}, not created`);
    const env = this.containerEnv(rec);
    const cwd = await this.workDir(rec);
    const argv = [...rec.command, ...rec.args];
    const exe = await this.resolveExecutable(argv[0]!, cwd, env);
    if (!exe) {
      const msg = argv[0]!.includes('/')
        ? `failed to start container "${rec.name}": exec: "${argv[0]}": stat ${argv[0]}: no such file or directory (or not executable)`
        : `failed to start container "${rec.name}": exec: "${argv[0]}": executable file not found in $PATH`;
      rec.state = 'exited';
      rec.exitCode = 128;
      rec.reason = 'StartError';
      rec.message = msg;
      rec.startedAt = this.clock.now();
      rec.finishedAt = rec.startedAt;
      rec.drained = true;
      this.persist('container', id);
      throw new RuntimeError('RunContainerError', msg);
    }
    const dir = this.containerDir(id);
    await rm(join(dir, 'exit'), { force: true });
    const out = openSync(join(dir, 'stdout'), 'a');
    const err = openSync(join(dir, 'stderr'), 'a');
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', WRAPPER, 'berth-process', join(dir, 'exit'), exe, ...argv.slice(1)], {
        cwd,
        env,
        detached: true,
        stdio: ['ignore', out, err],
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const msg = `failed to start container "${rec.name}": could not spawn the process`;
      rec.state = 'exited';
      rec.exitCode = 128;
      rec.reason = 'StartError';
      rec.message = msg;
      rec.finishedAt = this.clock.now();
      this.persist('container', id);
      child.on('error', () => undefined);
      throw new RuntimeError('RunContainerError', msg);
    }
    child.unref(); // the container may outlive the agent
    const exited = new Promise<void>((res) => {
      child.once('exit', (code, signal) => {
        this.children.delete(id);
        const r = this.containers.get(id);
        if (r && r.state === 'running') this.finalize(r, code !== null ? code : 128 + signalNumber(signal));
        res();
      });
      child.once('error', () => undefined);
    });
    this.children.set(id, { child, exited });
    rec.pid = pid;
    rec.pidStart = readProcStat(pid)?.startTime;
    rec.state = 'running';
    rec.startedAt = this.clock.now();
    // Written at once: an agent dying right now must find "running" with this pid, or its
    // successor would start the container a second time.
    try {
      writeFileSync(join(dir, 'state.json.start'), JSON.stringify(rec));
      renameSync(join(dir, 'state.json.start'), join(dir, 'state.json'));
    } catch {
      // the asynchronous write below still happens
    }
    // Also through the serialised writer, so that a write in flight cannot leave an older state.
    this.persist('container', id);
    this.schedule();
  }

  /**
   * Records an exit. `knownCode` is the wrapper's status when this instance was its parent.
   * The exit file (written by the wrapper) is preferred: it holds the command's own status.
   */
  private finalize(rec: ContainerRecord, knownCode: number | undefined): void {
    if (rec.state !== 'running') return;
    let code: number | undefined;
    try {
      const text = readFileSync(join(this.containerDir(rec.id), 'exit'), 'utf8').trim();
      if (/^\d+$/.test(text)) code = Number(text);
    } catch {
      code = undefined;
    }
    let message: string | undefined;
    if (code === undefined) code = knownCode;
    if (code === undefined) {
      if (rec.killed || rec.oomKilled) code = 137;
      else {
        code = 137;
        message = 'exit status unknown: the process exited while no agent was its parent and left no exit record (killed by SIGKILL, or the host restarted)';
      }
    }
    rec.state = 'exited';
    rec.exitCode = code;
    rec.reason = rec.oomKilled ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error';
    if (message) rec.message = message;
    rec.finishedAt = this.clock.now();
    // What the command left behind in its group goes with it.
    if (rec.pid) killGroup(rec.pid, 'SIGKILL');
    this.persist('container', rec.id);
    this.schedule();
  }

  /** Checks a container this instance did not start (adopted) for an exit. */
  private refresh(rec: ContainerRecord): void {
    if (rec.state === 'running' && !this.children.has(rec.id) && !this.sameProcess(rec)) this.finalize(rec, undefined);
  }

  private async waitExit(rec: ContainerRecord, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    const own = this.children.get(rec.id);
    if (own) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([own.exited, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
      clearTimeout(timer);
      return rec.state !== 'running';
    }
    for (;;) {
      this.refresh(rec);
      if (rec.state !== 'running') return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.ready();
    const rec = this.containers.get(id);
    if (!rec) return;
    this.refresh(rec);
    if (rec.state === 'created') {
      rec.state = 'exited';
      rec.exitCode = 0;
      rec.reason = 'Completed';
      rec.finishedAt = this.clock.now();
      rec.drained = true;
      this.persist('container', id);
      return;
    }
    if (rec.state !== 'running' || !rec.pid) return;
    if (timeoutSeconds > 0) {
      // SIGTERM to the command (through the wrapper), as a runtime signals PID 1 only.
      try {
        process.kill(rec.pid, 'SIGTERM');
      } catch {
        killGroup(rec.pid, 'SIGTERM');
      }
      if (await this.waitExit(rec, timeoutSeconds * 1000)) return;
    }
    rec.killed = true;
    killGroup(rec.pid, 'SIGKILL');
    if (!(await this.waitExit(rec, 5000))) {
      // Unkillable (a process in D state): record what we did; the monitor notices the real exit.
      this.finalize(rec, 137);
    }
  }

  async removeContainer(id: string): Promise<void> {
    await this.ready();
    const rec = this.containers.get(id);
    if (!rec) return;
    if (rec.state === 'running') await this.stopContainer(id, 0);
    await this.pumpOne(rec, true).catch(() => undefined);
    this.containers.delete(id);
    this.encoders.delete(id);
    await this.flush();
    await rm(this.containerDir(id), { recursive: true, force: true });
  }

  async containerStatus(id: string): Promise<ContainerInfo | undefined> {
    await this.ready();
    const rec = this.containers.get(id);
    if (!rec) return undefined;
    this.refresh(rec);
    return this.info(rec);
  }

  async listContainers(filter?: { sandboxId?: string }): Promise<ContainerInfo[]> {
    await this.ready();
    const out: ContainerInfo[] = [];
    for (const rec of this.containers.values()) {
      if (filter?.sandboxId && rec.sandboxId !== filter.sandboxId) continue;
      this.refresh(rec);
      out.push(this.info(rec));
    }
    return out;
  }

  private info(rec: ContainerRecord): ContainerInfo {
    const i: ContainerInfo = {
      id: rec.id,
      sandboxId: rec.sandboxId,
      name: rec.name,
      attempt: rec.attempt,
      image: rec.image,
      imageRef: rec.image,
      state: rec.state,
      createdAt: rec.createdAt,
      labels: { ...rec.labels },
      annotations: { ...rec.annotations },
      logPath: rec.logPath,
    };
    if (rec.startedAt !== undefined) i.startedAt = rec.startedAt;
    if (rec.finishedAt !== undefined) i.finishedAt = rec.finishedAt;
    if (rec.exitCode !== undefined) i.exitCode = rec.exitCode;
    if (rec.reason) i.reason = rec.reason;
    if (rec.message) i.message = rec.message;
    return i;
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
    await this.ready();
    const rec = this.containers.get(id);
    if (!rec) throw new RuntimeError('NotFound', `container ${id} not found`);
    this.refresh(rec);
    if (rec.state !== 'running') throw new RuntimeError('Unknown', `container ${id} is not running`);
    if (cmd.length === 0) throw new RuntimeError('Unknown', 'exec: no command');
    const env = this.containerEnv(rec);
    const cwd = await this.workDir(rec);
    const exe = await this.resolveExecutable(cmd[0]!, cwd, env);
    if (!exe) return { exitCode: 126, stdout: '', stderr: `exec: "${cmd[0]}": executable file not found in $PATH` };
    return new Promise<ExecResult>((resolveResult) => {
      const child = spawn(exe, cmd.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const limit = 64 * 1024;
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout!.on('data', (b: Buffer) => {
        if (stdout.length < limit) stdout += b.toString('utf8');
      });
      child.stderr!.on('data', (b: Buffer) => {
        if (stderr.length < limit) stderr += b.toString('utf8');
      });
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) killGroup(child.pid, 'SIGKILL');
      }, Math.max(1, timeoutSeconds) * 1000);
      child.once('error', (e) => {
        clearTimeout(timer);
        resolveResult({ exitCode: 126, stdout, stderr: stderr + e.message });
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolveResult({ exitCode: code ?? 128 + signalNumber(signal), stdout: stdout.slice(0, limit), stderr: stderr.slice(0, limit), ...(timedOut ? { timedOut: true } : {}) });
      });
    });
  }

  async containerStats(ids?: string[]): Promise<ContainerStats[]> {
    await this.ready();
    const want = ids ? new Set(ids) : undefined;
    const recs = [...this.containers.values()].filter((r) => r.state === 'running' && r.pid && (!want || want.has(r.id)));
    if (recs.length === 0) return [];
    const groups = scanGroups();
    const { clkTck, pageSize } = sys();
    const now = this.clock.now();
    return recs.map((r) => {
      const g = groups.get(r.pid!) ?? { cpuTicks: 0, rssPages: 0 };
      return {
        containerId: r.id,
        cpuUsageNanos: Math.round((g.cpuTicks * 1e9) / clkTck),
        memoryWorkingSetBytes: g.rssPages * pageSize,
        timestamp: now,
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    if (this.monitorTimer) clearTimeout(this.monitorTimer);
    this.pumpTimer = undefined;
    this.monitorTimer = undefined;
    if (this.loaded) {
      await this.loaded;
      await this.pumpAll().catch(() => undefined);
    }
    await this.flush();
  }

  private check(): void {
    if (this.closed) throw new RuntimeError('Unknown', 'runtime closed');
  }

  // ---- background: log pump and monitor ------------------------------------------------------

  /** Keeps the pump and the monitor running while anything needs them. */
  private schedule(): void {
    if (this.closed) return;
    const needPump = [...this.containers.values()].some((r) => r.state === 'running' || (r.state === 'exited' && !r.drained));
    if (needPump && !this.pumpTimer) {
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        void this.pumpAll().finally(() => this.schedule());
      }, this.pumpMs);
      this.pumpTimer.unref();
    }
    const needMonitor = [...this.containers.values()].some((r) => r.state === 'running');
    if (needMonitor && !this.monitorTimer) {
      this.monitorTimer = setTimeout(() => {
        this.monitorTimer = undefined;
        this.monitor();
        this.schedule();
      }, this.monitorMs);
      this.monitorTimer.unref();
    }
  }

  /** Adopted exits, and memory limits. */
  private monitor(): void {
    const running = [...this.containers.values()].filter((r) => r.state === 'running');
    for (const r of running) this.refresh(r);
    const limited = running.filter((r) => r.state === 'running' && r.pid && r.resources.memoryLimitBytes);
    if (limited.length === 0) return;
    const groups = scanGroups();
    const { pageSize } = sys();
    for (const r of limited) {
      const used = (groups.get(r.pid!)?.rssPages ?? 0) * pageSize;
      if (used > r.resources.memoryLimitBytes!) {
        r.oomKilled = true;
        r.killed = true;
        this.persist('container', r.id);
        killGroup(r.pid!, 'SIGKILL');
      }
    }
  }

  private timestamp(): string {
    const now = this.clock.now();
    if (now === this.tsLast) this.tsSeq++;
    else {
      this.tsLast = now;
      this.tsSeq = 0;
    }
    return rfc3339Nano(now, Math.min(999_999, this.tsSeq));
  }

  private async pumpAll(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (const rec of [...this.containers.values()]) {
        if (rec.state === 'created' || rec.drained) continue;
        await this.pumpOne(rec, rec.state !== 'running').catch(() => undefined);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Moves new raw output into the CRI log. `final`: the container exited, flush everything. */
  private async pumpOne(rec: ContainerRecord, final: boolean): Promise<void> {
    if (rec.drained) return;
    let enc = this.encoders.get(rec.id);
    if (!enc) {
      enc = { stdout: new CriLineEncoder('stdout', () => this.timestamp()), stderr: new CriLineEncoder('stderr', () => this.timestamp()), idleTicks: 0 };
      this.encoders.set(rec.id, enc);
    }
    const dir = this.containerDir(rec.id);
    const entries: Buffer[] = [];
    let moved = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      const path = join(dir, stream);
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        continue;
      }
      if (size < rec.offsets[stream]) rec.offsets[stream] = 0;
      if (size === rec.offsets[stream]) continue;
      const fh = await open(path, 'r');
      try {
        while (rec.offsets[stream] < size) {
          const len = Math.min(256 * 1024, size - rec.offsets[stream]);
          const buf = Buffer.alloc(len);
          const { bytesRead } = await fh.read(buf, 0, len, rec.offsets[stream]);
          if (bytesRead === 0) break;
          rec.offsets[stream] += bytesRead;
          entries.push(...enc[stream].push(buf.subarray(0, bytesRead)));
          moved = true;
        }
      } finally {
        await fh.close();
      }
    }
    // A line without its newline is written as P once the stream went quiet for a tick.
    enc.idleTicks = moved ? 0 : enc.idleTicks + 1;
    if (final || enc.idleTicks >= 2) entries.push(...enc.stdout.flushPartial(), ...enc.stderr.flushPartial());
    if (entries.length > 0) {
      if (!existsSync(dirname(rec.logPath))) mkdirSync(dirname(rec.logPath), { recursive: true });
      await appendFile(rec.logPath, Buffer.concat(entries));
    }
    if (final) {
      rec.drained = true;
      this.encoders.delete(rec.id);
    }
    if (moved || final) this.persist('container', rec.id);
  }
}
