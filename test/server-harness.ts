/**
 * Shared plumbing of the multi-process `berth server` tests (test/server-*.test.ts): a
 * cluster of real replica processes on free loopback ports in a temp dir, one client
 * pinned to each replica, and bounded polling. Not a test file itself.
 */
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { ApiCallError, BerthClient, type PlainObject } from '../src/client/client.ts';
import { BerthServer } from '../src/server/server.ts';
import { SecretCipher } from '../src/store/index.ts';

export { sleep };

export interface Harness {
  cluster: ServerCluster;
  dir: string;
  size: number;
  /** clients[id - 1] talks to replica `id` only (no failover). */
  pinned: BerthClient[];
  /** A client of every replica, failing over between them. */
  any: BerthClient;
  /** Replica ids, 1..size. */
  ids: number[];
  /** A new client pinned to replica `id` (closed in teardown). */
  clientFor(id: number, timeoutMs?: number): BerthClient;
  /** A new failover client of every replica, starting at replica `first` (closed in teardown). */
  failoverClient(first?: number, timeoutMs?: number): BerthClient;
}

/**
 * Start `size` replicas in a fresh temp dir and wait until they have a leader that has
 * made the default namespace. Everything is stopped and removed in teardown (the dir is
 * kept, and named in the log, when the test failed).
 */
export async function startCluster(t: ExecutionContext, size = 3): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-server-test-'));
  const ports = await freePorts(2 * size);
  const cluster = new ServerCluster({ size, dir, peerPorts: ports.slice(0, size), apiPorts: ports.slice(size), extraArgs: ['--quiet', '--no-controllers'] });
  const clients: BerthClient[] = [];
  const track = (c: BerthClient) => {
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    for (const c of clients) c.close();
    await cluster.stopAll();
    if (t.passed) rmSync(dir, { recursive: true, force: true });
    else t.log(`cluster dir kept for inspection: ${dir}`);
  });
  await cluster.startAll();
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const h: Harness = {
    cluster,
    dir,
    size,
    ids,
    pinned: [],
    any: undefined as unknown as BerthClient,
    clientFor: (id, timeoutMs) => track(new BerthClient({ endpoints: [cluster.apiAddress(id)], ...(timeoutMs ? { timeoutMs } : {}) })),
    failoverClient: (first = 1, timeoutMs) => {
      const all = cluster.apiAddresses();
      const rotated = [...all.slice(first - 1), ...all.slice(0, first - 1)];
      return track(new BerthClient({ endpoints: rotated, ...(timeoutMs ? { timeoutMs } : {}) }));
    },
  };
  h.pinned = ids.map((id) => h.clientFor(id));
  h.any = h.failoverClient(1);
  await waitForLeader(h);
  await until('the default namespace', async () => {
    try {
      await h.any.get('Namespace', '', 'default');
      return true;
    } catch (e) {
      if (e instanceof ApiCallError) return undefined;
      throw e;
    }
  });
  return h;
}

/** Poll `fn` until it returns something other than undefined; fail after `limitMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, limitMs = 30_000, everyMs = 25): Promise<T> {
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

/**
 * The id of the leader once every running replica agrees on it (and it says it leads).
 * `not`: wait for a leader other than this one.
 */
export async function waitForLeader(h: Harness, opts: { not?: number; limitMs?: number } = {}): Promise<number> {
  return until(
    opts.not ? `a leader other than ${opts.not}` : 'a leader',
    async () => {
      const running = h.ids.filter((id) => h.cluster.running(id));
      const st = await Promise.all(running.map((id) => h.pinned[id - 1]!.status().catch(() => undefined)));
      if (st.some((s) => s === undefined)) return undefined;
      const leader = st[0]!.leader;
      if (leader === 0 || leader === opts.not) return undefined;
      if (!st.every((s) => s!.leader === leader)) return undefined;
      const self = st.find((s) => s!.id === leader);
      if (!self || self.role !== 'leader') return undefined;
      return leader;
    },
    opts.limitMs ?? 20_000,
  );
}

export function configMap(name: string, data: Record<string, string>, extra: { namespace?: string; labels?: Record<string, string>; resourceVersion?: string } = {}): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      ...(extra.namespace ? { namespace: extra.namespace } : {}),
      ...(extra.labels ? { labels: extra.labels } : {}),
      ...(extra.resourceVersion ? { resourceVersion: extra.resourceVersion } : {}),
    },
    data,
  };
}

