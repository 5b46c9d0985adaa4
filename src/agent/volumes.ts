/**
 * Pod volumes on the node, under `<data-dir>/pods/<uid>/volumes/<plugin>/<name>` as kubelet
 * lays them out: emptyDir (tmpfs for medium Memory when we are root and mounting works, else a
 * plain directory), hostPath (with its type checks), and configMap, secret, downwardAPI and
 * projected volumes written as files by the atomic writer — so that a changed ConfigMap or
 * Secret is updated in place in a running pod.
 */
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Container, DownwardAPIVolumeFile, KeyToPath, Pod, Volume } from '../api/index.ts';
import { writeAtomic, type FileProjection } from './atomic-writer.ts';
import { configMapEntries, expandVars, podFieldValue, secretEntries, type PodContext } from './env.ts';
import { resourceFieldValue } from './resources.ts';
import type { Mount } from './runtimes/types.ts';

const run = promisify(execFile);

/** A volume that cannot be set up yet (missing ConfigMap, bad hostPath, ...): kubelet's FailedMount. */
export class VolumeError extends Error {
  override name = 'VolumeError';
}

/** Mounting tmpfs; the default shells out to mount(8) and works only as root. */
export interface Mounter {
  mountTmpfs(dir: string): Promise<boolean>;
  unmount(dir: string): Promise<void>;
  /** Mount points at or under `dir`. */
  mountsUnder(dir: string): Promise<string[]>;
}

export const systemMounter: Mounter = {
  async mountTmpfs(dir) {
    if (process.getuid?.() !== 0) return false;
    if ((await this.mountsUnder(dir)).includes(dir)) return true;
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', dir]);
      return true;
    } catch {
      return false; // no CAP_SYS_ADMIN (a container), or no mount binary: a directory will do
    }
  },
  async unmount(dir) {
    await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined));
  },
  async mountsUnder(dir) {
    let text: string;
    try {
      text = await readFile('/proc/self/mounts', 'utf8');
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const line of text.split('\n')) {
      const p = line.split(' ')[1];
      if (!p) continue;
      // /proc/self/mounts escapes spaces and the like as octal.
      const path = p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      if (path === dir || path.startsWith(dir + '/')) out.push(path);
    }
    return out;
  },
};

/** A mounter that never mounts (tests, unprivileged runs). */
export const noMounter: Mounter = {
  mountTmpfs: async () => false,
  unmount: async () => undefined,
  mountsUnder: async () => [],
};

export const PLUGIN_DIRS = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

export interface VolumeManagerOptions {
  dataDir: string;
  mounter?: Mounter;
  /** Secrets go on tmpfs (never touching disk) when mounting works. Default: when root. */
  secretsOnTmpfs?: boolean;
}

/** A volume ready for containers: where it is on the host and whether it is mounted read-only. */
export interface VolumePath {
  hostPath: string;
  readOnly: boolean;
  /** emptyDir: subPaths may be created inside it. */
  writable: boolean;
}

export class VolumeManager {
  readonly dataDir: string;
  private readonly mounter: Mounter;
  private readonly secretsOnTmpfs: boolean;

  constructor(opts: VolumeManagerOptions) {
    this.dataDir = resolve(opts.dataDir);
    this.mounter = opts.mounter ?? systemMounter;
    this.secretsOnTmpfs = opts.secretsOnTmpfs ?? process.getuid?.() === 0;
  }

