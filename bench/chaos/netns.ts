/**
 * Network namespaces for the chaos runner: one namespace per replica, each with a veth
 * pair into a bridge in the root namespace, addresses in a private /24 of 10.250.0.0/16,
 * and an nft table inside each namespace for partitions. Everything is named after the
 * run (`bc<run>...`) and removed by `teardown()`, which also runs when the process exits
 * (or is interrupted) with a namespace still up.
 *
 * No `tc netem` here (see CONTAINERD.md): delays and loss need the proxy isolation.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const SYSTEM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * A system binary by absolute path: never through PATH, where npm puts node_modules/.bin
 * first (and a package there is called `nft` too).
 */
export function systemBin(name: string): string | undefined {
  for (const d of SYSTEM_DIRS) if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return undefined;
}

function run(cmd: string, args: string[], input?: string): string {
  const path = systemBin(cmd);
  if (!path) throw new Error(`${cmd}: not found in ${SYSTEM_DIRS.join(', ')}`);
  return execFileSync(path, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000, ...(input !== undefined ? { input } : {}) });
}

function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

const live = new Set<Netns>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const n of [...live]) n.teardownSync();
  });
}

let usable: boolean | undefined;

/** Can this process make namespaces, veths, a bridge and nft tables? (Tried once, for real.) */
export function netnsUsable(): boolean {
  if (usable !== undefined) return usable;
  usable = false;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  for (const bin of ['ip', 'nft', 'nsenter']) if (!systemBin(bin)) return false;
  const name = `bcprobe${process.pid % 100000}`;
  try {
    run('ip', ['netns', 'add', name]);
    run('nsenter', [`--net=/run/netns/${name}`, systemBin('nft')!, 'add', 'table', 'inet', 'probe']);
    usable = true;
  } catch {
    usable = false;
  } finally {
    tryRun('ip', ['netns', 'del', name]);
  }
  return usable;
}

export class Netns {
  readonly prefix: string;
  readonly subnet: string;
  private readonly ids: number[];
  private up = false;

  constructor(runId: string, ids: number[]) {
    // Interface names are at most 15 bytes: bc + 5 + v + id.
    this.prefix = `bc${runId.slice(0, 5)}`;
    this.ids = [...ids];
    this.subnet = pickSubnet(runId);
  }

  ns(id: number): string {
    return `${this.prefix}n${id}`;
  }

  ip(id: number): string {
    return `${this.subnet}.${10 + id}`;
  }

  get hostIp(): string {
    return `${this.subnet}.1`;
  }

  private get bridge(): string {
    return `${this.prefix}br`;
  }

  /** Create the bridge, a namespace per replica and an empty chaos nft table in each. */
  setup(): void {
    installExitHook();
    live.add(this);
    this.up = true;
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${this.hostIp}/24`, 'dev', this.bridge]);
    run('ip', ['link', 'set', this.bridge, 'up']);
    for (const id of this.ids) this.addHost(id);
  }

  addHost(id: number): void {
    if (!this.ids.includes(id)) this.ids.push(id);
    const ns = this.ns(id);
    const veth = `${this.prefix}v${id}`;
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${this.ip(id)}/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    this.nft(id, `table inet chaos {\n chain out { type filter hook output priority 0; policy accept; }\n chain in { type filter hook input priority 0; policy accept; }\n}\n`);
  }

  private nft(id: number, script: string): void {
    run('nsenter', [`--net=/run/netns/${this.ns(id)}`, systemBin('nft')!, '-f', '-'], script);
  }

  /** Packets from `from` to `to` are dropped (blackhole) or answered with a TCP reset. */
  block(from: number, to: number, style: 'blackhole' | 'reset'): void {
    const verdict = style === 'reset' ? 'meta l4proto tcp reject with tcp reset' : 'drop';
    this.nft(from, `add rule inet chaos out ip daddr ${this.ip(to)} ${verdict}\n`);
    // The receiving side drops too, so that nothing already queued slips through.
    if (style === 'blackhole') this.nft(to, `add rule inet chaos in ip saddr ${this.ip(from)} drop\n`);
  }

  /** Remove every rule (the tables stay). */
  heal(): void {
    for (const id of this.ids) this.nft(id, 'flush chain inet chaos out\nflush chain inet chaos in\n');
  }

  teardownSync(): void {
    if (!this.up) return;
    this.up = false;
    live.delete(this);
    for (const id of this.ids) tryRun('ip', ['netns', 'del', this.ns(id)]);
    // Deleting a namespace deletes its veth end, and with it our end; make sure anyway.
    for (const id of this.ids) tryRun('ip', ['link', 'del', `${this.prefix}v${id}`]);
    tryRun('ip', ['link', 'del', this.bridge]);
  }
}

/** A /24 in 10.250.0.0/16 that no interface on this host uses yet. */
function pickSubnet(runId: string): string {
  let used = '';
  try {
    used = run('ip', ['-4', '-o', 'addr', 'show']);
  } catch {
    used = '';
  }
  let h = 0;
  for (const ch of runId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  for (let i = 0; i < 250; i++) {
    const third = ((h + i) % 250) + 2;
    const subnet = `10.250.${third}`;
    if (!used.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free /24 in 10.250.0.0/16');
}
