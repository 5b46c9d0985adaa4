import { BerthServer } from './src/server/server.ts';
import { freePorts } from './src/cli/proc-cluster.ts';
import { mkdtempSync } from 'node:fs';
import { SecretCipher } from './src/store/index.ts';
const ports = await freePorts(6);
const dir = mkdtempSync('/tmp/lat2-');
const peers = new Map([1,2,3].map(i => [i, `127.0.0.1:${ports[i-1]}`] as [number,string]));
const servers = await Promise.all([1,2,3].map(id => BerthServer.start({ id, clusterId: 'b', dataDir: `${dir}/s${id}`, listen: `127.0.0.1:${ports[2+id]}`, peers, join: false })));
const leader = () => servers.find(s => s.replica.isLeader())!;
while (!servers.some(s => s.replica.isLeader())) await new Promise(r => setTimeout(r, 20));
const L = leader();
await new Promise(r => setTimeout(r, 500));
await L.api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { v: '1' } });
for (const s of servers) {
  const lat: number[] = []; const t0 = performance.now();
  for (let i = 0; i < 300; i++) { const t = performance.now(); await s.api.update({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { v: String(i) } }); lat.push(performance.now() - t); }
  lat.sort((a,b)=>a-b);
  console.log(s.opts.id, s.replica.isLeader() ? 'leader' : 'follower', 'update p50', lat[150]!.toFixed(2), 'p99', lat[297]!.toFixed(2));
  const r: number[] = [];
  for (let i = 0; i < 300; i++) { const t = performance.now(); await s.replica.propose(Buffer.from('x')).catch(()=>0); r.push(performance.now() - t); }
  r.sort((a,b)=>a-b); console.log('   raw propose p50', r[150]!.toFixed(2));
}
await Promise.all(servers.map(s => s.stop()));
process.exit(0);
