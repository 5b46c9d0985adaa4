/** Small helpers shared by the benchmarks. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A scratch directory removed when the process exits (kept, and named, with BENCH_KEEP=1: the replicas' logs are there). */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  if (process.env.BENCH_KEEP === '1') process.on('exit', () => process.stderr.write(`kept ${dir}\n`));
  else process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

/** Parse `--name value` pairs from argv into numbers/strings. */
export function benchArgs(defaults: Record<string, number>): Record<string, number> {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([A-Za-z0-9-]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m || !(m[1]! in defaults)) throw new Error(`unknown argument ${argv[i]}; known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined || !Number.isFinite(Number(v))) throw new Error(`--${m[1]}: expected a number`);
    out[m[1]!] = Number(v);
  }
  return out;
}

/** Wait until the cluster answers a linearizable read (a leader exists and serves). */
export async function waitForApi(client: { get(kind: string, ns: string, name: string): Promise<unknown> }, attempts = 200): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await client.get('Namespace', '', 'default');
      return;
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
