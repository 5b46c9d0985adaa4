/**
 * `berth ui` at scale: 10,000 pods on a real three-replica cluster (created in bulk
 * through the API; held by a scheduling gate so that nothing else touches them), the UI
 * started against it on a fake terminal, then 500 pod status updates a second made
 * through the API by a separate process while the UI draws.
 *
 *   - firstFrameMs: from starting the UI to the first frame showing the full pods table
 *     (listMs: the part of it spent in the API's List call);
 *   - redrawP50Ms / redrawP99Ms: from an update being sent to the first frame showing it
 *     (or a newer state of the same pod); the updated pods are the ones on screen, and
 *     each update writes a distinct pod IP that the frame is searched for;
 *   - watchP50Ms / watchP99Ms: from an update being sent to its watch event reaching the
 *     UI's store — the cluster's share of the redraw latency (raft commit, watch fan-out,
 *     decoding), for comparison;
 *   - uiP50Ms / uiP99Ms: from an update reaching the UI's store to the first frame showing
 *     it (or a newer state of the same pod) — the UI's own share;
 *   - keyP50Ms / keyP99Ms: from a keystroke (j/k, sent by the update process during the
 *     updates, so that it reaches the UI as terminal input does: as an I/O event queued
 *     behind whatever the UI is doing) to the first frame with the cursor on the row the
 *     key moved it to.
 *
 *   npm run bench -- tui [--pods 10000] [--rate 500] [--seconds 10]
 *   (BENCH_DEBUG=1 also logs long GC pauses, event-loop stalls and slow keys)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BerthClient } from '../src/client/client.ts';
import { freePorts, sleep } from '../src/cli/proc-cluster.ts';
import { ServerCluster } from '../src/cli/server-cluster.ts';
import { Controller, realTimers } from '../src/tui/index.ts';
import { FakeStdin, FakeStdout } from '../src/tui/testing.ts';
import { procCpuMicros } from './lib/proc-cpu.ts';
import { benchArgs, log, percentile, round, scratchDir, waitForApi } from './lib/util.ts';

// As `berth ui` runs in a terminal: React's production build, and colours (chalk decides
// when ink is loaded, below; a pipe would otherwise get none, and paint less).
process.env.NODE_ENV ??= 'production';
process.env.FORCE_COLOR ??= '1';
const { mount } = await import('../src/tui/mount.tsx');

const SELF = fileURLToPath(import.meta.url);
const NS = 'bench';
const VISIBLE = 40;
const ALREADY_EXISTS = 6;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const wallNow = () => performance.timeOrigin + performance.now();

const podName = (i: number) => `p-${String(i).padStart(5, '0')}`;

/** A pod IP that names update `seq`: every marker has the same length, so none contains another. */
function marker(seq: number): string {
  return `10.${100 + (Math.floor(seq / 10_000) % 100)}.${100 + (Math.floor(seq / 100) % 100)}.${100 + (seq % 100)}`;
}

interface Sent {
  seq: number;
  pod: number;
  sentAt: number;
  ok: boolean;
}

if (process.env.BERTH_BENCH_TUI_WORKER) {
  // The update generator: VISIBLE pods, each updated by its own loop, paced together to `rate`/s.
  const cfg = JSON.parse(process.env.BERTH_BENCH_TUI_WORKER) as { endpoints: string[]; rate: number; seconds: number };
  const client = new BerthClient({ endpoints: cfg.endpoints, timeoutMs: 10_000 });
  const sent: Sent[] = [];
  let seq = 0;
  const period = (1000 * VISIBLE) / cfg.rate;
  const start = performance.now() + 100;
  const end = start + cfg.seconds * 1000;
  // Keystrokes, every 200 ms while the updates run, each stamped when sent (the UI side
  // types them).
  const keys = (async () => {
    await sleep(300);
    for (let i = 0; performance.now() < end; i++) {
      process.send!({ key: true, sentAt: wallNow() });
      await sleep(200);
    }
  })();
  await Promise.all(
    Array.from({ length: VISIBLE }, async (_, pod) => {
      for (let j = 0; ; j++) {
        const due = start + (pod * period) / VISIBLE + j * period;
        if (due >= end) return;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const s = seq++;
        const rec: Sent = { seq: s, pod, sentAt: wallNow(), ok: false };
        sent.push(rec);
        try {
          await client.updateStatus({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podName(pod), namespace: NS }, status: { phase: 'Pending', podIP: marker(s) } });
          rec.ok = true;
        } catch {
          // counted as not ok
        }
      }
    }),
  );
  await keys;
  client.close();
  process.send!({ sent }, undefined, {}, () => process.disconnect());
} else {
  await main();
}

