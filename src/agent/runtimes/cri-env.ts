/**
 * Where the containerd CRI socket is, as scripts/host-setup.sh leaves it: BERTH_CRI_SOCKET when
 * set, else the socket in the host-setup state directory if it exists.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_HOST_DIR = '/var/lib/berth-host';

export function criSocketFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.BERTH_CRI_SOCKET?.trim();
  if (explicit) return explicit;
  const dir = env.BERTH_HOST_DIR?.trim() || DEFAULT_HOST_DIR;
  const sock = join(dir, 'containerd.sock');
  return existsSync(sock) ? sock : undefined;
}

/** In CI a missing containerd is a failure, not a reason to skip the real-runtime tests. */
export function criRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true';
}
