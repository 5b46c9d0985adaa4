/**
 * The TUI's reducer, key by key and view by view: pure state in, state and effects out,
 * no terminal and no cluster.
 */
import test from 'ava';
import type { PlainObject } from '../src/client/client.ts';
import { reduceKey, runCommand, TAILS } from '../src/tui/reducer.ts';
import { helpLines } from '../src/tui/screen.ts';
import { clampView, initialState, newFrame, topFrame, type KeyContext, type Selected, type UiState } from '../src/tui/state.ts';
import { VIEWS, viewByAlias, viewById } from '../src/tui/views.ts';

function ctx(rows = 10, selected?: Selected, extra: Partial<KeyContext> = {}): KeyContext {
  return { rows, pageSize: 5, textPage: 6, textLines: 0, keyAt: (i) => (i >= 0 && i < rows ? `default/row-${i}` : undefined), selected, ...extra };
}

/** Presses keys in order with the same context; returns the last state and every effect. */
function press(s: UiState, keys: string[], c: KeyContext = ctx()): { state: UiState; effects: ReturnType<typeof reduceKey>['effects'] } {
  let state = s;
  const effects: ReturnType<typeof reduceKey>['effects'] = [];
  for (const k of keys) {
    const r = reduceKey(state, k, c);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

const chars = (s: string) => [...s];
const on = (view: string) => ({ ...initialState(view, 'default') });

const pod = (name: string, containers = ['app'], ns = 'default'): PlainObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, uid: `uid-${name}` },
  spec: { nodeName: 'node-1', containers: containers.map((c) => ({ name: c, image: 'nginx' })) },
});
const deploy: PlainObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'uid-web' }, spec: { replicas: 3 } };
const rs: PlainObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-abc', namespace: 'shop', uid: 'uid-rs' }, spec: { replicas: 2 } };
const node = (unschedulable?: boolean): PlainObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', uid: 'uid-n1' }, spec: unschedulable ? { unschedulable } : {} });
const sel = (o: PlainObject, extra: Partial<Selected> = {}): Selected => ({ key: `${(o.metadata as { namespace?: string }).namespace ?? ''}/${(o.metadata as { name: string }).name}`, obj: o, ...extra });

// ---- commands ---------------------------------------------------------------------------

test('every k9s alias and kubectl short name opens its view', (t) => {
  const cases: [string, string][] = [
    ['pods', 'pods'], ['po', 'pods'], ['pod', 'pods'],
    ['deploy', 'deployments'], ['dp', 'deployments'], ['deployments', 'deployments'], ['deployments.apps', 'deployments'],
    ['rs', 'replicasets'], ['replicasets', 'replicasets'],
    ['jobs', 'jobs'], ['job', 'jobs'],
    ['svc', 'services'], ['services', 'services'],
    ['cm', 'configmaps'], ['configmaps', 'configmaps'],
    ['secrets', 'secrets'], ['sec', 'secrets'],
    ['events', 'events'], ['ev', 'events'],
    ['nodes', 'nodes'], ['no', 'nodes'],
    ['ns', 'namespaces'], ['namespaces', 'namespaces'],
    ['cluster', 'cluster'], ['cj', 'cronjobs'], ['hpa', 'horizontalpodautoscalers'], ['ep', 'endpoints'],
  ];
  for (const [alias, view] of cases) {
    const { state } = press(on('pods'), [':', ...chars(alias), 'enter']);
    t.is(topFrame(state).view, view, alias);
    t.is(state.stack.length, 1);
    t.is(state.mode.type, 'normal');
  }
  t.is(viewByAlias('PODS')?.id, 'pods');
  t.is(viewByAlias('containers'), undefined);
});

test(':VIEW NS switches namespace, :VIEW all shows every namespace, :ns NS stays on the view', (t) => {
  t.is(press(on('pods'), [':', ...chars('deploy kube-system'), 'enter']).state.namespace, 'kube-system');
  const all = press(on('pods'), [':', ...chars('pods all'), 'enter']).state;
  t.is(all.namespace, '');
  t.is(topFrame(all).view, 'pods');
  const ns = press(on('deployments'), [':', ...chars('ns shop'), 'enter']).state;
  t.is(ns.namespace, 'shop');
  t.is(topFrame(ns).view, 'deployments');
  // Nodes are cluster-scoped: an argument does not change the namespace.
  t.is(press(on('pods'), [':', ...chars('nodes shop'), 'enter']).state.namespace, 'default');
});

