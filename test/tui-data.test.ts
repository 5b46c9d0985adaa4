/**
 * The TUI's data layer without a terminal: stores, incremental sorted lists, filters, the
 * list-then-watch feed with reconnect and relist, redraw coalescing, node requests, row
 * text, describe and YAML (secrets hidden), the actions, and the log buffer. Time is a
 * FakeTimers; the cluster is FakeClient.
 */
import test from 'ava';
import type { PlainObject } from '../src/client/client.ts';
import { cordon, remove, restart, RESTARTED_AT, rollback, scale, transfer } from '../src/tui/actions.ts';
import { FakeTimers } from '../src/tui/clock.ts';
import { clusterRows, pollCluster } from '../src/tui/cluster.ts';
import { containerRows } from '../src/tui/containers.ts';
import { Controller } from '../src/tui/controller.ts';
import { describeLines, eventConcerns } from '../src/tui/describe.ts';
import { Feed } from '../src/tui/feed.ts';
import { filterAccepts, parseFilter } from '../src/tui/filter.ts';
import { keyNames } from '../src/tui/keys.ts';
import { ListIndex } from '../src/tui/list-index.ts';
import { LogSession } from '../src/tui/logs.ts';
import { NodeUsage } from '../src/tui/node-usage.ts';
import { bar, podTone, rolloutProgress, tableSpec } from '../src/tui/rows.ts';
import { clip, displayWidth, fit, sanitize, wrapLines } from '../src/tui/screen.ts';
import { ObjectStore } from '../src/tui/store.ts';
import { FakeClient, replicaStatus } from '../src/tui/testing.ts';
import { viewById } from '../src/tui/views.ts';
import { yamlLines } from '../src/tui/yaml.ts';

const flush = () => new Promise((r) => setImmediate(r));

/** Related objects for describe, from plain lists. */
function related(r: { events?: PlainObject[]; replicaSets?: PlainObject[]; pods?: PlainObject[] } = {}) {
  return { events: () => r.events ?? [], replicaSets: () => r.replicaSets ?? [], pods: () => r.pods ?? [], endpoints: () => undefined };
}

function pod(name: string, opts: { ns?: string; node?: string; phase?: string; ready?: boolean; cpu?: string; memory?: string; labels?: Record<string, string>; owner?: string; rv?: string; created?: string } = {}): PlainObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.ns ?? 'default',
      uid: `uid-${name}`,
      resourceVersion: opts.rv ?? '1',
      creationTimestamp: opts.created ?? '2025-01-01T00:00:00Z',
      labels: opts.labels ?? {},
      ...(opts.owner ? { ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', uid: opts.owner, controller: true }] } : {}),
    },
    spec: { ...(opts.node ? { nodeName: opts.node } : {}), containers: [{ name: 'app', image: 'nginx', resources: { requests: { cpu: opts.cpu ?? '100m', memory: opts.memory ?? '64Mi' } } }] },
    status: {
      phase: opts.phase ?? 'Running',
      podIP: '10.0.0.1',
      containerStatuses: [{ name: 'app', ready: opts.ready ?? true, restartCount: 0, image: 'nginx', imageID: '', state: opts.phase === 'Pending' ? { waiting: { reason: 'ContainerCreating' } } : { running: { startedAt: '2025-01-01T00:00:00Z' } } }],
    },
  };
}

// ---- store and index ----------------------------------------------------------------------

test('the store applies watch events, reports changes, and a relist reports only differences', (t) => {
  const s = new ObjectStore('Pod');
  const seen: string[] = [];
  s.subscribe((cs) => seen.push(...cs.map((c) => `${c.prev ? 'M' : 'A'}${c.next ? '' : 'D'} ${c.key}`)));
  s.apply({ type: 'ADDED', object: pod('a', { rv: '5' }), resourceVersion: '5' });
  s.apply({ type: 'ADDED', object: pod('b', { rv: '6' }), resourceVersion: '6' });
  s.apply({ type: 'MODIFIED', object: pod('a', { rv: '7' }), resourceVersion: '7' });
  s.apply({ type: 'BOOKMARK', object: undefined, resourceVersion: '9' });
  t.is(s.resourceVersion, '9');
  s.apply({ type: 'DELETED', object: pod('b', { rv: '10' }), resourceVersion: '10' });
  s.apply({ type: 'DELETED', object: pod('zz', { rv: '11' }), resourceVersion: '11' });
  t.deepEqual(seen, ['A default/a', 'A default/b', 'M default/a', 'MD default/b']);
  seen.length = 0;
  s.replace([pod('a', { rv: '7' }), pod('c', { rv: '12' })], '12');
  t.deepEqual(seen, ['A default/c']);
  s.replace([pod('c', { rv: '13' })], '13');
  t.deepEqual(seen, ['A default/c', 'M default/c', 'MD default/a']);
  t.true(s.synced);
  t.is(s.size, 1);
});

