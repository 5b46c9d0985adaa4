/**
 * gRPC status codes are chosen here and only here (the edge), by meaning: see
 * proto/berth/v1/api.proto and ../shared/ARCHITECTURE.md rule 7.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { FieldError } from '../api/index.ts';
import { ReplicaError } from '../raft/index.ts';
import type { Failure } from '../store/index.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: status,
    message: string,
    readonly trailers: Record<string, string | Buffer> = {},
  ) {
    super(message);
  }
}

export function notFound(plural: string, name: string): ApiError {
  return new ApiError(status.NOT_FOUND, `${plural} "${name}" not found`);
}

export function invalidArgument(message: string): ApiError {
  return new ApiError(status.INVALID_ARGUMENT, message);
}

/** `The Pod "web" is invalid:` followed by one `path: reason` per line. */
export function fieldErrors(kind: string, name: string, errs: FieldError[]): ApiError {
  const body = errs.map((e) => e.toString()).join('\n');
  const json = JSON.stringify(errs.map((e) => ({ field: e.field, type: e.type, detail: e.detail ?? '' })));
  return new ApiError(status.INVALID_ARGUMENT, `${kind} "${name}" is invalid:\n${body}`, { 'berth-field-errors': json });
}

/** A store result that failed, as the status a client should see. */
export function fromFailure(f: Failure): ApiError {
  switch (f.code) {
    case 'NotFound':
      return new ApiError(status.NOT_FOUND, f.message);
    case 'AlreadyExists':
      return new ApiError(status.ALREADY_EXISTS, f.message);
    case 'Conflict':
      return new ApiError(status.ABORTED, f.message);
    case 'Invalid':
      return new ApiError(status.INVALID_ARGUMENT, f.message);
    case 'Gone':
      return new ApiError(status.FAILED_PRECONDITION, f.message);
  }
}

/** Any error thrown while serving a call → a ServiceError for grpc-js. */
export function toServiceError(e: unknown): Partial<ServiceError> {
  const md = new Metadata();
  if (e instanceof ApiError) {
    for (const [k, v] of Object.entries(e.trailers)) md.set(k, v);
    return { code: e.code, details: e.message, metadata: md };
  }
  if (e instanceof ReplicaError) {
    if (e.leader) md.set('berth-leader', String(e.leader));
    switch (e.code) {
      case 'notLeader':
      case 'shuttingDown':
      case 'busy':
      case 'dropped':
        return { code: status.UNAVAILABLE, details: e.message, metadata: md };
      case 'timeout':
        return { code: status.UNAVAILABLE, details: e.message, metadata: md };
      case 'tooLarge':
        return { code: status.RESOURCE_EXHAUSTED, details: e.message, metadata: md };
      case 'invalid':
        return { code: status.INVALID_ARGUMENT, details: e.message, metadata: md };
    }
  }
  const err = e as Error;
  return { code: status.INTERNAL, details: `internal error: ${err?.message ?? String(e)}`, metadata: md };
}