test(':q quits, unknown commands say so, esc leaves the prompt, tab completes', (t) => {
  const q = press(on('pods'), [':', 'q', 'enter']);
  t.true(q.state.quit);
  t.deepEqual(q.effects, [{ type: 'quit' }]);
  const bad = press(on('pods'), [':', ...chars('bogus'), 'enter']).state;
  t.is(bad.flash?.level, 'error');
  t.regex(bad.flash!.text, /Unknown command "bogus"/);
  t.is(topFrame(bad).view, 'pods');
  const esc = press(on('pods'), [':', 'd', 'esc']).state;
  t.is(esc.mode.type, 'normal');
  t.is(topFrame(esc).view, 'pods');
  const tab = press(on('pods'), [':', 'c', 'l', 'tab']).state;
  t.deepEqual(tab.mode, { type: 'command', text: 'cluster' });
  const typed = press(on('pods'), [':', 's', 'v', 'c', 'x', 'backspace']).state;
  t.deepEqual(typed.mode, { type: 'command', text: 'svc' });
  t.deepEqual(press(on('pods'), [':', 'a', 'b', 'ctrl-u']).state.mode, { type: 'command', text: '' });
  t.true(press(on('pods'), ['ctrl-c']).state.quit);
  t.is(runCommand(on('pods'), 'help').state.overlay?.type, 'help');
});

// ---- filter -------------------------------------------------------------------------------

test('/ filters as you type; enter keeps the filter, esc clears it; esc in the view clears before going back', (t) => {
  const typing = press(on('pods'), ['/', 'w', 'e', 'b']).state;
  t.is(typing.mode.type, 'filter');
  t.is(topFrame(typing).filter, 'web');
  const kept = press(typing, ['enter']).state;
  t.is(kept.mode.type, 'normal');
  t.is(topFrame(kept).filter, 'web');
  t.is(topFrame(press(typing, ['esc']).state).filter, '');
  // A label selector and an inverse filter are just text to the reducer.
  t.is(topFrame(press(on('pods'), ['/', ...chars('-l app=web'), 'enter']).state).filter, '-l app=web');
  t.is(topFrame(press(on('pods'), ['/', '!', 'x', 'backspace', 'y', 'enter']).state).filter, '!y');
  // In a drilled-down view: esc clears the filter first, then goes back.
  const drilled = { ...on('deployments'), stack: [newFrame('deployments'), { ...newFrame('replicasets'), filter: 'abc' }] };
  const once = press(drilled, ['esc']).state;
  t.is(once.stack.length, 2);
  t.is(topFrame(once).filter, '');
  t.is(press(once, ['esc']).state.stack.length, 1);
  t.is(press(once, ['q']).state.stack.length, 1);
  // At the root, esc and q stay.
  t.is(press(on('pods'), ['esc', 'q']).state.stack.length, 1);
  // Filters may contain keys that are commands elsewhere.
  t.is(topFrame(press(on('pods'), ['/', ':', '?', 'q', 'd', 'enter']).state).filter, ':?qd');
});

// ---- moving --------------------------------------------------------------------------------

test('cursor keys move, page and jump within the rows, remember the selected key, and keep the cursor on screen', (t) => {
  const c = ctx(12);
  let s = press(on('pods'), ['j', 'down', 'j'], c).state;
  t.is(topFrame(s).cursor, 3);
  t.is(topFrame(s).selectedKey, 'default/row-3');
  s = press(s, ['k', 'up'], c).state;
  t.is(topFrame(s).cursor, 1);
  s = press(s, ['pgdn'], c).state;
  t.is(topFrame(s).cursor, 6);
  t.is(topFrame(s).top, 2);
  s = press(s, ['ctrl-f', 'ctrl-f'], c).state;
  t.is(topFrame(s).cursor, 11);
  s = press(s, ['pgup', 'ctrl-b'], c).state;
  t.is(topFrame(s).cursor, 1);
  s = press(s, ['G'], c).state;
  t.deepEqual([topFrame(s).cursor, topFrame(s).top], [11, 7]);
  s = press(s, ['g'], c).state;
  t.deepEqual([topFrame(s).cursor, topFrame(s).top], [0, 0]);
  s = press(s, ['end', 'home', 'k'], c).state;
  t.is(topFrame(s).cursor, 0);
  t.is(topFrame(press(on('pods'), ['j', 'j'], ctx(0)).state).cursor, 0);
  t.deepEqual(clampView(20, 0, 10, 4), { cursor: 9, top: 6 });
  t.deepEqual(clampView(2, 8, 10, 4), { cursor: 2, top: 2 });
});

