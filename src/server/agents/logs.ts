/**
 * Pods.Logs (any replica): find the pod's node and the node agent's address
 * (status.addresses InternalIP, status.daemonEndpoints.kubeletEndpoint.Port), call that
 * agent's Node.ContainerLogs and stream the chunks back, honouring backpressure and
 * cancellation on both sides. One gRPC client per agent address, kept for reuse.
 */
import * as grpc from '@grpc/grpc-js';
import type { PlainObject } from '../convert.ts';
import { ApiError, invalidArgument, toServiceError } from '../errors.ts';
import type { ObjectsApi } from '../objects.ts';

export interface LogsRequest {
  namespace: string;
  pod: string;
  container: string;
  follow: boolean;
  tail_lines: number;
  previous: boolean;
  since_seconds: number;
  timestamps: boolean;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The agent address of `node`, or an ApiError saying why there is none. */
export function agentAddress(node: PlainObject): string {
  const name = String((node.metadata as Json | undefined)?.name ?? '');
  const st = isObj(node.status) ? node.status : {};
  const addrs = (Array.isArray(st.addresses) ? st.addresses : []).filter(isObj);
  const pick = addrs.find((a) => a.type === 'InternalIP') ?? addrs.find((a) => a.type === 'Hostname') ?? addrs[0];
  const host = typeof pick?.address === 'string' ? pick.address : '';
  const de = isObj(st.daemonEndpoints) && isObj(st.daemonEndpoints.kubeletEndpoint) ? st.daemonEndpoints.kubeletEndpoint : {};
  const port = typeof de.Port === 'number' ? de.Port : 0;
  if (!host) throw new ApiError(grpc.status.FAILED_PRECONDITION, `node "${name}" has no address (status.addresses InternalIP): its agent cannot be reached`);
  if (!port) throw new ApiError(grpc.status.FAILED_PRECONDITION, `node "${name}" has no agent port (status.daemonEndpoints.kubeletEndpoint.Port)`);
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The container to read: the one asked for (it must exist), else the pod's only one. */
export function chooseContainer(pod: PlainObject, container: string): string {
  const name = String((pod.metadata as Json | undefined)?.name ?? '');
  const spec = isObj(pod.spec) ? pod.spec : {};
  const names = (Array.isArray(spec.containers) ? spec.containers : []).filter(isObj).map((c) => String(c.name));
  const init = (Array.isArray(spec.initContainers) ? spec.initContainers : []).filter(isObj).map((c) => String(c.name));
  if (container) {
    if (names.includes(container) || init.includes(container)) return container;
    throw invalidArgument(`container ${container} is not valid for pod ${name}`);
  }
  if (names.length === 1) return names[0]!;
  throw invalidArgument(`a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]${init.length > 0 ? ` or one of the init containers: [${init.join(' ')}]` : ''}`);
}

type NodeStub = grpc.Client & { ContainerLogs(req: LogsRequest): grpc.ClientReadableStream<{ data: Buffer }> };

export class LogsProxy {
  private readonly clients = new Map<string, NodeStub>();

  constructor(
    private readonly api: ObjectsApi,
    private readonly NodeClient: grpc.ServiceClientConstructor,
  ) {}

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(addr: string): NodeStub {
    let c = this.clients.get(addr);
    if (!c) {
      c = new this.NodeClient(addr, grpc.credentials.createInsecure(), {
        'grpc.enable_channelz': 0,
        'grpc.max_receive_message_length': 16 * 1024 * 1024,
        // An agent that went away should fail a call quickly rather than be retried for long.
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2000,
      }) as unknown as NodeStub;
      this.clients.set(addr, c);
    }
    return c;
  }

  /** Serve one Pods.Logs call. */
  serve(call: grpc.ServerWritableStream<LogsRequest, { data: Buffer }>): void {
    let upstream: grpc.ClientReadableStream<{ data: Buffer }> | undefined;
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      upstream?.cancel();
      if (err) call.emit('error', toServiceError(err));
      else call.end();
    };
    call.on('cancelled', () => {
      done = true;
      upstream?.cancel();
    });
    this.open(call.request)
      .then(({ addr, req, nodeName }) => {
        if (done) return;
        const up = this.client(addr).ContainerLogs(req);
        upstream = up;
        up.on('data', (chunk: { data: Buffer }) => {
          if (done) return;
          if (!call.write({ data: chunk.data })) {
            up.pause();
            call.once('drain', () => up.resume());
          }
        });
        up.on('end', () => finish());
        up.on('error', (e: grpc.ServiceError) => {
          if (done) return;
          if (e.code === grpc.status.UNAVAILABLE) {
            finish(new ApiError(grpc.status.UNAVAILABLE, `cannot reach the agent of node "${nodeName}" at ${addr}: ${e.details || e.message}`));
          } else if (e.code === grpc.status.UNIMPLEMENTED) {
            finish(new ApiError(grpc.status.UNIMPLEMENTED, `the agent of node "${nodeName}" at ${addr} does not serve logs`));
          } else {
            finish(new ApiError(e.code ?? grpc.status.UNKNOWN, e.details || e.message));
          }
        });
      })
      .catch((e) => finish(e));
  }

  private async open(r: LogsRequest): Promise<{ addr: string; req: LogsRequest; nodeName: string }> {
    if (!r.pod) throw invalidArgument('pod: Required value');
    if (r.since_seconds < 0) throw invalidArgument('since_seconds: Invalid value: must be >= 0');
    const ns = r.namespace || 'default';
    const pod = await this.api.get('Pod', ns, r.pod);
    const container = chooseContainer(pod, r.container);
    const nodeName = String((pod.spec as Json | undefined)?.nodeName ?? '');
    if (!nodeName) throw new ApiError(grpc.status.FAILED_PRECONDITION, `pod "${r.pod}" is not scheduled to a node yet: no logs to read`);
    let node: PlainObject;
    try {
      node = await this.api.get('Node', '', nodeName);
    } catch (e) {
      if (e instanceof ApiError && e.code === grpc.status.NOT_FOUND) {
        throw new ApiError(grpc.status.UNAVAILABLE, `node "${nodeName}" of pod "${r.pod}" is not registered: its agent cannot be reached`);
      }
      throw e;
    }
    const addr = agentAddress(node);
    return { addr, nodeName, req: { ...r, namespace: ns, container } };
  }
}
