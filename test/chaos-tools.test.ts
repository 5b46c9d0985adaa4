/**
 * The chaos runner's instruments: the fault-injecting proxy (pass, blackhole with late
 * delivery on heal, reset, delay with order kept, attribution of a connection to the
 * process that opened it) and the replica's fault clock (jumps, stalls, rate).
 */
import test from 'ava';
import * as net from 'node:net';
import { FaultProxy, LinkTable, socketOwner } from '../bench/chaos/proxy.ts';
import { Rng } from '../bench/chaos/rng.ts';
import { FaultClock, FaultHooks } from '../src/server/fault-hooks.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

/** A client whose received bytes accumulate in `got`. */
async function connect(port: number): Promise<{ s: net.Socket; got: () => string; closed: Promise<string> }> {
  const s = net.connect({ host: '127.0.0.1', port });
  let buf = '';
  s.on('data', (b) => (buf += b.toString()));
  const closed = new Promise<string>((r) => {
    s.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
    s.on('close', () => r('closed'));
  });
  await new Promise<void>((r, j) => {
    s.once('connect', () => r());
    s.once('error', j);
  });
  return { s, got: () => buf, closed };
}

async function until(fn: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

test('proxy: passes bytes, holds them while blackholed and delivers them late on heal', async (t) => {
  const echo = await echoServer();
  const table = new LinkTable();
  const p = new FaultProxy({ to: 2, target: { host: '127.0.0.1', port: echo.port }, from: 1, table, rng: new Rng(1) });
  const port = await p.listen();
  t.teardown(async () => {
    await p.close();
    await echo.close();
  });
  const c = await connect(port);
  c.s.write('a');
  t.true(await until(() => c.got() === 'a'));
  table.set(1, 2, { mode: 'blackhole' });
  c.s.write('b');
  await sleep(150);
  t.is(c.got(), 'a', 'nothing gets through a blackhole');
  // Another directed link is not affected.
  table.set(2, 1, { mode: 'blackhole' });
  table.set(2, 1, { mode: 'pass' });
  table.set(1, 2, { mode: 'pass' });
  t.true(await until(() => c.got() === 'ab'), 'held bytes arrive after the heal');
  c.s.destroy();
});

test('proxy: a delayed link keeps the order of what it carries', async (t) => {
  const echo = await echoServer();
  const table = new LinkTable();
  const p = new FaultProxy({ to: 2, target: { host: '127.0.0.1', port: echo.port }, from: 1, table, rng: new Rng(2) });
  const port = await p.listen();
  t.teardown(async () => {
    await p.close();
    await echo.close();
  });
  const c = await connect(port);
  table.set(1, 2, { delayMs: 80, jitterMs: 60 });
  const start = performance.now();
  for (const ch of 'abcdefgh') {
    c.s.write(ch);
    await sleep(3);
  }
  t.true(await until(() => c.got().length === 8));
  t.is(c.got(), 'abcdefgh');
  t.true(performance.now() - start >= 80);
  c.s.destroy();
});

test('proxy: reset breaks open connections and refuses new ones until healed', async (t) => {
  const echo = await echoServer();
  const table = new LinkTable();
  const p = new FaultProxy({ to: 2, target: { host: '127.0.0.1', port: echo.port }, from: 1, table, rng: new Rng(3) });
  const port = await p.listen();
  t.teardown(async () => {
    await p.close();
    await echo.close();
  });
  const c = await connect(port);
  table.set(1, 2, { mode: 'reset' });
  t.regex(await c.closed, /ECONNRESET|closed/);
  // A new connection is reset at once (while connecting or right after).
  const d = await connect(port).then(
    (x) => x.closed,
    (e: NodeJS.ErrnoException) => e.code ?? e.message,
  );
  t.regex(d, /ECONNRESET|closed/);
  table.healAll();
  const e = await connect(port);
  e.s.write('x');
  t.true(await until(() => e.got() === 'x'));
  e.s.destroy();
});

test('proxy: an ingress connection is attributed to the process that opened it', async (t) => {
  let accepted: net.Socket | undefined;
  const srv = net.createServer((s) => (accepted = s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const c = net.connect({ host: '127.0.0.1', port });
  t.teardown(() => {
    c.destroy();
    accepted?.destroy();
    srv.close();
  });
  t.true(await until(() => accepted !== undefined));
  t.is(socketOwner(accepted!, port, [process.pid]), process.pid);
  t.is(socketOwner(accepted!, port, []), undefined);
});

test('fault clock: jumps fire the ticks they skip, backward jumps and rate 0 stop them', async (t) => {
  const clock = new FaultClock();
  let ticks = 0;
  const h = clock.setInterval(() => ticks++, 20);
  t.teardown(() => clock.clearInterval(h));
  const before = clock.now();
  clock.jump(200);
  t.is(ticks, 10, 'a 200 ms jump fires ten 20 ms ticks at once');
  t.true(clock.now() - before >= 200);
  clock.jump(-300);
  const stopped = ticks;
  await sleep(150);
  t.is(ticks, stopped, 'no ticks while the clock stands still');
  await sleep(300);
  t.true(ticks > stopped, 'ticks resume');
  clock.setRate(0);
  const frozen = ticks;
  await sleep(100);
  t.is(ticks, frozen);
  clock.setRate(3);
  await sleep(100);
  t.true(ticks - frozen >= 6, `at 3x, ${ticks - frozen} ticks in 100 ms`);
  t.throws(() => clock.setRate(-1));
});

test('fault hooks: parse the flag, apply commands, refuse bad ones', (t) => {
  t.throws(() => FaultHooks.parse('ipc,bogus'), { message: /unknown hook "bogus"/ });
  const h = FaultHooks.parse('ipc,lease-reads');
  t.true(h.ipc);
  t.deepEqual(h.raftConfig(), { readOnlyOption: 'lease', checkQuorum: true });
  t.deepEqual(FaultHooks.parse('ipc').raftConfig(), {});
  let delay = -1;
  h.attachLogStore({ setFsyncDelay: (ms) => (delay = ms) });
  t.is(delay, 0);
  t.is(h.apply({ type: 'fsyncDelay', ms: 120 }).fsyncDelayMs, 120);
  t.is(delay, 120);
  t.throws(() => h.apply({ type: 'fsyncDelay', ms: -5 }));
  t.is(h.apply({ type: 'clockRate', rate: 2 }).clockRate, 2);
});