// ---- sorting -----------------------------------------------------------------------------

test('shift-letters sort by their column; the same letter again reverses', (t) => {
  let s = press(on('pods'), ['S']).state;
  t.deepEqual(topFrame(s).sort, { column: 'STATUS', desc: false });
  s = press(s, ['S']).state;
  t.deepEqual(topFrame(s).sort, { column: 'STATUS', desc: true });
  s = press(s, ['A']).state;
  t.deepEqual(topFrame(s).sort, { column: 'AGE', desc: false });
  for (const [k, col] of [['N', 'NAME'], ['R', 'READY'], ['T', 'RESTARTS'], ['O', 'NODE'], ['I', 'IP']]) t.is(topFrame(press(on('pods'), [k!]).state).sort.column, col);
  for (const [k, col] of [['C', 'CPU'], ['M', 'MEMORY'], ['P', 'PODS'], ['S', 'STATUS']]) t.is(topFrame(press(on('nodes'), [k!]).state).sort.column, col);
  t.is(topFrame(press(on('events'), ['S']).state).sort.column, 'TYPE');
  t.deepEqual(topFrame(on('events')).sort, { column: 'LAST SEEN', desc: false });
  // A letter a view does not sort by changes nothing.
  t.deepEqual(topFrame(press(on('configmaps'), ['S']).state).sort, { column: 'NAME', desc: false });
  t.is(topFrame(press(on('cluster'), ['N']).state).sort.column, 'ID');
});

// ---- per view actions ---------------------------------------------------------------------

test('pods: enter opens containers, l opens logs (or asks which container), d describes, y shows YAML', (t) => {
  const one = pod('web-1');
  const drilled = press(on('pods'), ['enter'], ctx(1, sel(one))).state;
  t.is(topFrame(drilled).view, 'containers');
  t.deepEqual(topFrame(drilled).scope, { type: 'pod', label: 'pod default/web-1', namespace: 'default', pod: 'default/web-1' });
  const logs = press(on('pods'), ['l'], ctx(1, sel(one)));
  t.like(logs.state.overlay, { type: 'logs', container: 'app', follow: true, wrap: false, tail: 100 });
  t.deepEqual(logs.effects, [{ type: 'logs', target: { kind: 'Pod', namespace: 'default', name: 'web-1', key: 'default/web-1' }, container: 'app', tail: 100, timestamps: false }]);
  const two = press(on('pods'), ['l'], ctx(1, sel(pod('web-2', ['app', 'sidecar']))));
  t.is(topFrame(two.state).view, 'containers');
  t.deepEqual(two.effects, []);
  t.regex(two.state.flash!.text, /2 containers/);
  t.like(press(on('pods'), ['d'], ctx(1, sel(one))).state.overlay, { type: 'describe', target: { kind: 'Pod', key: 'default/web-1' } });
  t.like(press(on('pods'), ['y'], ctx(1, sel(one))).state.overlay, { type: 'yaml', reveal: false });
  // Nothing selected (an empty view): a message, no action.
  t.is(press(on('pods'), ['d'], ctx(0)).state.flash?.text, 'Nothing selected');
});

test('delete asks first: y deletes, anything else cancels', (t) => {
  const one = pod('web-1');
  const asked = press(on('pods'), ['ctrl-d'], ctx(1, sel(one))).state;
  t.deepEqual(asked.mode, { type: 'confirm', message: 'Delete pod default/web-1?', effect: { type: 'delete', target: { kind: 'Pod', namespace: 'default', name: 'web-1', key: 'default/web-1' } } });
  const yes = press(asked, ['y']);
  t.deepEqual(yes.effects, [{ type: 'delete', target: { kind: 'Pod', namespace: 'default', name: 'web-1', key: 'default/web-1' } }]);
  t.is(yes.state.mode.type, 'normal');
  for (const k of ['n', 'esc', 'enter', 'd']) {
    const no = press(asked, [k]);
    t.deepEqual(no.effects, [], k);
    t.is(no.state.flash?.text, 'Cancelled');
  }
  for (const v of ['deployments', 'replicasets', 'jobs', 'services', 'configmaps', 'secrets', 'events', 'nodes', 'namespaces']) {
    t.is(press(on(v), ['ctrl-d'], ctx(1, sel(deploy))).state.mode.type, 'confirm', v);
  }
});

