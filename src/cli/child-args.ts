/**
 * Node arguments for the berth processes we fork: the replicas are TypeScript run
 * through tsx, so a child needs tsx's loader even when this process got it another way
 * (bin/berth.js registers it in code, leaving nothing in process.execArgv).
 */
export function childExecArgv(): string[] {
  if (process.execArgv.some((a) => a.includes('tsx'))) return process.execArgv;
  return [...process.execArgv, '--import', import.meta.resolve('tsx')];
}
