/**
 * BerthClient's choice of replica after a call that hung: a replica that swallows a call
 * until its deadline (paused, cut off, overloaded) is not asked first by the next call.
 */
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../src/cli/proc-cluster.ts';
import { ApiCallError, BerthClient } from '../src/client/client.ts';
import { BerthServer } from '../src/server/server.ts';
import { SecretCipher } from '../src/store/index.ts';

test('after a deadline on a silent replica, the next call goes to the next replica', async (t) => {
  // A "replica" that accepts connections and never answers: calls to it hang until their deadline.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'berth-client-failover-'));
  const keyFile = join(dir, 'secret.key');
  SecretCipher.generateKeyFile(keyFile);
  const [peer] = await freePorts(1);
  const server = await BerthServer.start({
    id: 1,
    clusterId: 'failover',
    dataDir: join(dir, 'data'),
    listen: '127.0.0.1:0',
    peers: new Map([[1, `127.0.0.1:${peer}`]]),
    join: false,
    encryptionKeyFile: keyFile,
    controllers: false,
  });
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    silent.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const direct = new BerthClient({ endpoints: [server.apiAddress] });
  for (let i = 0; ; i++) {
    try {
      await direct.get('Namespace', '', 'default');
      break;
    } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  direct.close();

  const client = new BerthClient({ endpoints: [silentAddr, server.apiAddress], timeoutMs: 1000 });
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