test('deployments: enter lists its ReplicaSets, s scales, r restarts, ctrl-l rolls back', (t) => {
  const c = ctx(1, sel(deploy));
  const drilled = press(on('deployments'), ['enter'], c).state;
  t.is(topFrame(drilled).view, 'replicasets');
  t.deepEqual(topFrame(drilled).scope, { type: 'owner', label: 'deployment shop/web', namespace: 'shop', uid: 'uid-web' });
  const target = { kind: 'Deployment', namespace: 'shop', name: 'web', key: 'shop/web' };
  const prompt = press(on('deployments'), ['s'], c).state;
  t.deepEqual(prompt.mode, { type: 'scale', text: '3', target });
  const scaled = press(prompt, ['backspace', '5', 'x', '0', 'enter'], c);
  t.deepEqual(scaled.effects, [{ type: 'scale', target, replicas: 50 }]);
  t.is(press(prompt, ['esc'], c).effects.length, 0);
  const bad = press(prompt, ['backspace', 'enter'], c);
  t.deepEqual(bad.effects, []);
  t.is(bad.state.flash?.level, 'error');
  const restart = press(on('deployments'), ['r', 'y'], c);
  t.deepEqual(restart.effects, [{ type: 'restart', target }]);
  const rollback = press(on('deployments'), ['ctrl-l'], c);
  t.regex((rollback.state.mode as { message: string }).message, /previous revision/);
  t.deepEqual(press(rollback.state, ['y'], c).effects, [{ type: 'rollback', target }]);
});

test('replicasets and jobs drill into their pods; replicasets scale', (t) => {
  const drilled = press(on('replicasets'), ['enter'], ctx(1, sel(rs))).state;
  t.is(topFrame(drilled).view, 'pods');
  t.deepEqual(topFrame(drilled).scope, { type: 'owner', label: 'replicaset shop/web-abc', namespace: 'shop', uid: 'uid-rs' });
  t.deepEqual(press(on('replicasets'), ['s', 'backspace', '4', 'enter'], ctx(1, sel(rs))).effects, [{ type: 'scale', target: { kind: 'ReplicaSet', namespace: 'shop', name: 'web-abc', key: 'shop/web-abc' }, replicas: 4 }]);
  const job: PlainObject = { kind: 'Job', metadata: { name: 'pi', namespace: 'default', uid: 'uid-pi' } };
  t.like(topFrame(press(on('jobs'), ['enter'], ctx(1, sel(job))).state), { view: 'pods', scope: { type: 'owner', uid: 'uid-pi' } });
  // Scaling is not a key of jobs.
  t.is(press(on('jobs'), ['s'], ctx(1, sel(job))).state.mode.type, 'normal');
});

