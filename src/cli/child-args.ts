/**
 * Node arguments for the berth processes we fork: the replicas are TypeScript run
 * through tsx, so a child needs tsx's loader even when this process got it another way
 * (bin/berth.js registers it in code, leaving nothing in process.execArgv).
 *
 * BERTH_CHILD_NODE_ARGS adds Node flags to every forked child only (for example
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a benchmark's replicas, a flag Node
 * refuses in NODE_OPTIONS).
 */
export function childExecArgv(): string[] {
  const extra = (process.env.BERTH_CHILD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const base = process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', import.meta.resolve('tsx')];
  return [...base, ...extra];
}
