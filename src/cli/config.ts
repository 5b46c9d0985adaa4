/**
 * The client configuration: where `berth get` and friends find the API. One file,
 * `$BERTH_CONFIG` or `~/.berth/config`, YAML (JSON is YAML too), with named contexts:
 *
 *   apiVersion: berth/v1
 *   kind: Config
 *   current-context: local
 *   contexts:
 *   - name: local
 *     servers:            # API endpoints of the replicas; any of them takes any call
 *     - 127.0.0.1:8001
 *     - 127.0.0.1:8002
 *     - 127.0.0.1:8003
 *     namespace: default  # optional: the namespace used when -n is not given
 *
 * Fields berth does not know yet (credentials will come) are kept when the file is
 * rewritten. Parsing and editing are pure; only loadConfig/saveConfig touch the disk.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';

export const CONFIG_API_VERSION = 'berth/v1';

export interface Context {
  name: string;
  servers: string[];
  namespace?: string;
  /** Fields of the context berth does not interpret; kept as they are. */
  extra?: Record<string, unknown>;
}

export interface ClientConfig {
  currentContext?: string;
  contexts: Context[];
  /** Top-level fields berth does not interpret; kept as they are. */
  extra?: Record<string, unknown>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `$BERTH_CONFIG`, else `~/.berth/config`. */
export function configPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  return env.BERTH_CONFIG && env.BERTH_CONFIG.trim() !== '' ? env.BERTH_CONFIG : join(home, '.berth', 'config');
}

const ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/** Is this `host:port` (or `[v6]:port`) with a port in range? */
export function isAddress(s: string): boolean {
  const m = ADDRESS.exec(s);
  return m !== null && Number(m[1]) > 0 && Number(m[1]) < 65536;
}

/** Splits a comma-separated `--server` value, checking every address. */
export function parseServers(list: string, where: string): string[] {
  const servers = list
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (servers.length === 0) throw new ConfigError(`${where}: no server address given`);
  for (const s of servers) if (!isAddress(s)) throw new ConfigError(`${where}: "${s}" is not host:port`);
  return servers;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads a config file's text. Empty text is an empty config. */
export function parseConfig(text: string, source: string): ClientConfig {
  if (text.trim() === '') return { contexts: [] };
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return { contexts: [] };
  if (!isObject(raw)) throw new ConfigError(`${source}: expected a mapping at the top level`);
  const { 'current-context': current, contexts, apiVersion, kind, ...extra } = raw;
  if (apiVersion !== undefined && apiVersion !== CONFIG_API_VERSION) {
    throw new ConfigError(`${source}: apiVersion: unsupported value "${String(apiVersion)}": expected "${CONFIG_API_VERSION}"`);
  }
  if (kind !== undefined && kind !== 'Config') throw new ConfigError(`${source}: kind: unsupported value "${String(kind)}": expected "Config"`);
  if (current !== undefined && current !== null && typeof current !== 'string') throw new ConfigError(`${source}: current-context: expected a string`);
  const out: ClientConfig = { contexts: [] };
  if (typeof current === 'string' && current !== '') out.currentContext = current;
  if (contexts !== undefined && contexts !== null) {
    if (!Array.isArray(contexts)) throw new ConfigError(`${source}: contexts: expected a list`);
    const seen = new Set<string>();
    contexts.forEach((c, i) => {
      const at = `${source}: contexts[${i}]`;
      if (!isObject(c)) throw new ConfigError(`${at}: expected a mapping`);
      const { name, servers, namespace, ...rest } = c;
      if (typeof name !== 'string' || name === '') throw new ConfigError(`${at}.name: required`);
      if (seen.has(name)) throw new ConfigError(`${at}.name: duplicate context "${name}"`);
      seen.add(name);
      if (!Array.isArray(servers)) throw new ConfigError(`${at}.servers: expected a list of host:port`);
      servers.forEach((s, j) => {
        if (typeof s !== 'string' || !isAddress(s)) throw new ConfigError(`${at}.servers[${j}]: "${String(s)}" is not host:port`);
      });
      if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') throw new ConfigError(`${at}.namespace: expected a string`);
      const ctx: Context = { name, servers: [...(servers as string[])] };
      if (typeof namespace === 'string' && namespace !== '') ctx.namespace = namespace;
      if (Object.keys(rest).length > 0) ctx.extra = rest;
      out.contexts.push(ctx);
    });
  }
  if (Object.keys(extra).length > 0) out.extra = extra;
  return out;
}

/** The plain document a config is written as (key order as documented). */
export function configDocument(cfg: ClientConfig): Record<string, unknown> {
  return {
    apiVersion: CONFIG_API_VERSION,
    kind: 'Config',
    'current-context': cfg.currentContext ?? '',
    contexts: cfg.contexts.map((c) => ({
      name: c.name,
      servers: [...c.servers],
      ...(c.namespace ? { namespace: c.namespace } : {}),
      ...(c.extra ?? {}),
    })),
    ...(cfg.extra ?? {}),
  };
}

export function serializeConfig(cfg: ClientConfig): string {
  return stringify(configDocument(cfg), { indentSeq: false, lineWidth: 0 });
}

/** The config at `path`; an empty one when the file does not exist. */
export async function loadConfig(path: string): Promise<ClientConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: [] };
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
  return parseConfig(text, path);
}