async function createPods(client: BerthClient, count: number): Promise<void> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const progress = setInterval(() => log(`  ${done}/${count} pods created`), 5000);
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < count; i = next++) {
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: podName(i), namespace: NS, labels: { app: 'bench', shard: String(i % 10) } },
          spec: { schedulingGates: [{ name: 'berth.bench/hold' }], containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
        };
        // A leader change may leave a create's outcome unknown: try again; "exists" is success.
        for (let attempt = 1; ; attempt++) {
          try {
            await client.create(pod);
            break;
          } catch (e) {
            if ((e as { code?: number }).code === ALREADY_EXISTS) break;
            if (attempt >= 20) throw e;
            await sleep(100 * attempt);
          }
        }
        done++;
      }
    }),
  );
  clearInterval(progress);
  log(`${count} pods created in ${round((performance.now() - t0) / 1000, 1)} s`);
}

/**
 * Waits until the replicas are done with the bulk creation (controllers, compaction):
 * the UI's start is measured, not the cluster's backlog. At most a minute.
 */
async function settle(cluster: ServerCluster): Promise<void> {
  const pids = [1, 2, 3].map((id) => cluster.pid(id)!);
  const cpu = () => pids.reduce((a, p) => a + procCpuMicros(p), 0);
  for (let i = 0; i < 60; i++) {
    const c0 = cpu();
    await sleep(1000);
    const used = (cpu() - c0) / 1e6;
    if (used < 0.15) return;
    if (i % 5 === 0) log(`  waiting for the replicas to settle (${round(used * 100, 0)}% of a core)`);
  }
}

