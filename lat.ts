import { ServerCluster } from './src/cli/server-cluster.ts';
import { freePorts } from './src/cli/proc-cluster.ts';
import { BerthClient } from './src/client/client.ts';
import { mkdtempSync } from 'node:fs';
const ports = await freePorts(6);
const c = new ServerCluster({ size: 3, dir: mkdtempSync('/tmp/lat-'), peerPorts: ports.slice(0,3), apiPorts: ports.slice(3), extraArgs: ['--quiet'] });
try {
  await c.startAll();
  const all = new BerthClient({ endpoints: c.apiAddresses() });
  for (let i = 0; ; i++) { try { await all.get('ns', '', 'default'); break; } catch { await new Promise(r => setTimeout(r, 50)); } }
  const st = await all.status();
  await all.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { v: '1' } });
  for (const id of [1, 2, 3]) {
    const cl = new BerthClient({ endpoints: [c.apiAddress(id)] });
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) { const t = performance.now(); await cl.update({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { v: String(i) } }); lat.push(performance.now() - t); }
    const g: number[] = [];
    for (let i = 0; i < 300; i++) { const t = performance.now(); await cl.get('cm', 'default', 'x'); g.push(performance.now() - t); }
    lat.sort((a, b) => a - b); g.sort((a, b) => a - b);
    console.log(`replica ${id}${id === st.leader ? ' (leader)' : ''}: update p50 ${lat[150]!.toFixed(2)} ms p99 ${lat[297]!.toFixed(2)}; get p50 ${g[150]!.toFixed(2)} p99 ${g[297]!.toFixed(2)}`);
    cl.close();
  }
  all.close();
} finally { await c.stopAll(); }