test('services drill into the pods they select; nodes into their pods; c cordons and uncordons', (t) => {
  const svc: PlainObject = { kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' } } };
  t.like(topFrame(press(on('services'), ['enter'], ctx(1, sel(svc))).state), { view: 'pods', scope: { type: 'selector', namespace: 'shop', selector: { app: 'web' } } });
  const headless: PlainObject = { kind: 'Service', metadata: { name: 'ext', namespace: 'shop' }, spec: {} };
  t.regex(press(on('services'), ['enter'], ctx(1, sel(headless))).state.flash!.text, /no selector/);
  t.like(topFrame(press(on('nodes'), ['enter'], ctx(1, sel(node()))).state), { view: 'pods', scope: { type: 'node', node: 'node-1' } });
  const target = { kind: 'Node', namespace: '', name: 'node-1', key: 'node-1' };
  t.deepEqual(press(on('nodes'), ['c'], ctx(1, sel(node()))).effects, [{ type: 'cordon', target, unschedulable: true }]);
  t.deepEqual(press(on('nodes'), ['c'], ctx(1, sel(node(true)))).effects, [{ type: 'cordon', target, unschedulable: false }]);
  // c means nothing on pods.
  t.deepEqual(press(on('pods'), ['c'], ctx(1, sel(pod('a')))).effects, []);
});

test('secrets: y hides values, x reveals them on purpose, x in the YAML view toggles', (t) => {
  const secret: PlainObject = { kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { password: 'aHVudGVyMg==' } };
  t.like(press(on('secrets'), ['y'], ctx(1, sel(secret))).state.overlay, { type: 'yaml', reveal: false });
  const revealed = press(on('secrets'), ['x'], ctx(1, sel(secret))).state;
  t.like(revealed.overlay, { type: 'yaml', reveal: true });
  t.like(press(revealed, ['x']).state.overlay, { type: 'yaml', reveal: false });
  // x does nothing on a ConfigMap's YAML.
  const cm: PlainObject = { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } };
  const cmYaml = press(on('configmaps'), ['y'], ctx(1, sel(cm))).state;
  t.like(press(cmYaml, ['x']).state.overlay, { type: 'yaml', reveal: false });
  t.is(press(on('configmaps'), ['x'], ctx(1, sel(cm))).state.overlay, undefined);
});

test('namespaces: enter uses the namespace (pods); 0 shows every namespace', (t) => {
  const ns: PlainObject = { kind: 'Namespace', metadata: { name: 'shop' } };
  const used = press(on('namespaces'), ['enter'], ctx(1, sel(ns))).state;
  t.is(used.namespace, 'shop');
  t.is(topFrame(used).view, 'pods');
  for (const v of ['pods', 'deployments', 'replicasets', 'jobs', 'services', 'configmaps', 'secrets', 'events']) t.is(press(on(v), ['0']).state.namespace, '', v);
  // Nodes and namespaces are not namespaced: 0 is not one of their keys.
  t.is(press(on('nodes'), ['0']).state.namespace, 'default');
});

test('containers: enter and l open that container\'s logs; d and y show the pod', (t) => {
  const p = pod('web-2', ['app', 'sidecar']);
  const s = { ...on('pods'), stack: [newFrame('pods'), newFrame('containers', { type: 'pod', label: 'pod default/web-2', pod: 'default/web-2' })] };
  const c = ctx(2, { key: 'sidecar', container: 'sidecar', obj: p });
  for (const k of ['enter', 'l']) {
    const r = press(s, [k], c);
    t.like(r.state.overlay, { type: 'logs', container: 'sidecar' });
    t.like(r.effects[0], { type: 'logs', container: 'sidecar', target: { key: 'default/web-2' } });
  }
  t.like(press(s, ['d'], c).state.overlay, { type: 'describe', target: { kind: 'Pod', key: 'default/web-2' } });
  t.like(press(s, ['y'], c).state.overlay, { type: 'yaml', target: { kind: 'Pod' } });
  t.is(press(s, ['esc'], c).state.stack.length, 1);
});

test('cluster: t transfers leadership to the selected follower after asking; y shows its status', (t) => {
  const follower = ctx(3, { key: 'replica:3', memberId: 3, isLeader: false });
  const asked = press(on('cluster'), ['t'], follower).state;
  t.deepEqual(asked.mode, { type: 'confirm', message: 'Transfer leadership to replica 3?', effect: { type: 'transfer', id: 3 } });
  t.deepEqual(press(asked, ['y']).effects, [{ type: 'transfer', id: 3 }]);
  const leader = press(on('cluster'), ['t'], ctx(3, { key: 'replica:1', memberId: 1, isLeader: true })).state;
  t.is(leader.mode.type, 'normal');
  t.regex(leader.flash!.text, /already leads/);
  t.deepEqual(press(on('cluster'), ['y'], follower).state.overlay, { type: 'member', id: 3, top: 0 });
  t.deepEqual(press(on('cluster'), ['d', 'ctrl-d', 's'], follower).effects, []);
});

