/**
 * Three `berth server` processes: Secret values never reach the disk in plaintext. After
 * creating and updating Secrets with distinctive values, every file under the cluster
 * directory (LevelDB logs and tables, Raft state, replica logs) is scanned byte by byte
 * for each value and its base64; a ConfigMap value written the same way is the control
 * that proves the scan finds what is there.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configMap, createSurely, dataOf, readSurely, rvOf, startCluster, updateSurely, waitForLeader } from './server-harness.ts';

/** A value unlikely to be split by compression: random capitals, which nothing else stored uses much. */
function distinctive(tag: string): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
  let s = '';
  for (const b of randomBytes(40)) s += alphabet[b % alphabet.length];
  return `${tag}${s}`;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

test('no Secret value can be found on disk; Secrets read back decrypted', async (t) => {
  const h = await startCluster(t, 3);
  const plain = {
    viaStringData: distinctive('SDATA'),
    viaData: distinctive('BDATA'),
    updatedTo: distinctive('UPDAT'),
    second: distinctive('SECND'),
  };
  const control = distinctive('CNTRL');

  // Created through different replicas: stringData (plaintext in the request) and data (base64).
  await createSurely(h.pinned[0]!, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db' },
    type: 'Opaque',
    stringData: { password: plain.viaStringData },
    data: { token: b64(plain.viaData) },
  });
  const other = await createSurely(h.pinned[1]!, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other' }, stringData: { key: plain.second } });
  await createSurely(h.pinned[2]!, configMap('control', { value: control }));

  // Update one of them through a third replica.
  const cur = await readSurely(() => h.pinned[2]!.get('Secret', 'default', 'db'));
  const { object: updated } = await updateSurely(h.pinned[2]!, { ...cur, metadata: { name: 'db' }, data: { ...dataOf(cur), password: b64(plain.updatedTo) } });
  t.true(Number(rvOf(updated)) > Number(rvOf(cur)));

  // Reads through the API are decrypted, on every replica.
  for (const c of h.pinned) {
    const db = await readSurely(() => c.get('Secret', 'default', 'db'));
    t.deepEqual(dataOf(db), { password: b64(plain.updatedTo), token: b64(plain.viaData) }, `db through ${c.endpoint}`);
    t.is(db.stringData, undefined, 'stringData is write-only');
    t.is(db.type, 'Opaque');
    const o = await readSurely(() => c.get('Secret', 'default', 'other'));
    t.deepEqual(dataOf(o), { key: b64(plain.second) });
    t.is(rvOf(o), rvOf(other));
    const listed = await readSurely(() => c.list('Secret', { namespace: 'default' }));
    t.deepEqual(
      listed.items.map((s) => dataOf(s)),
      [
        { password: b64(plain.updatedTo), token: b64(plain.viaData) },
        { key: b64(plain.second) },
      ],
      'listed Secrets are decrypted',
    );
  }

  // Stop every replica (flushing LevelDB), then read every byte they left behind.
  await waitForLeader(h);
  await h.cluster.stopAll();
  const files = filesUnder(h.dir);
  t.true(files.some((f) => /\.log$/.test(f) && f.includes('server-1')), `the scan covers LevelDB files (${files.length} files)`);
  const needles: [string, string][] = [];
  for (const [what, v] of Object.entries(plain)) {
    needles.push([`${what} (plaintext)`, v]);
    needles.push([`${what} (base64)`, b64(v)]);
  }
  const found = new Map<string, string[]>();
  let controlHits = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    if (statSync(f).size === 0) continue;
    for (const [what, v] of needles) {
      if (bytes.includes(Buffer.from(v))) found.set(what, [...(found.get(what) ?? []), f]);
    }
    if (bytes.includes(Buffer.from(control))) controlHits++;
  }
  t.true(controlHits >= 3, `the control ConfigMap value is found on disk (in ${controlHits} files): the scan works`);
  t.deepEqual(Object.fromEntries(found), {}, 'no Secret value, plain or base64, in any file');
});
