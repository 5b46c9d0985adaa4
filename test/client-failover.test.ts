/**
 * BerthClient's choice of replica after a call that hung: a replica that swallows a call
 * until its deadline (paused, cut off, overloaded) is not asked first by the next call.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { ApiCallError, BerthClient } from '../src/client/client.ts';
import { startInProcessReplica } from './server-harness.ts';

test('after a deadline on a silent replica, the next call goes to the next replica', async (t) => {
  // A "replica" that accepts connections and never answers: calls to it hang until their deadline.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;

  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const { address } = await startInProcessReplica(t, 'failover');

  const client = new BerthClient({ endpoints: [silentAddr, address], timeoutMs: 1000 });
  t.teardown(() => client.close());
  const first = await client.get('Namespace', '', 'default').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.true(first instanceof ApiCallError, `the call to the silent replica fails: ${String(first)}`);
  t.is((first as ApiCallError).code, grpc.status.DEADLINE_EXCEEDED);
  const ns = await client.get('Namespace', '', 'default');
  t.is(ns.metadata?.name, 'default');
});