  podDir(uid: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(uid) || uid.startsWith('.')) throw new VolumeError(`pod uid ${JSON.stringify(uid)} is not usable as a directory name`);
    return join(this.dataDir, 'pods', uid);
  }

  volumeDir(uid: string, plugin: keyof typeof PLUGIN_DIRS, name: string): string {
    return join(this.podDir(uid), 'volumes', PLUGIN_DIRS[plugin], name);
  }

  /**
   * Sets up (or refreshes) every volume of the pod. Idempotent; configMap/secret/downward
   * contents are rewritten atomically when they changed. Throws VolumeError naming the first
   * volume that cannot be set up.
   */
  async setup(ctx: PodContext, now = Date.now()): Promise<Map<string, VolumePath>> {
    const pod = ctx.pod;
    const uid = pod.metadata.uid ?? '';
    const out = new Map<string, VolumePath>();
    for (const v of pod.spec.volumes ?? []) {
      if (!v || typeof v.name !== 'string') continue;
      try {
        out.set(v.name, await this.setupOne(uid, v, ctx, now));
      } catch (e) {
        if (e instanceof VolumeError) throw e;
        throw new VolumeError(`volume "${v.name}": ${(e as Error).message}`);
      }
    }
    return out;
  }

  private async setupOne(uid: string, v: Volume, ctx: PodContext, now: number): Promise<VolumePath> {
    const ns = ctx.pod.metadata.namespace ?? 'default';
    if (v.emptyDir) {
      const dir = this.volumeDir(uid, 'emptyDir', v.name);
      await mkdir(dir, { recursive: true });
      if (v.emptyDir.medium === 'Memory') await this.mounter.mountTmpfs(dir);
      await chmod(dir, 0o777); // as kubelet: any container user may write
      return { hostPath: dir, readOnly: false, writable: true };
    }
    if (v.hostPath) return { hostPath: await this.hostPath(v.name, v.hostPath.path, v.hostPath.type ?? ''), readOnly: false, writable: false };
    if (v.configMap) {
      const src = v.configMap;
      const cm = ctx.configMap(ns, src.name ?? '');
      const dir = this.volumeDir(uid, 'configMap', v.name);
      let payload = new Map<string, FileProjection>();
      if (!cm) {
        if (!src.optional) throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}": configmap "${src.name ?? ''}" not found`);
      } else {
        payload = project(configMapEntries(cm), src.items, src.defaultMode ?? 0o644, Boolean(src.optional), `configmap "${src.name ?? ''}"`, v.name);
      }
      await writeAtomic(dir, payload, now);
      return { hostPath: dir, readOnly: true, writable: false };
    }
    if (v.secret) {
      const src = v.secret;
      const s = ctx.secret(ns, src.secretName ?? '');
      const dir = this.volumeDir(uid, 'secret', v.name);
      await mkdir(dir, { recursive: true });
      if (this.secretsOnTmpfs) await this.mounter.mountTmpfs(dir);
      let payload = new Map<string, FileProjection>();
      if (!s) {
        if (!src.optional) throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}": secret "${src.secretName ?? ''}" not found`);
      } else {
        payload = project(secretEntries(s), src.items, src.defaultMode ?? 0o400, Boolean(src.optional), `secret "${src.secretName ?? ''}"`, v.name);
      }
      await writeAtomic(dir, payload, now);
      return { hostPath: dir, readOnly: true, writable: false };
    }
    if (v.downwardAPI) {
      const dir = this.volumeDir(uid, 'downwardAPI', v.name);
      const payload = downward(v.downwardAPI.items ?? [], v.downwardAPI.defaultMode ?? 0o644, ctx);
      await writeAtomic(dir, payload, now);
      return { hostPath: dir, readOnly: true, writable: false };
    }
    if (v.projected) {
      const dir = this.volumeDir(uid, 'projected', v.name);
      const mode = v.projected.defaultMode ?? 0o644;
      const payload = new Map<string, FileProjection>();
      for (const src of v.projected.sources ?? []) {
        if (src.configMap) {
          const cm = ctx.configMap(ns, src.configMap.name ?? '');
          if (!cm) {
            if (!src.configMap.optional) throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}": configmap "${src.configMap.name ?? ''}" not found`);
            continue;
          }
          for (const [k, f] of project(configMapEntries(cm), src.configMap.items, mode, Boolean(src.configMap.optional), `configmap "${src.configMap.name ?? ''}"`, v.name)) payload.set(k, f);
        } else if (src.secret) {
          const s = ctx.secret(ns, src.secret.name ?? '');
          if (!s) {
            if (!src.secret.optional) throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}": secret "${src.secret.name ?? ''}" not found`);
            continue;
          }
          for (const [k, f] of project(secretEntries(s), src.secret.items, mode, Boolean(src.secret.optional), `secret "${src.secret.name ?? ''}"`, v.name)) payload.set(k, f);
        } else if (src.downwardAPI) {
          for (const [k, f] of downward(src.downwardAPI.items ?? [], mode, ctx)) payload.set(k, f);
        } else if (src.serviceAccountToken) {
          throw new VolumeError(`volume "${v.name}": serviceAccountToken projections are not supported by the berth agent`);
        }
      }
      await writeAtomic(dir, payload, now);
      return { hostPath: dir, readOnly: true, writable: false };
    }
    if (v.persistentVolumeClaim) throw new VolumeError(`volume "${v.name}": persistentVolumeClaim volumes are not supported by the berth agent`);
    throw new VolumeError(`volume "${v.name}": no supported volume source`);
  }

  private async hostPath(name: string, path: string, type: string): Promise<string> {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new VolumeError(`volume "${name}": hostPath.path must be absolute`);
    const p = normalize(path);
    const st = await stat(p).catch(() => undefined);
    const fail = (what: string) => new VolumeError(`MountVolume.SetUp failed for volume "${name}": hostPath type check failed: ${p} is not ${what}`);
    switch (type) {
      case '':
        return p;
      case 'DirectoryOrCreate':
        if (!st) await mkdir(p, { recursive: true, mode: 0o755 });
        else if (!st.isDirectory()) throw fail('a directory');
        return p;
      case 'Directory':
        if (!st?.isDirectory()) throw fail('a directory');
        return p;
      case 'FileOrCreate':
        if (!st) {
          await mkdir(dirname(p), { recursive: true });
          await writeFile(p, '', { flag: 'a', mode: 0o644 });
        } else if (!st.isFile()) throw fail('a file');
        return p;
      case 'File':
        if (!st?.isFile()) throw fail('a file');
        return p;
      case 'Socket':
        if (!st?.isSocket()) throw fail('a socket file');
        return p;
      case 'CharDevice':
        if (!st?.isCharacterDevice()) throw fail('a character device');
        return p;
      case 'BlockDevice':
        if (!st?.isBlockDevice()) throw fail('a block device');
        return p;
      default:
        throw new VolumeError(`volume "${name}": unknown hostPath type ${JSON.stringify(type)}`);
    }
  }

  /**
   * The runtime mounts of one container. subPath / subPathExpr select a path inside the
   * volume (created in an emptyDir when missing); escaping the volume is refused.
   */
  async mountsFor(c: Container, volumes: Map<string, VolumePath>, env: { name: string; value: string }[]): Promise<Mount[]> {
    const out: Mount[] = [];
    const envMap = new Map(env.map((e) => [e.name, e.value]));
    for (const m of c.volumeMounts ?? []) {
      const vol = volumes.get(m.name);
      if (!vol) throw new VolumeError(`container "${c.name}": volumeMount "${m.name}" names no volume of the pod`);
      let host = vol.hostPath;
      const sub = m.subPathExpr ? expandVars(m.subPathExpr, (n) => envMap.get(n)) : m.subPath;
      if (sub) {
        if (sub.startsWith('/') || sub.split('/').includes('..')) throw new VolumeError(`container "${c.name}": subPath ${JSON.stringify(sub)} must be a relative path inside the volume`);
        host = join(vol.hostPath, sub);
        if (vol.writable) {
          const st = await lstat(host).catch(() => undefined);
          if (!st) await mkdir(host, { recursive: true, mode: 0o777 });
        }
      }
      out.push({ containerPath: m.mountPath, hostPath: host, readonly: vol.readOnly || Boolean(m.readOnly) });
    }
    return out;
  }

  /** Removes everything of a pod: unmounts tmpfs volumes, deletes the pod directory. */
  async teardown(uid: string): Promise<void> {
    const dir = this.podDir(uid);
    const mounts = await this.mounter.mountsUnder(dir);
    // Deepest first, so nested mounts come off before their parents.
    for (const m of mounts.sort((a, b) => b.length - a.length)) await this.mounter.unmount(m);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A ConfigMap's / Secret's keys as files (all keys, or `items`). */
function project(entries: [string, Buffer][], items: KeyToPath[] | undefined, defaultMode: number, optional: boolean, what: string, vol: string): Map<string, FileProjection> {
  const out = new Map<string, FileProjection>();
  if (!items || items.length === 0) {
    for (const [k, data] of entries) out.set(k, { data, mode: defaultMode & 0o777 });
    return out;
  }
  const byKey = new Map(entries);
  for (const it of items) {
    const data = byKey.get(it.key);
    if (!data) {
      if (optional) continue;
      throw new VolumeError(`MountVolume.SetUp failed for volume "${vol}": ${what} has no key "${it.key}"`);
    }
    out.set(it.path, { data, mode: (it.mode ?? defaultMode) & 0o777 });
  }
  return out;
}

function downward(items: DownwardAPIVolumeFile[], defaultMode: number, ctx: PodContext): Map<string, FileProjection> {
  const out = new Map<string, FileProjection>();
  for (const it of items) {
    let text: string;
    if (it.fieldRef) text = podFieldValue(it.fieldRef.fieldPath, ctx);
    else if (it.resourceFieldRef) {
      const all = [...(ctx.pod.spec.containers ?? []), ...(ctx.pod.spec.initContainers ?? [])];
      const c = all.find((x) => x.name === it.resourceFieldRef!.containerName);
      if (!c) throw new VolumeError(`downwardAPI ${it.path}: no container named ${String(it.resourceFieldRef.containerName)}`);
      text = resourceFieldValue(c, it.resourceFieldRef.resource, it.resourceFieldRef.divisor, ctx.node);
    } else continue;
    out.set(it.path, { data: Buffer.from(text), mode: (it.mode ?? defaultMode) & 0o777 });
  }
  return out;
}

/** Volumes of the pod that read this ConfigMap / Secret (to refresh them when it changes). */
export function podUsesObject(pod: Pod, kind: 'ConfigMap' | 'Secret', name: string): boolean {
  for (const v of pod.spec.volumes ?? []) {
    if (kind === 'ConfigMap' && v.configMap?.name === name) return true;
    if (kind === 'Secret' && v.secret?.secretName === name) return true;
    for (const s of v.projected?.sources ?? []) {
      if (kind === 'ConfigMap' && s.configMap?.name === name) return true;
      if (kind === 'Secret' && s.secret?.name === name) return true;
    }
  }
  for (const c of [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])]) {
    for (const f of c.envFrom ?? []) {
      if (kind === 'ConfigMap' && f.configMapRef?.name === name) return true;
      if (kind === 'Secret' && f.secretRef?.name === name) return true;
    }
    for (const e of c.env ?? []) {
      if (kind === 'ConfigMap' && e.valueFrom?.configMapKeyRef?.name === name) return true;
      if (kind === 'Secret' && e.valueFrom?.secretKeyRef?.name === name) return true;
    }
  }
  return false;
}