/** Writes the config atomically (temp file + rename), readable by its owner only. */
export async function saveConfig(path: string, cfg: ClientConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, serializeConfig(cfg), { mode: 0o600 });
  await rename(tmp, path);
}

export function findContext(cfg: ClientConfig, name: string): Context | undefined {
  return cfg.contexts.find((c) => c.name === name);
}

/**
 * Adds or updates a context (only the fields given change). Returns the new config and
 * whether the context was created.
 */
export function setContext(
  cfg: ClientConfig,
  name: string,
  fields: { servers?: string[]; namespace?: string },
): { config: ClientConfig; created: boolean } {
  const existing = findContext(cfg, name);
  if (!existing && (!fields.servers || fields.servers.length === 0)) {
    throw new ConfigError(`context "${name}" does not exist yet: give its servers with --server HOST:PORT[,HOST:PORT...]`);
  }
  const next: Context = existing ? { ...existing, servers: [...existing.servers] } : { name, servers: [] };
  if (fields.servers) next.servers = [...fields.servers];
  if (fields.namespace !== undefined) {
    if (fields.namespace === '') delete next.namespace;
    else next.namespace = fields.namespace;
  }
  const contexts = existing ? cfg.contexts.map((c) => (c.name === name ? next : c)) : [...cfg.contexts, next];
  return { config: { ...cfg, contexts }, created: !existing };
}

export function useContext(cfg: ClientConfig, name: string): ClientConfig {
  if (!findContext(cfg, name)) throw new ConfigError(`no context exists with the name: "${name}"`);
  return { ...cfg, currentContext: name };
}

export function deleteContext(cfg: ClientConfig, name: string): ClientConfig {
  if (!findContext(cfg, name)) throw new ConfigError(`cannot delete context ${name}, not in the config`);
  const out: ClientConfig = { ...cfg, contexts: cfg.contexts.filter((c) => c.name !== name) };
  if (out.currentContext === name) delete out.currentContext;
  return out;
}

export interface Target {
  endpoints: string[];
  /** The namespace to use when -n is not given. */
  namespace: string;
  /** Where the endpoints came from, for messages. */
  source: string;
  context?: string;
}

/**
 * Where to send calls: `--server`, else `$BERTH_SERVER`, else the context named by
 * `--context` or the config's current context.
 */
export function resolveTarget(opts: {
  server?: string | undefined;
  context?: string | undefined;
  env: NodeJS.ProcessEnv;
  config: ClientConfig;
  path: string;
}): Target {
  const ctxName = opts.context ?? opts.config.currentContext;
  const ctx = ctxName ? findContext(opts.config, ctxName) : undefined;
  if (opts.context && !ctx) throw new ConfigError(`context "${opts.context}" not found in ${opts.path}`);
  const namespace = ctx?.namespace ?? 'default';
  if (opts.server !== undefined) return { endpoints: parseServers(opts.server, '--server'), namespace, source: '--server' };
  const fromEnv = opts.env.BERTH_SERVER;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { endpoints: parseServers(fromEnv, 'BERTH_SERVER'), namespace, source: 'BERTH_SERVER' };
  if (ctx) {
    if (ctx.servers.length === 0) throw new ConfigError(`context "${ctx.name}" in ${opts.path} lists no servers`);
    return { endpoints: [...ctx.servers], namespace, source: `context "${ctx.name}"`, context: ctx.name };
  }
  if (ctxName) throw new ConfigError(`current context "${ctxName}" not found in ${opts.path}`);
  throw new ConfigError(
    `no API server configured: pass --server HOST:PORT, set BERTH_SERVER, or start a local cluster with 'berth up' (it writes ${opts.path})`,
  );
}