/** A deterministic generator (tests replay the same sequence). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

test('the list index stays sorted and filtered through random changes without resorting everything', (t) => {
  const s = new ObjectStore('Pod');
  const accept = (o: PlainObject) => !String((o.metadata as { name: string }).name).endsWith('7');
  const sortKey = (o: PlainObject) => Number((o.metadata as { labels: { n: string } }).labels.n);
  const idx = new ListIndex(s, { accept, sortKey, desc: false });
  const items: PlainObject[] = [];
  for (let i = 0; i < 2000; i++) items.push(pod(`p-${i}`, { labels: { n: String(i % 97) } }));
  s.replace(items, '1');
  t.is(idx.length, 2000 - 200);
  t.is(idx.rebuilds, 1);
  const r = rng(7);
  for (let round = 0; round < 50; round++) {
    for (let k = 0; k < 10; k++) {
      const i = Math.floor(r() * 2500);
      if (r() < 0.2) s.apply({ type: 'DELETED', object: pod(`p-${i}`), resourceVersion: '' });
      else s.apply({ type: 'MODIFIED', object: pod(`p-${i}`, { labels: { n: String(Math.floor(r() * 500)) } }), resourceVersion: '' });
    }
    const expected = [...s.values()].filter(accept).map((o) => ({ key: `default/${(o.metadata as { name: string }).name}`, sk: sortKey(o) }));
    expected.sort((a, b) => a.sk - b.sk || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    t.deepEqual(idx.all().map((e) => e.key), expected.map((e) => e.key));
  }
  t.is(idx.rebuilds, 1, 'small batches are applied in place');
  const some = idx.at(100)!;
  t.is(idx.indexOf(some.key), 100);
  t.is(idx.indexOf('default/nope'), -1);
  idx.setSpec({ accept, sortKey, desc: true });
  t.true(sortKey(idx.at(0)!.obj) >= sortKey(idx.at(idx.length - 1)!.obj));
  t.is(idx.rebuilds, 2);
  idx.dispose();
});

test('filters: regex (case-insensitive), inverse, literal fallback, label selectors, bad selectors', (t) => {
  const labels = () => ({ app: 'web', tier: 'front' });
  const ok = (f: string, text: string) => filterAccepts(parseFilter(f), () => text, labels);
  t.true(ok('WEB', 'default web-1 Running'));
  t.true(ok('fred|web', 'web-1'));
  t.false(ok('^db', 'web-1'));
  t.false(ok('!web', 'web-1'));
  t.true(ok('!db', 'web-1'));
  t.true(ok('web-[', 'a web-[1'));
  t.true(ok('-l app=web', 'x'));
  t.true(ok('-l app in (web,api),tier!=db', 'x'));
  t.false(ok('-l app=api', 'x'));
  t.deepEqual(parseFilter('  '), { type: 'none' });
  t.is(parseFilter('-l app in (').type, 'invalid');
  t.true(ok('-l app in (', 'x'), 'an invalid selector hides nothing');
});

test('keys: ink input becomes one name per key, runs of typed text split into characters', (t) => {
  t.deepEqual(keyNames('', { return: true }), ['enter']);
  t.deepEqual(keyNames('', { escape: true }), ['esc']);
  t.deepEqual(keyNames('', { upArrow: true }), ['up']);
  t.deepEqual(keyNames('', { pageDown: true }), ['pgdn']);
  t.deepEqual(keyNames('d', { ctrl: true }), ['ctrl-d']);
  t.deepEqual(keyNames('N', { shift: true }), ['N']);
  t.deepEqual(keyNames(':pods\r', {}), [':', 'p', 'o', 'd', 's', 'enter']);
  t.deepEqual(keyNames('a\u007fb\u0004', {}), ['a', 'backspace', 'b', 'ctrl-d']);
  t.deepEqual(keyNames('', {}), []);
});

// ---- the feed ------------------------------------------------------------------------------

test('the feed lists, then watches from the list\'s version; a broken stream resumes from the last version on the next endpoint', async (t) => {
  const client = new FakeClient();
  const timers = new FakeTimers();
  client.put(pod('a'));
  const store = new ObjectStore('Pod');
  const states: string[] = [];
  const feed = new Feed('Pod', client, store, { timers, onState: (s) => states.push(`${s.phase}@${s.endpoint}`) });
  feed.start();
  await flush();
  t.is(store.size, 1);
  t.deepEqual(client.calls, ['list Pod', `watch Pod ${client.resourceVersion}`]);
  client.put(pod('b'));
  t.is(store.size, 2);
  const rv = store.resourceVersion;
  client.breakWatches(14, 'Connection dropped');
  t.is(feed.state.phase, 'backoff');
  t.is(feed.state.error, 'Connection dropped');
  t.is(feed.state.failures, 1);
  client.put(pod('c')); // happens while disconnected
  timers.advance(249);
  t.is(client.watchCount(), 0);
  timers.advance(1);
  t.is(client.watchCount(), 1);
  t.is(client.calls.at(-1), `watch Pod ${rv}`);
  t.is(feed.state.endpoint, '127.0.0.1:7002');
  t.deepEqual(states.slice(0, 4), ['listing@127.0.0.1:7001', 'watching@127.0.0.1:7001', 'backoff@127.0.0.1:7001', 'watching@127.0.0.1:7002']);
  t.is(store.size, 3, 'what changed while disconnected is replayed');
  t.is(feed.state.failures, 0, 'an event proves the stream healthy');
  // Backoff doubles while failures repeat.
  client.breakWatches();
  timers.advance(250);
  client.breakWatches();
  t.is(feed.state.failures, 2);
  t.is(feed.state.retryAt, timers.now() + 500);
  timers.advance(500);
  t.is(client.watchCount(), 1);
  feed.stop();
  t.is(client.watchCount(), 0);
  t.is(timers.size, 0);
});

test('the feed relists when its version is too old, and diffs the new list into the store', async (t) => {
  const client = new FakeClient();
  const timers = new FakeTimers();
  client.put(pod('a'));
  client.put(pod('b'));
  const store = new ObjectStore('Pod');
  const feed = new Feed('Pod', client, store, { timers });
  feed.start();
  await flush();
  client.breakWatches();
  client.remove('Pod', 'default/a');
  client.oldest = Number(client.resourceVersion) + 1;
  timers.advance(250);
  await flush();
  t.is(feed.state.phase, 'backoff');
  t.regex(feed.state.error!, /too old/);
  client.oldest = 0;
  timers.advance(500);
  await flush();
  t.is(feed.state.phase, 'watching');
  t.deepEqual([...store.values()].map((o) => (o.metadata as { name: string }).name), ['b']);
  t.is(client.calls.filter((c) => c === 'list Pod').length, 2);
  // A failed list is retried too.
  feed.stop();
});

// ---- the controller's redraws ------------------------------------------------------------

test('watch events are coalesced: a burst of updates redraws once per window, a key at once', async (t) => {
  const client = new FakeClient();
  client.statuses = [1, 2, 3].map((i) => replicaStatus(i, 1, 2, client.endpoints));
  const timers = new FakeTimers();
  const c = new Controller({ client, timers, context: 't', namespace: 'default', width: 100, height: 20, tickMs: 0, coalesceMs: 50 });
  let redraws = 0;
  c.subscribe(() => redraws++);
  c.start();
  await flush();
  timers.advance(50);
  const before = redraws;
  for (let i = 0; i < 500; i++) client.put(pod(`p-${i}`));
  t.is(redraws, before, 'nothing drawn synchronously');
  timers.advance(50);
  t.is(redraws, before + 1);
  for (let i = 0; i < 100; i++) {
    client.put(pod(`q-${i}`));
    timers.advance(1);
  }
  // 100 ms of steady updates: two windows.
  t.true(redraws - before - 1 <= 3, `${redraws - before - 1} redraws`);
  const k = redraws;
  c.key('j');
  t.is(redraws, k + 1);
  c.stop();
});

test('an open description is built once: scrolling reuses it; a related change or a second on the clock rebuilds it', async (t) => {
  const client = new FakeClient();
  const timers = new FakeTimers();
  client.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {}, status: { allocatable: { cpu: '4', memory: '8Gi' }, conditions: [{ type: 'Ready', status: 'True' }] } });
  for (let i = 0; i < 60; i++) client.put(pod(`p-${i}`, { node: 'node-1' }));
  const c = new Controller({ client, timers, context: 't', namespace: 'default', view: 'nodes', width: 100, height: 20, tickMs: 0 });
  c.start();
  await flush();
  timers.advance(20);
  await flush();
  c.key('d');
  await flush();
  timers.advance(20);
  c.screen();
  const built = c.textBuilds;
  t.true(c.text()!.lines.some((l) => l.includes('p-59')), 'the node\'s pods are listed');
  for (let i = 0; i < 10; i++) {
    c.key('j');
    c.screen();
  }
  t.is(c.textBuilds, built, 'scrolling does not describe again');
  client.put(pod('p-60', { node: 'node-1' }));
  timers.advance(20);
  c.screen();
  t.is(c.textBuilds, built + 1, 'a new pod on the node does');
  t.true(c.text()!.lines.some((l) => l.includes('p-60')));
  timers.advance(1000);
  c.text();
  t.is(c.textBuilds, built + 2, 'ages move with the clock');
  c.stop();
});

test('the selection follows its object when rows move; a deleted selection falls to the row in its place', async (t) => {
  const client = new FakeClient();
  const timers = new FakeTimers();
  for (const n of ['b', 'd', 'f']) client.put(pod(n));
  const c = new Controller({ client, timers, context: 't', namespace: 'default', width: 100, height: 20, tickMs: 0 });
  c.start();
  await flush();
  c.key('j');
  t.is(c.keyContext().selected?.key, 'default/d');
  client.put(pod('a'));
  client.put(pod('c'));
  c.screen();
  t.is(c.state.stack[0]!.cursor, 3);
  t.is(c.keyContext().selected?.key, 'default/d');
  client.remove('Pod', 'default/d');
  c.screen();
  t.is(c.keyContext().selected?.key, 'default/f');
  c.stop();
});

// ---- node requests, rows -----------------------------------------------------------------

test('node requests follow pods as they are bound, change and finish', (t) => {
  const pods = new ObjectStore('Pod');
  const u = new NodeUsage(pods);
  pods.apply({ type: 'ADDED', object: pod('a', { node: 'n1', cpu: '250m', memory: '128Mi' }), resourceVersion: '1' });
  pods.apply({ type: 'ADDED', object: pod('b', { node: 'n1', cpu: '1', memory: '1Gi' }), resourceVersion: '2' });
  pods.apply({ type: 'ADDED', object: pod('c'), resourceVersion: '3' });
  t.deepEqual(u.of('n1'), { pods: 2, cpu: 1250, memory: (128 + 1024) * 1024 * 1024 });
  pods.apply({ type: 'MODIFIED', object: pod('a', { node: 'n1', phase: 'Succeeded' }), resourceVersion: '4' });
  t.deepEqual(u.of('n1'), { pods: 1, cpu: 1000, memory: 1024 * 1024 * 1024 });
  pods.apply({ type: 'DELETED', object: pod('b', { node: 'n1' }), resourceVersion: '5' });
  t.deepEqual(u.of('n1'), { pods: 0, cpu: 0, memory: 0 });
  u.dispose();
});

test('rows: kubectl\'s columns rearranged, bars, tones', (t) => {
  const now = Date.parse('2025-01-01T00:10:00Z');
  const pods = tableSpec(viewById('pods'));
  t.deepEqual(pods.headers(true), ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'IP', 'NODE', 'AGE']);
  t.deepEqual(pods.cells(pod('a', { node: 'n1' }), { now, withNamespace: true }), ['default', 'a', '1/1', 'Running', '0', '10.0.0.1', 'n1', '10m']);
  t.is(podTone(pod('a')), 'ok');
  t.is(podTone(pod('a', { phase: 'Pending' })), 'warn');
  t.is(podTone(pod('a', { phase: 'Running', ready: false })), 'warn');
  const crash = pod('x');
  (crash.status as { containerStatuses: { state: unknown }[] }).containerStatuses[0]!.state = { waiting: { reason: 'CrashLoopBackOff' } };
  t.is(podTone(crash), 'error');
  t.is(podTone({ ...pod('t'), metadata: { ...(pod('t').metadata as object), deletionTimestamp: '2025-01-01T00:00:00Z' } }), 'busy');
  t.is(podTone(pod('s', { phase: 'Succeeded' })), 'dim');
  t.is(bar(0.5, 10), '█████░░░░░');
  t.is(bar(2, 4), '████');
  const d: PlainObject = { kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: { replicas: 4 }, status: { replicas: 5, updatedReplicas: 2, readyReplicas: 4, availableReplicas: 4 } };
  t.is(rolloutProgress(d), '█████░░░░░ 2/4');
  t.is(rolloutProgress({ ...d, status: { replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4 } }), '██████████ 4/4 ✓');
  t.deepEqual(tableSpec(viewById('deployments')).cells(d, { now, withNamespace: false }), ['web', '4/4', '2', '4', '█████░░░░░ 2/4', '10m']);
  const n: PlainObject = { kind: 'Node', metadata: { name: 'n1', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: {}, status: { allocatable: { cpu: '4', memory: '8Gi' }, conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1' } } };
  const store = new ObjectStore('Pod');
  store.replace([pod('a', { node: 'n1', cpu: '2', memory: '2Gi' })], '1');
  const cells = tableSpec(viewById('nodes')).cells(n, { now, withNamespace: false, usage: new NodeUsage(store) });
  t.deepEqual(cells, ['n1', 'Ready', '<none>', '1', '█████░░░░░  50% 2000m/4000m', '███░░░░░░░  25% 2Gi/8Gi', '10m', 'v1']);
  t.is(tableSpec(viewById('nodes')).tone({ ...n, spec: { unschedulable: true } }), 'warn');
  const rows = containerRows(pod('a'), now);
  t.deepEqual(rows.map((r) => r.cells), [['app', 'false', 'nginx', 'true', 'Running', '0', '10m']]);
});

test('cluster rows: role, term, indexes, lag, the leader, and each replica\'s RPC health', async (t) => {
  const client = new FakeClient();
  client.statuses = [replicaStatus(1, 2, 7, client.endpoints), replicaStatus(2, 2, 7, client.endpoints), new Error('connect ECONNREFUSED')];
  const snap = await pollCluster(client, () => 1000, () => 0);
  t.is(snap.leader, 2);
  t.is(snap.term, 7);
  t.is(snap.leaderEndpoint, '127.0.0.1:7002');
  const rows = clusterRows(snap);
  t.deepEqual(rows.map((r) => r.cells.slice(0, 7)), [
    ['1', 'follower', '7', '42', '42', '0', ''],
    ['2', 'leader', '7', '42', '42', '0', '*'],
    ['3', 'unreachable', '-', '-', '-', '0', ''],
  ]);
  t.deepEqual(rows.map((r) => r.cells[9]), ['ok 0ms', 'ok 0ms', 'down: connect ECONNREFUSED']);
  t.deepEqual(rows.map((r) => r.tone), ['normal', 'ok', 'error']);
  t.is(rows[2]!.cells[7], '127.0.0.1:7003');
});

// ---- describe, yaml ------------------------------------------------------------------------

test('describe: a pod\'s essentials, containers, conditions and its events', (t) => {
  const p = pod('web-1', { node: 'n1' });
  const ev: PlainObject = { kind: 'Event', metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'uid-web-1' }, type: 'Normal', reason: 'Scheduled', message: 'assigned to n1', lastTimestamp: '2025-01-01T00:05:00Z', source: { component: 'scheduler' } };
  t.true(eventConcerns(ev, p));
  t.false(eventConcerns({ ...ev, involvedObject: { kind: 'Pod', name: 'web-2', uid: 'uid-web-2' } }, p));
  const text = describeLines(p, related({ events: [ev, { ...ev, involvedObject: { kind: 'Pod', name: 'web-2', namespace: 'default' }, message: 'not me' }] }), Date.parse('2025-01-01T00:10:00Z')).join('\n');
  // The CLI's describer lays it out; the TUI supplies the events from its store.
  for (const re of [/^Name: +web-1$/m, /^Namespace: +default$/m, /^Node: +n1/m, /^Status: +Running$/m, /^Containers:$/m, /^ {2}app:$/m, /Image: +nginx/, /cpu: +100m/, /Normal +Scheduled .* scheduler +assigned to n1/]) t.regex(text, re);
  t.false(text.includes('not me'));
});

test('describe and YAML never show secret values unless revealed', (t) => {
  const secret: PlainObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default', managedFields: [{ manager: 'x' }] }, type: 'Opaque', data: { password: Buffer.from('hunter2').toString('base64') } };
  const described = describeLines(secret, related(), 0).join('\n');
  t.false(described.includes('hunter2'));
  t.false(described.includes(Buffer.from('hunter2').toString('base64')));
  t.regex(described, /password: +7 bytes/);
  const hidden = yamlLines(secret, false).join('\n');
  t.false(hidden.includes('hunter2'));
  t.false(hidden.includes('aHVudGVyMg'));
  t.true(hidden.includes('<hidden: 7 bytes; press x to reveal>'));
  t.false(hidden.includes('managedFields'));
  t.true(yamlLines(secret, true).join('\n').includes('password: hunter2'));
  const d: PlainObject = { kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'd1' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } }, status: { replicas: 2, updatedReplicas: 2, availableReplicas: 2 } };
  const rss = [1, 2].map((r): PlainObject => ({
    kind: 'ReplicaSet',
    metadata: { name: `web-${r}`, namespace: 'shop', creationTimestamp: `2025-01-01T00:0${r}:00Z`, annotations: { 'deployment.kubernetes.io/revision': String(r) }, ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'd1', controller: true }] },
    spec: { replicas: r === 2 ? 2 : 0, template: { metadata: { labels: { app: 'web', 'pod-template-hash': `h${r}` } }, spec: { containers: [{ name: 'web', image: r === 2 ? 'nginx:1.27' : 'nginx:1.26' }] } } },
    status: { replicas: r === 2 ? 2 : 0 },
  }));
  const dt = describeLines(d, related({ replicaSets: rss }), 0).join('\n');
  t.regex(dt, /Replicas: +2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable/);
  t.regex(dt, /NewReplicaSet: +web-2 \(2\/2 replicas created\)/);
  t.regex(dt, /OldReplicaSets: +web-1 \(0\/0 replicas created\)/);
  t.regex(dt, /Selector: +app=web/);
  t.regex(dt, /Events: +<none>/);
});

// ---- actions --------------------------------------------------------------------------------

function deployment(client: FakeClient, template: string): void {
  client.put({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'uid-web', annotations: { 'deployment.kubernetes.io/revision': '2' } }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: template }] } } } });
}

function replicaSet(client: FakeClient, revision: number, image: string, hash: string): void {
  client.put({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: `web-${hash}`, namespace: 'shop', uid: `uid-rs-${revision}`, annotations: { 'deployment.kubernetes.io/revision': String(revision) }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }] },
    spec: { replicas: revision === 2 ? 2 : 0, selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } }, template: { metadata: { labels: { app: 'web', 'pod-template-hash': hash } }, spec: { containers: [{ name: 'web', image }] } } },
  });
}

const web = { kind: 'Deployment', namespace: 'shop', name: 'web', key: 'shop/web' };

test('actions: scale, restart (restartedAt annotation), rollback to the previous revision, delete, cordon, transfer', async (t) => {
  const client = new FakeClient();
  deployment(client, 'nginx:1.27');
  t.is(await scale(client, web, 5), 'deployment/web scaled to 5');
  t.is(((await client.get('Deployment', 'shop', 'web')).spec as { replicas: number }).replicas, 5);
  const now = Date.parse('2025-03-04T05:06:07Z');
  await restart(client, web, now);
  const restarted = await client.get('Deployment', 'shop', 'web');
  t.is((restarted.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations[RESTARTED_AT], '2025-03-04T05:06:07.000Z');
  // Rollback: revision 1 had nginx:1.26; the deployment runs revision 2's template.
  const c2 = new FakeClient();
  deployment(c2, 'nginx:1.27');
  replicaSet(c2, 1, 'nginx:1.26', 'aaa');
  replicaSet(c2, 2, 'nginx:1.27', 'bbb');
  t.is(await rollback(c2, web), 'deployment/web rolled back to revision 1');
  const rolled = await c2.get('Deployment', 'shop', 'web');
  const tmpl = (rolled.spec as { template: { metadata: { labels: Record<string, string> }; spec: { containers: { image: string }[] } } }).template;
  t.is(tmpl.spec.containers[0]!.image, 'nginx:1.26');
  t.deepEqual(tmpl.metadata.labels, { app: 'web' }, 'no pod-template-hash label');
  await t.throwsAsync(rollback(new FakeClient(), web), { message: /not found/ });
  const lonely = new FakeClient();
  deployment(lonely, 'nginx:1.27');
  await t.throwsAsync(rollback(lonely, web), { message: /no rollout history/ });
  // Delete, cordon.
  t.is(await remove(c2, web), 'deployment/web deleted');
  await t.throwsAsync(c2.get('Deployment', 'shop', 'web'));
  client.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {} });
  const n1 = { kind: 'Node', namespace: '', name: 'n1', key: 'n1' };
  t.is(await cordon(client, n1, true), 'node/n1 cordoned');
  t.is(((await client.get('Node', '', 'n1')).spec as { unschedulable?: boolean }).unschedulable, true);
  t.is(await cordon(client, n1, false), 'node/n1 uncordoned');
  t.false('unschedulable' in ((await client.get('Node', '', 'n1')).spec as object));
  client.statuses = [replicaStatus(1, 1, 3, client.endpoints)];
  t.is(await transfer(client, 2), 'replica 2 now leads (term 3)');
});

test('a read-modify-write retries when someone else wrote in between', async (t) => {
  const client = new FakeClient();
  deployment(client, 'nginx');
  let interfered = false;
  const realUpdate = client.update.bind(client);
  client.update = async (obj) => {
    if (!interfered) {
      interfered = true;
      client.put({ ...(await client.get('Deployment', 'shop', 'web')), metadata: { ...((await client.get('Deployment', 'shop', 'web')).metadata as object), labels: { x: '1' } } });
    }
    return realUpdate(obj);
  };
  await scale(client, web, 7);
  const d = await client.get('Deployment', 'shop', 'web');
  t.is((d.spec as { replicas: number }).replicas, 7);
  t.deepEqual((d.metadata as { labels: object }).labels, { x: '1' });
  t.is(client.calls.filter((c) => c.startsWith('update')).length, 2);
});

// ---- logs -----------------------------------------------------------------------------------

test('the log buffer joins lines across chunks, caps its size, and reports the end and errors', async (t) => {
  const client = new FakeClient();
  client.logLines = ['one', 'two', 'three'];
  let changes = 0;
  const s = new LogSession(client, 'default', 'web', 'app', 2, false, () => changes++);
  s.start();
  await flush();
  t.deepEqual(s.all(), ['two', 'three']);
  t.is(s.phase, 'streaming');
  client.emitLog('fo');
  client.emitLog('ur\nfi');
  t.deepEqual(s.all(), ['two', 'three', 'four', 'fi']);
  client.emitLog(`ve\n${'x\n'.repeat(6000)}`);
  t.is(s.all().length, 5000);
  t.true(changes >= 3);
  s.stop();
  const none = new LogSession({}, 'default', 'web', 'app', 10, false, () => {});
  none.start();
  t.is(none.phase, 'error');
  t.regex(none.error!, /no log API/);
  const failing = new LogSession({ logs: () => ({ done: Promise.reject(new Error('container "app" is waiting to start')), cancel: () => {} }) }, 'default', 'web', 'app', 10, false, () => {});
  failing.start();
  await flush();
  t.is(failing.phase, 'error');
  t.is(failing.error, 'container "app" is waiting to start');
});

// ---- text on screen -------------------------------------------------------------------------

test('text from the cluster cannot move the cursor or restyle the terminal; widths count wide characters', (t) => {
  t.is(sanitize('plain'), 'plain');
  t.is(sanitize('\u001b[31mred\u001b[0m and \u001b]0;title\u0007 bell\u0007'), 'red and  bell');
  t.is(sanitize('a\tb\r'), 'a    b');
  t.is(displayWidth('abc'), 3);
  t.is(displayWidth('日本'), 4);
  t.is(displayWidth('█░…✓'), 4);
  t.is(clip('abcdef', 4), 'abc…');
  t.is(clip('日本語', 5), '日本…');
  t.is(clip('abc', 4), 'abc');
  t.is(fit('ab', 4), 'ab  ');
  t.deepEqual(wrapLines(['abcdefg', '', '日本語x'], 3), ['abc', 'def', 'g', '', '日', '本', '語x']);
  t.deepEqual(wrapLines(['\u001b[1mbold\u001b[0m'], 10), ['bold']);
});