async function main(): Promise<void> {
  const args = benchArgs({ pods: 10_000, rate: 500, seconds: 10 });
  const dir = scratchDir('bench-tui');
  const ports = await freePorts(6);
  const cluster = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0, 3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
  let controller: Controller | undefined;
  let unmount: (() => void) | undefined;
  const client = new BerthClient({ endpoints: cluster.apiAddresses(), timeoutMs: 30_000 });
  try {
    await cluster.startAll();
    await waitForApi(client);
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await createPods(client, args.pods);
    await settle(cluster);

    // The UI, on its own client, as `berth ui -n bench` would run it.
    const uiClient = new BerthClient({ endpoints: cluster.apiAddresses() });
    const stdout = new FakeStdout(160, 50);
    const stdin = new FakeStdin();
    const seen = new Map<string, number>();
    let frames = 0;
    let firstFrameAt = 0;
    // The keystroke waiting for its frame: the cursor (`>`) on the row it moved to.
    let pendingKey: { sentAt: number; cursor: string } | undefined;
    const keyLat: number[] = [];
    let keysTyped = 0;
    let lostKeys = 0;
    const full = new RegExp(`Pods\\(${NS}\\)\\[${args.pods}\\][\\s\\S]*${podName(0)}`);
    const markers = /10\.1\d\d\.1\d\d\.1\d\d/g;
    const realWrite = stdout.write;
    stdout.write = (s: string) => {
      const now = wallNow();
      frames++;
      if (!firstFrameAt && full.test(s)) firstFrameAt = now;
      for (const m of s.matchAll(markers)) if (!seen.has(m[0])) seen.set(m[0], now);
      if (pendingKey && s.includes(pendingKey.cursor)) {
        keyLat.push(now - pendingKey.sentAt);
        if (process.env.BENCH_DEBUG && now - pendingKey.sentAt > 100) log(`  slow key: ${round(now - pendingKey.sentAt, 0)} ms at +${round(now - t0, 0)} ms`);
        pendingKey = undefined;
      }
      return realWrite(s);
    };
    // The list the UI starts from, timed: how much of the first frame is the API's.
    let listMs = 0;
    const list = uiClient.list.bind(uiClient);
    uiClient.list = async (...a: Parameters<BerthClient['list']>) => {
      const t = wallNow();
      const r = await list(...a);
      if (a[0] === 'Pod' && !listMs) listMs = wallNow() - t;
      return r;
    };
    const t0 = wallNow();
    controller = new Controller({ client: uiClient, timers: realTimers, context: 'bench', namespace: NS, width: 160, height: 50 });
    const ui = mount(controller, { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, exitOnCtrlC: false, patchConsole: false, maxFps: 0 });
    unmount = () => {
      ui.unmount();
      uiClient.close();
    };
    controller.start();
    while (!firstFrameAt) {
      if (wallNow() - t0 > 60_000) throw new Error('no full frame after 60 s');
      await sleep(5);
    }
    const firstFrameMs = firstFrameAt - t0;
    log(`first full frame after ${round(firstFrameMs, 1)} ms (the list of ${args.pods} pods took ${round(listMs, 1)} ms of it)`);
    await sleep(500);

    if (process.env.BENCH_DEBUG) {
      const { PerformanceObserver } = await import('node:perf_hooks');
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (e.duration > 50) log(`  gc ${round(e.duration, 0)} ms at +${round(wallNow() - t0, 0)} ms`);
      }).observe({ entryTypes: ['gc'] });
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        if (now - last > 250) log(`  event loop stalled ${round(now - last - 50, 0)} ms at +${round(wallNow() - t0, 0)} ms`);
        last = now;
      }, 50).unref();
    }

    // When each update reaches the UI's store: the cluster's share of the latency.
    const arrived = new Map<string, number>();
    controller.store('Pod').subscribe((changes) => {
      const now = wallNow();
      for (const c of changes) {
        const ip = (c.next?.status as { podIP?: string } | undefined)?.podIP;
        if (ip && !arrived.has(ip)) arrived.set(ip, now);
      }
    });

    // Updates and keystrokes from another process, each timed to the frame that shows it.
    log(`updating ${VISIBLE} visible pods at ${args.rate}/s for ${args.seconds} s`);
    const framesBefore = frames;
    const worker = new Promise<Sent[]>((resolve, reject) => {
      const child = fork(SELF, [], {
        execArgv: process.execArgv,
        env: { ...process.env, BERTH_BENCH_TUI_WORKER: JSON.stringify({ endpoints: cluster.apiAddresses(), rate: args.rate, seconds: args.seconds }) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (m: { sent?: Sent[]; key?: boolean; sentAt?: number }) => {
        if (m.sent) return resolve(m.sent);
        // Only from the first update on (not while the worker is still connecting).
        if (!m.key || arrived.size === 0) return;
        if (pendingKey) lostKeys++;
        // j, k, j, …: the cursor moves between the first two rows.
        const down = keysTyped++ % 2 === 0;
        pendingKey = { sentAt: m.sentAt!, cursor: `>${podName(down ? 1 : 0)} ` };
        stdin.type(down ? 'j' : 'k');
      });
      child.once('exit', (code) => reject(new Error(`update worker exited (code ${code}) without a result`)));
    });
    const sent = await worker;
    await sleep(1000);
    const updateFrames = frames - framesBefore;

    // Latency of each update: to the first frame showing it or a newer state of its pod.
    const lat: number[] = [];
    const uiLat: number[] = [];
    let unseen = 0;
    const byPod = new Map<number, Sent[]>();
    for (const s of sent.filter((x) => x.ok)) byPod.set(s.pod, [...(byPod.get(s.pod) ?? []), s]);
    for (const list of byPod.values()) {
      list.sort((a, b) => a.seq - b.seq);
      let next = Infinity;
      for (let i = list.length - 1; i >= 0; i--) {
        const at = seen.get(marker(list[i]!.seq));
        if (at !== undefined) next = Math.min(next, at);
        if (Number.isFinite(next)) lat.push(next - list[i]!.sentAt);
        else unseen++;
        const got = arrived.get(marker(list[i]!.seq));
        if (Number.isFinite(next) && got !== undefined) uiLat.push(next - got);
      }
    }
    lat.sort((a, b) => a - b);
    uiLat.sort((a, b) => a - b);
    const watchLat = sent
      .filter((x) => x.ok && arrived.has(marker(x.seq)))
      .map((x) => arrived.get(marker(x.seq))! - x.sentAt)
      .sort((a, b) => a - b);
    keyLat.sort((a, b) => a - b);
    const okCount = sent.filter((s) => s.ok).length;
    log(`${okCount}/${sent.length} updates accepted, ${unseen} never drawn, ${updateFrames} frames in ${args.seconds + 1} s (${controller.emits} redraw requests in all)`);
    log(`update → frame: p50 ${round(percentile(lat, 50), 1)} ms, p99 ${round(percentile(lat, 99), 1)} ms, max ${round(lat[lat.length - 1] ?? 0, 1)} ms`);
    log(`update → UI's store (watch): p50 ${round(percentile(watchLat, 50), 1)} ms, p99 ${round(percentile(watchLat, 99), 1)} ms`);
    log(`update in the UI's store → frame: p50 ${round(percentile(uiLat, 50), 1)} ms, p99 ${round(percentile(uiLat, 99), 1)} ms`);
    log(`key → frame: p50 ${round(percentile(keyLat, 50), 1)} ms, p99 ${round(percentile(keyLat, 99), 1)} ms over ${keyLat.length} keys (${lostKeys + (pendingKey ? 1 : 0)} never drawn)`);
    const result = {
      bench: 'tui',
      pods: args.pods,
      firstFrameMs: round(firstFrameMs, 1),
      redrawP50Ms: round(percentile(lat, 50), 1),
      redrawP99Ms: round(percentile(lat, 99), 1),
      listMs: round(listMs, 1),
      watchP50Ms: round(percentile(watchLat, 50), 1),
      watchP99Ms: round(percentile(watchLat, 99), 1),
      uiP50Ms: round(percentile(uiLat, 50), 1),
      uiP99Ms: round(percentile(uiLat, 99), 1),
      keyP50Ms: round(percentile(keyLat, 50), 1),
      keyP99Ms: round(percentile(keyLat, 99), 1),
      updatesPerSec: round(okCount / args.seconds, 1),
      framesPerSec: round(updateFrames / (args.seconds + 1), 1),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    controller?.stop();
    unmount?.();
    client.close();
    await cluster.stopAll();
  }
}
