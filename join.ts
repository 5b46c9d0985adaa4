import { ServerCluster } from './src/cli/server-cluster.ts';
import { freePorts } from './src/cli/proc-cluster.ts';
import { BerthClient } from './src/client/client.ts';
import { mkdtempSync } from 'node:fs';
import { fork } from 'node:child_process';
const ports = await freePorts(8);
const dir = mkdtempSync('/tmp/join-');
const c = new ServerCluster({ size: 3, dir, peerPorts: ports.slice(0,3), apiPorts: ports.slice(3,6) });
try {
  await c.startAll();
  const cl = new BerthClient({ endpoints: c.apiAddresses() });
  for (;;) { try { await cl.get('ns','','default'); break; } catch { await new Promise(r=>setTimeout(r,50)); } }
  await cl.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'before' }, data: { a: '1' } });
  const peers = `${c.peersFlag()},4=127.0.0.1:${ports[6]}`;
  const child = fork('src/cli/main.ts', ['server', '--id', '4', '--peers', peers, '--listen', `127.0.0.1:${ports[7]}`, '--data-dir', `${dir}/server-4`, '--encryption-key-file', c.keyFile, '--join', '--quiet'], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise(r => child.on('message', r));
  const st = await cl.addMember(4, `127.0.0.1:${ports[6]}`);
  console.log('after add', st.members.map(m => `${m.id}:${m.voter}`).join(' '));
  const c4 = new BerthClient({ endpoints: [`127.0.0.1:${ports[7]}`] });
  const o = await c4.get('cm', 'default', 'before'); console.log('server 4 reads', JSON.stringify(o.data));
  const s4 = await c4.status(); console.log('4 sees', s4.role, s4.members.map(m => `${m.id}:${m.voter}`).join(' '));
  await cl.removeMember(4);
  const s5 = await cl.status(); console.log('after remove', s5.members.map(m => `${m.id}:${m.voter}`).join(' '));
  child.kill('SIGTERM');
  c4.close(); cl.close();
} finally { await c.stopAll(); }
