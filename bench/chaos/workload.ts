/**
 * The register workload: K clients doing linearizable reads, unconditional writes and
 * compare-and-sets on a few ConfigMaps (every written value is unique: client-seq), and
 * P probes writing a probe ConfigMap as often as they can, so that the moment writes go
 * through again after a fault is known to within a few milliseconds. Every call is
 * recorded (history.ts) with its invocation and completion time and whether its outcome
 * is known.
 */
import { ApiCallError, BerthClient, type PlainObject } from '../../src/client/client.ts';
import { History, type Op, type RegisterState } from './history.ts';
import type { Rng } from './rng.ts';

export const NAMESPACE = 'default';
export const PROBE_KEY = 'chaos-probe';

export function keyName(i: number): string {
  return `chaos-${i}`;
}

export function configMap(name: string, value: string, resourceVersion?: number): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NAMESPACE, ...(resourceVersion !== undefined ? { resourceVersion: String(resourceVersion) } : {}) },
    data: { value },
  };
}

export function valueOf(o: PlainObject | undefined): string | null {
  const v = (o?.data as { value?: unknown } | undefined)?.value;
  return typeof v === 'string' ? v : null;
}

export function rvOf(o: PlainObject | undefined): number {
  return Number((o?.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? NaN);
}

/**
 * How a failed call ends up in the history. A write failed for sure only when the server
 * refused it before it could have been applied (no leader, no connection, validation) or
 * applied it as a conflict; anything else (a deadline, a connection lost under the call,
 * "outcome is unknown", an internal error) may have happened.
 */
export function classifyError(e: unknown, kind: Op['kind']): 'fail' | 'unknown' | 'error' {
  if (kind === 'read') return 'error';
  if (!(e instanceof ApiCallError)) return 'unknown';
  switch (e.codeName) {
    case 'ABORTED':
      // A version conflict, applied as such: for a compare-and-set an observation; an
      // unconditional update returns it only once its server-side retries ran out.
      return kind === 'cas' ? 'fail' : 'error';
    case 'NOT_FOUND':
    case 'INVALID_ARGUMENT':
    case 'ALREADY_EXISTS':
    case 'FAILED_PRECONDITION':
      return 'error';
    case 'UNAVAILABLE':
      if (/outcome is unknown/i.test(e.message)) return 'unknown';
      return /No connection established|ECONNREFUSED|connect E|Failed to connect|no leader is known|not the leader|Stream refused by server|Channel closed before call started|replica is stopped|replica is shutting down/i.test(e.message)
        ? 'error'
        : 'unknown';
    default:
      return 'unknown';
  }
}

export interface RegisterWorkloadOptions {
  endpoints: string[];
  keys: number;
  clients: number;
  probes: number;
  /** Client deadline per call (ms). */
  timeoutMs: number;
  probeTimeoutMs: number;
  /** Pause between a client's calls: uniform in [min, max] ms. */
  thinkMs: [number, number];
  /**
   * Also one reader per replica that reads only through that replica (no failover), as
   * Jepsen binds clients to nodes: a replica cut off from the others still gets reads,
   * which is where a stale read would show.
   */
  pinnedReaders: boolean;
  rng: Rng;
  log: (s: string) => void;
}

export class RegisterWorkload {
  readonly history = new History();
  readonly init = new Map<string, RegisterState>();
  /** The resourceVersion of the last change made before the workload started. */
  startRv = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly clients: BerthClient[] = [];
  /** Highest resourceVersion any call was acknowledged with (for the watch's stall check). */
  maxAckedRv = 0;
  readonly keys: string[];

  constructor(readonly opts: RegisterWorkloadOptions) {
    this.keys = Array.from({ length: opts.keys }, (_, i) => keyName(i));
  }

  private newClient(first: number, timeoutMs: number): BerthClient {
    const e = this.opts.endpoints;
    const rotated = [...e.slice(first % e.length), ...e.slice(0, first % e.length)];
    const c = new BerthClient({ endpoints: rotated, timeoutMs });
    this.clients.push(c);
    return c;
  }

  /** Create the keys (retrying through elections) and read their starting state. */
  async setup(): Promise<void> {
    const c = this.newClient(0, 5000);
    const deadline = performance.now() + 60_000;
    for (const name of [...this.keys, PROBE_KEY]) {
      for (;;) {
        try {
          await c.create(configMap(name, 'init'));
          break;
        } catch (e) {
          if (e instanceof ApiCallError && e.codeName === 'ALREADY_EXISTS') break;
          if (performance.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    for (;;) {
      try {
        const l = await c.list('ConfigMap', { namespace: NAMESPACE });
        for (const o of l.items) {
          const name = String((o.metadata as { name?: string }).name);
          this.init.set(name, { value: valueOf(o), rv: rvOf(o) });
        }
        this.startRv = Number(l.resourceVersion);
        break;
      } catch (e) {
        if (performance.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.maxAckedRv = this.startRv;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.opts.clients; i++) this.loops.push(this.clientLoop(i, this.opts.rng.fork()));
    for (let i = 0; i < this.opts.probes; i++) this.loops.push(this.probeLoop(i));
    if (this.opts.pinnedReaders) this.opts.endpoints.forEach((e, i) => this.loops.push(this.readerLoop(i, e, this.opts.rng.fork())));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  private async clientLoop(i: number, rng: Rng): Promise<void> {
    const name = `c${i}`;
    const client = this.newClient(i, this.opts.timeoutMs);
    /** The last two versions this client saw per key: compare-and-sets use what was seen. */
    const seen = new Map<string, number[]>();
    const saw = (key: string, rv: number) => {
      const l = seen.get(key) ?? [];
      if (l[l.length - 1] !== rv) l.push(rv);
      if (l.length > 2) l.shift();
      seen.set(key, l);
    };
    let seq = 0;
    while (this.running) {
      const key = rng.pick(this.keys);
      const r = rng.float();
      const versions = seen.get(key);
      if (r < 0.5 || !versions) await this.read(client, name, key, saw);
      else if (r < 0.75) await this.write(client, name, key, `${name}-${++seq}`, undefined, saw);
      else {
        // Mostly the latest version seen; sometimes an older one (a conflict, usually).
        const expect = versions.length > 1 && rng.chance(0.2) ? versions[0]! : versions[versions.length - 1]!;
        await this.write(client, name, key, `${name}-${++seq}`, expect, saw);
      }
      const [lo, hi] = this.opts.thinkMs;
      await new Promise((res) => setTimeout(res, rng.range(lo, hi)));
    }
  }

  private async readerLoop(i: number, endpoint: string, rng: Rng): Promise<void> {
    const name = `r${i + 1}`;
    const client = new BerthClient({ endpoints: [endpoint], timeoutMs: 1000 });
    this.clients.push(client);
    while (this.running) {
      await this.read(client, name, rng.pick(this.keys), () => undefined);
      const [lo, hi] = this.opts.thinkMs;
      await new Promise((res) => setTimeout(res, rng.range(lo, hi)));
    }
  }

  private async probeLoop(i: number): Promise<void> {
    const name = `p${i}`;
    const client = this.newClient(i, this.opts.probeTimeoutMs);
    let seq = 0;
    // Staggered start so the probes do not march in step.
    await new Promise((res) => setTimeout(res, 7 * i));
    while (this.running) {
      const ok = await this.write(client, name, PROBE_KEY, `${name}-${++seq}`, undefined, () => undefined);
      await new Promise((res) => setTimeout(res, ok ? 20 : 5));
    }
  }

  private async read(client: BerthClient, name: string, key: string, saw: (k: string, rv: number) => void): Promise<void> {
    const op = this.history.begin(name, key, 'read');
    try {
      const o = await client.get('ConfigMap', NAMESPACE, key);
      History.complete(op, 'ok', { value: valueOf(o), rv: rvOf(o) });
      saw(key, rvOf(o));
    } catch (e) {
      if (e instanceof ApiCallError && e.codeName === 'NOT_FOUND') {
        History.complete(op, 'ok', { value: null, rv: 0 });
        return;
      }
      History.complete(op, 'error', { error: errorText(e) });
    }
  }

  /** An update; with `expect`, conditional on that resourceVersion. True if acknowledged. */
  async write(client: BerthClient, name: string, key: string, value: string, expect: number | undefined, saw: (k: string, rv: number) => void): Promise<boolean> {
    const kind = expect === undefined ? 'write' : 'cas';
    const op = this.history.begin(name, key, kind, { value, ...(expect !== undefined ? { expect } : {}) });
    try {
      const o = await client.update(configMap(key, value, expect));
      const rv = rvOf(o);
      History.complete(op, 'ok', { rv });
      if (rv > this.maxAckedRv) this.maxAckedRv = rv;
      saw(key, rv);
      return true;
    } catch (e) {
      const c = classifyError(e, kind);
      if (c === 'unknown') History.indeterminate(op, errorText(e));
      else History.complete(op, c, { error: errorText(e) });
      return false;
    }
  }

  /** After the run: one linearizable read of every key through `client`, recorded. */
  async finalReads(client: BerthClient, deadlineMs: number): Promise<Map<string, RegisterState> | undefined> {
    const out = new Map<string, RegisterState>();
    const deadline = performance.now() + deadlineMs;
    for (const key of [...this.keys, PROBE_KEY]) {
      for (;;) {
        const op = this.history.begin('final', key, 'read');
        try {
          const o = await client.get('ConfigMap', NAMESPACE, key);
          History.complete(op, 'ok', { value: valueOf(o), rv: rvOf(o) });
          out.set(key, { value: valueOf(o), rv: rvOf(o) });
          break;
        } catch (e) {
          History.complete(op, 'error', { error: errorText(e) });
          if (performance.now() > deadline) return undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    return out;
  }
}

export function errorText(e: unknown): string {
  if (e instanceof ApiCallError) return `${e.codeName}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
