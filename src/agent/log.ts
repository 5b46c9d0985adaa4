/** The agent's logger: one line per event. Injected so that tests and hollow fleets stay quiet. */
export interface AgentLogger {
  debug(s: string): void;
  info(s: string): void;
  warn(s: string): void;
  error(s: string): void;
}

export const silentLogger: AgentLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Lines on stderr, stamped, tagged with the node name; `quiet` keeps warnings and errors only. */
export function stderrAgentLogger(node: string, quiet = false, debug = false): AgentLogger {
  const line = (level: string, s: string) => process.stderr.write(`${new Date().toISOString()} ${level} [agent ${node}] ${s}\n`);
  return {
    debug: (s) => {
      if (debug) line('D', s);
    },
    info: (s) => {
      if (!quiet) line('I', s);
    },
    warn: (s) => line('W', s),
    error: (s) => line('E', s),
  };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
