/**
 * Errors as kubectl prints them:
 *
 *   Error from server (NotFound): configmaps "web" not found
 *   Error from server (AlreadyExists): deployments.apps "web" already exists
 *   Error from server (Conflict): Operation cannot be fulfilled on ...
 *   The Pod "web" is invalid: spec.containers[0].image: Required value
 *   The Pod "web" is invalid:
 *   * spec.containers[0].image: Required value
 *   * spec.containers[1].name: Invalid value: "A": ...
 *
 * gRPC status codes map to the reasons Kubernetes gives the matching HTTP statuses.
 */
import { status } from '@grpc/grpc-js';
import { ApiCallError } from '../../client/client.ts';
import { ManifestError, type KindInfo } from '../../api/index.ts';
import { FlagError } from '../flags.ts';

/** A user-facing error raised by the CLI itself (printed as `error: MESSAGE`). */
export class CliError extends Error {
  override name = 'CliError';
}

const REASONS: Partial<Record<status, string>> = {
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.ABORTED]: 'Conflict',
  [status.INVALID_ARGUMENT]: 'BadRequest',
  [status.FAILED_PRECONDITION]: 'BadRequest',
  [status.RESOURCE_EXHAUSTED]: 'RequestEntityTooLarge',
  [status.OUT_OF_RANGE]: 'Expired',
  [status.UNIMPLEMENTED]: 'MethodNotAllowed',
  [status.UNAVAILABLE]: 'ServiceUnavailable',
  [status.DEADLINE_EXCEEDED]: 'Timeout',
  [status.PERMISSION_DENIED]: 'Forbidden',
  [status.UNAUTHENTICATED]: 'Unauthorized',
  [status.INTERNAL]: 'InternalError',
  [status.UNKNOWN]: 'InternalError',
};

/** The Kubernetes reason for a gRPC status (`NotFound`, `Conflict`, ...). */
export function reasonFor(code: status, message = ''): string {
  if (code === status.FAILED_PRECONDITION && /forbidden/i.test(message)) return 'Forbidden';
  return REASONS[code] ?? 'InternalError';
}

/** Did the call fail because no server could be reached at all? */
export function isConnectionError(e: unknown): boolean {
  return (
    e instanceof ApiCallError &&
    (e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED) &&
    /ECONNREFUSED|No connection established|connect|DNS resolution failed|Name resolution|EHOSTUNREACH|ENETUNREACH/i.test(e.message)
  );
}

/**
 * `deployments "web" not found` → `deployments.apps "web" not found`: the server names
 * resources by plural; kubectl qualifies those of a named API group.
 */
export function qualifyMessage(message: string, info: KindInfo | undefined): string {
  if (!info?.group) return message;
  const plain = `${info.plural} "`;
  const qualified = `${info.plural}.${info.group} "`;
  if (message.startsWith(plain)) return qualified + message.slice(plain.length);
  return message.replace(`on ${plain}`, `on ${qualified}`);
}

/**
 * An INVALID_ARGUMENT message `Pod "x" is invalid:\nfield: reason\n...` split into its
 * subject and field errors; undefined for other messages.
 */
export function parseInvalid(message: string): { kind: string; name: string; errors: string[] } | undefined {
  const m = /^(\S+) "([^"]*)" is invalid:[ \t]*(?:\n|$)([\s\S]*)$/.exec(message);
  if (!m) return undefined;
  const errors = m[3]!.split('\n').map((l) => l.trim()).filter(Boolean);
  return { kind: m[1]!, name: m[2]!, errors };
}

/** kubectl's rendering of a validation failure. */
export function formatInvalid(kind: string, name: string, errors: readonly string[]): string {
  const head = `The ${kind} "${name}" is invalid: `;
  if (errors.length === 0) return `${head.trimEnd()}\n`;
  if (errors.length === 1) return `${head}${errors[0]}\n`;
  return `${head}\n${errors.map((e) => `* ${e}`).join('\n')}\n`;
}

export interface ErrorContext {
  /** The kind the failed call was about, to qualify resource names. */
  kind?: KindInfo;
  /** The endpoints tried, for connection errors. */
  endpoints?: readonly string[];
  /** kubectl's `error when creating "FILE": ` style prefix for server errors. */
  prefix?: string;
}

/** The text printed to stderr for an error, ending with a newline. */
export function formatError(e: unknown, ctx: ErrorContext = {}): string {
  if (e instanceof ApiCallError) {
    if (isConnectionError(e)) {
      const where = ctx.endpoints && ctx.endpoints.length > 0 ? ctx.endpoints.join(',') : e.endpoint;
      return `The connection to the server ${where} was refused - did you specify the right host or port?\n`;
    }
    if (e.code === status.INVALID_ARGUMENT) {
      const inv = parseInvalid(e.message);
      if (inv) return formatInvalid(inv.kind, inv.name, inv.errors);
    }
    if (e.code === status.DEADLINE_EXCEEDED) return `Unable to connect to the server: ${e.message}\n`;
    const message = qualifyMessage(e.message, ctx.kind);
    return `Error from server (${reasonFor(e.code, e.message)}): ${ctx.prefix ?? ''}${message}\n`;
  }
  if (e instanceof CliError || e instanceof FlagError || e instanceof ManifestError) return `error: ${e.message}\n`;
  const err = e as Error;
  return `error: ${err?.message ?? String(e)}\n`;
}