test('events and config maps describe and show YAML', (t) => {
  const ev: PlainObject = { kind: 'Event', metadata: { name: 'e1', namespace: 'default' } };
  t.like(press(on('events'), ['d'], ctx(1, sel(ev))).state.overlay, { type: 'describe' });
  t.like(press(on('events'), ['y'], ctx(1, sel(ev))).state.overlay, { type: 'yaml' });
  const cm: PlainObject = { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } };
  t.like(press(on('configmaps'), ['d'], ctx(1, sel(cm))).state.overlay, { type: 'describe', target: { kind: 'ConfigMap' } });
});

// ---- text views ----------------------------------------------------------------------------

test('help lists every key of the current view, and closes with esc, q or ?', (t) => {
  for (const v of VIEWS) {
    const s = on(v.id);
    const opened = press(s, ['?']).state;
    t.deepEqual(opened.overlay, { type: 'help', top: 0 });
    const text = helpLines(opened).join('\n');
    for (const b of v.bindings) t.true(text.includes(`  ${b.key} `) && text.includes(b.help), `${v.id}: ${b.key}`);
    for (const x of v.sorts) t.true(text.includes(`by ${x.column}`), `${v.id}: sort ${x.key}`);
    for (const k of ['esc', 'q', '?']) t.is(press(opened, [k]).state.overlay, undefined);
  }
});

test('describe and YAML views scroll within their lines', (t) => {
  const s = { ...on('pods'), overlay: { type: 'describe' as const, target: { kind: 'Pod', namespace: 'default', name: 'a', key: 'default/a' }, top: 0 } };
  const c = ctx(1, undefined, { textLines: 20, textPage: 6 });
  t.is((press(s, ['j', 'down'], c).state.overlay as { top: number }).top, 2);
  t.is((press(s, ['G'], c).state.overlay as { top: number }).top, 14);
  t.is((press(s, ['G', 'pgup'], c).state.overlay as { top: number }).top, 8);
  t.is((press(s, ['pgdn', 'pgdn', 'pgdn', 'pgdn'], c).state.overlay as { top: number }).top, 14);
  t.is((press(s, ['G', 'g'], c).state.overlay as { top: number }).top, 0);
  t.is((press(s, ['k'], c).state.overlay as { top: number }).top, 0);
  t.is(press(s, ['q'], c).state.overlay, undefined);
  // Keys of the table do nothing under a text view.
  t.is(topFrame(press(s, ['S', 'enter'], c).state).sort.column, 'NAME');
});

test('logs: f follow, w wrap, t timestamps, 1 2 3 0 tail; scrolling up stops following; esc stops the stream', (t) => {
  const opened = press(on('pods'), ['l'], ctx(1, sel(pod('web-1')))).state;
  const c = ctx(1, undefined, { textLines: 50, textPage: 10 });
  const target = { kind: 'Pod', namespace: 'default', name: 'web-1', key: 'default/web-1' };
  t.like(press(opened, ['f'], c).state.overlay, { follow: false, top: 40 });
  t.like(press(opened, ['f', 'f'], c).state.overlay, { follow: true });
  t.like(press(opened, ['w'], c).state.overlay, { wrap: true });
  t.like(press(opened, ['w', 'w'], c).state.overlay, { wrap: false });
  const ts = press(opened, ['t'], c);
  t.like(ts.state.overlay, { timestamps: true });
  t.deepEqual(ts.effects, [{ type: 'logs', target, container: 'app', tail: 100, timestamps: true }]);
  for (const [k, n] of Object.entries(TAILS)) {
    const r = press(opened, [k], c);
    t.like(r.state.overlay, { tail: n, follow: true });
    t.deepEqual(r.effects, [{ type: 'logs', target, container: 'app', tail: n, timestamps: false }]);
  }
  const up = press(opened, ['k'], c).state;
  t.like(up.overlay, { follow: false, top: 39 });
  t.like(press(up, ['G'], c).state.overlay, { follow: true, top: 40 });
  const closed = press(opened, ['esc'], c);
  t.is(closed.state.overlay, undefined);
  t.deepEqual(closed.effects, [{ type: 'stopLogs' }]);
});

test('every view has a definition the reducer can open; every binding is reachable', (t) => {
  for (const v of VIEWS) {
    t.is(viewById(v.id), v);
    const keys = v.bindings.map((b) => b.key);
    t.is(new Set(keys).size, keys.length, `${v.id}: duplicate key`);
    for (const x of v.sorts) t.false(keys.includes(x.key), `${v.id}: ${x.key} is both a sort and an action`);
  }
});