export function rvOf(o: PlainObject): string {
  return String((o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? '');
}

export function nameOf(o: PlainObject): string {
  return String((o.metadata as { name?: string } | undefined)?.name ?? '');
}

export function dataOf(o: PlainObject): Record<string, string> {
  return (o.data ?? {}) as Record<string, string>;
}

/** The gRPC status name of an error thrown by the client (or the error's own text). */
export function codeOf(e: unknown): string {
  return e instanceof ApiCallError ? e.codeName : `not an API error: ${String(e)}`;
}

/**
 * Whether a write failed so that it may or may not have happened: UNAVAILABLE from a
 * leader change under the write or a connection that broke mid-call. (A leader change
 * can happen in any test when a loaded machine stalls the leader past its lease.)
 */
export function outcomeUnknown(e: unknown): boolean {
  return e instanceof ApiCallError && e.codeName === 'UNAVAILABLE';
}

/**
 * Create, sending again while the outcome is unknown. ALREADY_EXISTS after an unknown
 * outcome means the earlier attempt took effect (names in these tests are never reused):
 * the object is read back from the same client.
 */
export async function createSurely(c: BerthClient, obj: PlainObject, limitMs = 20_000): Promise<PlainObject> {
  const deadline = Date.now() + limitMs;
  let uncertain = false;
  for (;;) {
    try {
      return await c.create(obj);
    } catch (e) {
      if (uncertain && e instanceof ApiCallError && e.codeName === 'ALREADY_EXISTS') {
        const m = (obj.metadata ?? {}) as { namespace?: string; name?: string };
        return until(`${m.name} to be readable`, () => c.get(String(obj.kind), m.namespace ?? '', String(m.name)), limitMs);
      }
      if (!outcomeUnknown(e) || Date.now() > deadline) throw e;
      uncertain = true;
      await sleep(50);
    }
  }
}

/**
 * An update without a version precondition (or a status update), sent again while its
 * outcome is unknown; `retried` tells that an earlier copy may also have taken effect.
 */
export async function updateSurely(
  c: BerthClient,
  obj: PlainObject,
  opts: { status?: boolean; limitMs?: number } = {},
): Promise<{ object: PlainObject; retried: boolean }> {
  const deadline = Date.now() + (opts.limitMs ?? 20_000);
  let retried = false;
  for (;;) {
    try {
      return { object: await (opts.status ? c.updateStatus(obj) : c.update(obj)), retried };
    } catch (e) {
      if (!outcomeUnknown(e) || Date.now() > deadline) throw e;
      retried = true;
      await sleep(50);
    }
  }
}

/** A read, asked again while it fails with UNAVAILABLE (e.g. no leader during an election). */
export async function readSurely<T>(fn: () => Promise<T>, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!outcomeUnknown(e) || Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

/** Every object of a kind through one client, `limit` per page, following continue tokens. */
export async function listAll(
  c: BerthClient,
  kind: string,
  opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; limit?: number } = {},
): Promise<{ items: PlainObject[]; pages: number; pageSizes: number[] }> {
  const items: PlainObject[] = [];
  const pageSizes: number[] = [];
  let token = '';
  for (;;) {
    const page = await readSurely(() => c.list(kind, { ...opts, ...(token ? { continue: token } : {}) }));
    items.push(...page.items);
    pageSizes.push(page.items.length);
    if (!page.continue) break;
    token = page.continue;
    if (pageSizes.length > 100_000) throw new Error('continue tokens never end');
  }
  return { items, pages: pageSizes.length, pageSizes };
}

/** Run `fn(i)` for i in [0, n) with at most `width` calls in flight. */
export async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, lane));
}

/**
 * One replica in this process (a single-member cluster, no controllers), serving once its
 * leadership has made the default namespace; stopped and removed when the test ends.
 */
export async function startInProcessReplica(t: { teardown(fn: () => unknown): void }, clusterId: string): Promise<{ server: BerthServer; address: string }> {
  const dir = mkdtempSync(join(tmpdir(), `berth-${clusterId}-`));
  const keyFile = join(dir, 'secret.key');
  SecretCipher.generateKeyFile(keyFile);
  const [peer] = await freePorts(1);
  const server = await BerthServer.start({
    id: 1,
    clusterId,
    dataDir: join(dir, 'data'),
    listen: '127.0.0.1:0',
    peers: new Map([[1, `127.0.0.1:${peer}`]]),
    join: false,
    encryptionKeyFile: keyFile,
    controllers: false,
  });
  t.teardown(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const probe = new BerthClient({ endpoints: [server.apiAddress] });
  try {
    await until('the default namespace', () => probe.get('Namespace', '', 'default'), 10_000, 50);
  } finally {
    probe.close();
  }
  return { server, address: server.apiAddress };
}
