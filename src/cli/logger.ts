/** The replica processes' log: one line per event on stderr, stamped, with the replica id. */
export interface ProcessLogger {
  debug(s: string): void;
  info(s: string): void;
  warn(s: string): void;
  error(s: string): void;
}

export function stderrLogger(id: number, quiet: boolean): ProcessLogger {
  const line = (level: string, s: string) => process.stderr.write(`${new Date().toISOString()} ${level} [${id}] ${s}\n`);
  return {
    debug: () => {},
    info: (s) => {
      if (!quiet) line('I', s);
    },
    warn: (s) => line('W', s),
    error: (s) => line('E', s),
  };
}
