/**
 * Kubernetes' AtomicWriter: the files of a ConfigMap/Secret/downward-API volume live in a
 * timestamped directory `..<time>`; the symlink `..data` points at it and every visible entry
 * is a symlink through `..data`. An update writes a fresh directory and swaps `..data` with
 * one rename, so a reader sees either the old set of files or the new one, never a mix —
 * and the volume is updated in place while containers have it mounted.
 */
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile, chmod, mkdtemp } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface FileProjection {
  data: Buffer;
  mode: number;
}

const DATA = '..data';
const DATA_TMP = '..data_tmp';

export class PayloadError extends Error {
  override name = 'PayloadError';
}

function validatePath(p: string): void {
  if (p === '' || p.startsWith('/')) throw new PayloadError(`invalid path ${JSON.stringify(p)}: must be relative`);
  if (p.length > 4096) throw new PayloadError('invalid path: too long');
  const parts = p.split('/');
  if (parts.some((x) => x === '..' || x === '')) throw new PayloadError(`invalid path ${JSON.stringify(p)}: must not contain '..' or empty elements`);
  if (p.startsWith('..')) throw new PayloadError(`invalid path ${JSON.stringify(p)}: must not start with '..'`);
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Every file under `dir` as relative path → {data, mode}. */
async function readTree(dir: string, prefix = ''): Promise<Map<string, FileProjection>> {
  const out = new Map<string, FileProjection>();
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${ent.name}` : ent.name;
    const full = join(dir, ent.name);
    if (ent.isDirectory()) {
      for (const [k, v] of await readTree(full, rel)) out.set(k, v);
    } else if (ent.isFile()) {
      const st = await stat(full);
      out.set(rel, { data: await readFile(full), mode: st.mode & 0o777 });
    }
  }
  return out;
}

function samePayload(a: Map<string, FileProjection>, b: Map<string, FileProjection>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.mode !== v.mode || !w.data.equals(v.data)) return false;
  }
  return true;
}

function tsDirPrefix(now: number): string {
  const d = new Date(now);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

/**
 * Makes `targetDir` hold exactly `payload`. Returns true when anything changed. Safe to call
 * again after a crash at any step: a half-written timestamped directory is never pointed at.
 */
export async function writeAtomic(targetDir: string, payload: Map<string, FileProjection>, now = Date.now()): Promise<boolean> {
  for (const p of payload.keys()) validatePath(p);
  await mkdir(targetDir, { recursive: true });
  const dataLink = join(targetDir, DATA);
  let oldTs: string | undefined;
  try {
    oldTs = await readlink(dataLink);
  } catch {
    oldTs = undefined;
  }
  const topLevel = new Set([...payload.keys()].map((p) => p.split('/')[0]!));
  let changed = true;
  if (oldTs && (await exists(join(targetDir, oldTs)))) {
    const old = await readTree(join(targetDir, oldTs)).catch(() => new Map<string, FileProjection>());
    changed = !samePayload(old, payload);
  }
  if (changed) {
    const tsDir = await mkdtemp(join(targetDir, tsDirPrefix(now)));
    await chmod(tsDir, 0o755);
    for (const [p, f] of payload) {
      const full = join(tsDir, p);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, f.data, { mode: f.mode });
      await chmod(full, f.mode); // writeFile's mode is filtered by the umask
    }
    const tmp = join(targetDir, DATA_TMP);
    await rm(tmp, { force: true });
    await symlink(tsDirName(tsDir), tmp);
    await rename(tmp, dataLink);
  }
  // Visible entries: one symlink per top-level name, through ..data.
  for (const name of topLevel) {
    const link = join(targetDir, name);
    let ok = false;
    try {
      ok = (await readlink(link)) === join(DATA, name);
    } catch {
      ok = false;
    }
    if (!ok) {
      await rm(link, { recursive: true, force: true });
      await symlink(join(DATA, name), link);
    }
  }
  // Remove what the new payload no longer has: old timestamped dirs and stale visible links.
  const current = await readlink(dataLink).catch(() => undefined);
  for (const ent of await readdir(targetDir, { withFileTypes: true })) {
    if (ent.name === DATA || ent.name === current) continue;
    const full = join(targetDir, ent.name);
    if (ent.name.startsWith('..')) {
      if (ent.name !== DATA_TMP) await rm(full, { recursive: true, force: true });
      else await unlink(full).catch(() => undefined);
      continue;
    }
    if (!topLevel.has(ent.name) && ent.isSymbolicLink()) {
      const to = await readlink(full).catch(() => '');
      if (to.startsWith(DATA + '/')) await unlink(full).catch(() => undefined);
    }
  }
  return changed;
}

function tsDirName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
