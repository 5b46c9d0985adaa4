/**
 * The agent's own gRPC server: berth.v1.Node (like kubelet's port), called by control-plane
 * replicas to serve `berth logs`. ContainerLogs streams a container's CRI log file — the
 * current instance, or with `previous` the one before — with tail, since, timestamps and
 * follow. One server may serve several agents (the hollow fleet shares one).
 */
import * as grpc from '@grpc/grpc-js';
import type { Pod } from '../api/index.ts';
import { readCriLog } from './cri-log.ts';
import { errorText, type AgentLogger } from './log.ts';
import { serviceClient, type LogsRequestWire } from './proto.ts';

/** One container instance whose log can be read. */
export interface LogInstance {
  id: string;
  attempt: number;
  path: string;
  running(): Promise<boolean>;
}

/** What a node server asks an agent about its pods. */
export interface LogSource {
  /** The pod assigned to this agent with that namespace and name. */
  findPod(namespace: string, name: string): Pod | undefined;
  /** Instances of a container of the pod, newest first. */
  instances(pod: Pod, container: string): Promise<LogInstance[]>;
  /** Why a container has no instance yet (a waiting reason), if known. */
  waitingReason(pod: Pod, container: string): string | undefined;
  /** Milliseconds since the epoch (the agent's clock), for since_seconds. */
  now(): number;
}

function fail(code: grpc.status, details: string): Partial<grpc.ServiceError> {
  return { code, details, metadata: new grpc.Metadata() };
}

export class NodeServer {
  private readonly server: grpc.Server;
  private readonly sources = new Set<LogSource>();
  private readonly active = new Set<AbortController>();
  port = 0;
  address = '';

  private constructor(private readonly logger: AgentLogger) {
    this.server = new grpc.Server({ 'grpc.enable_channelz': 0 });
    this.server.addService(serviceClient('Node').service, {
      ContainerLogs: (call: grpc.ServerWritableStream<LogsRequestWire, { data: Buffer }>) => void this.containerLogs(call),
    });
  }

  /** Listens on host:port (port 0: any free port). */
  static async start(listen: string, logger: AgentLogger): Promise<NodeServer> {
    const s = new NodeServer(logger);
    s.port = await new Promise<number>((resolve, reject) => {
      s.server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
    const host = listen.slice(0, listen.lastIndexOf(':'));
    s.address = `${host}:${s.port}`;
    return s;
  }

  /** Serve this agent's pods too; returns a function that stops doing so. */
  add(source: LogSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  async stop(): Promise<void> {
    for (const a of this.active) a.abort();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async containerLogs(call: grpc.ServerWritableStream<LogsRequestWire, { data: Buffer }>): Promise<void> {
    const abort = new AbortController();
    this.active.add(abort);
    call.on('cancelled', () => abort.abort());
    call.on('error', () => abort.abort());
    try {
      const req = call.request ?? ({} as LogsRequestWire);
      const ns = req.namespace || 'default';
      if (!req.pod) {
        call.emit('error', fail(grpc.status.INVALID_ARGUMENT, 'pod: a pod name is required'));
        return;
      }
      let source: LogSource | undefined;
      let pod: Pod | undefined;
      for (const s of this.sources) {
        pod = s.findPod(ns, req.pod);
        if (pod) {
          source = s;
          break;
        }
      }
      if (!pod || !source) {
        call.emit('error', fail(grpc.status.NOT_FOUND, `pods "${req.pod}" not found on this node`));
        return;
      }
      const apps = (pod.spec.containers ?? []).map((c) => c.name);
      const inits = (pod.spec.initContainers ?? []).map((c) => c.name);
      let name = req.container;
      if (!name) {
        if (apps.length !== 1) {
          call.emit(
            'error',
            fail(
              grpc.status.INVALID_ARGUMENT,
              `a container name must be specified for pod ${req.pod}, choose one of: [${apps.join(' ')}]${inits.length ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`,
            ),
          );
          return;
        }
        name = apps[0]!;
      }
      if (!apps.includes(name) && !inits.includes(name)) {
        call.emit('error', fail(grpc.status.NOT_FOUND, `container "${name}" in pod "${req.pod}" not found`));
        return;
      }
      const list = await source.instances(pod, name);
      const inst = req.previous ? list[1] : list[0];
      if (!inst) {
        if (req.previous) {
          call.emit('error', fail(grpc.status.NOT_FOUND, `previous terminated container "${name}" in pod "${req.pod}" not found`));
        } else {
          const why = source.waitingReason(pod, name) ?? 'ContainerCreating';
          call.emit('error', fail(grpc.status.FAILED_PRECONDITION, `container "${name}" in pod "${req.pod}" is waiting to start: ${why}`));
        }
        return;
      }
      const since = Number(req.since_seconds) > 0 ? source.now() - Number(req.since_seconds) * 1000 : undefined;
      const tail = Number(req.tail_lines);
      await readCriLog(
        inst.path,
        {
          tailLines: Number.isFinite(tail) ? tail : -1,
          ...(since !== undefined ? { sinceMs: since } : {}),
          timestamps: Boolean(req.timestamps),
          follow: Boolean(req.follow) && !req.previous,
          stillWriting: () => inst.running(),
          signal: abort.signal,
        },
        async (chunk) => {
          if (abort.signal.aborted) return;
          if (!call.write({ data: chunk })) {
            await new Promise<void>((resolve) => {
              const done = () => {
                call.off('drain', done);
                abort.signal.removeEventListener('abort', done);
                resolve();
              };
              call.on('drain', done);
              abort.signal.addEventListener('abort', done, { once: true });
            });
          }
        },
      );
      if (!abort.signal.aborted) call.end();
    } catch (e) {
      this.logger.warn(`ContainerLogs: ${errorText(e)}`);
      if (!abort.signal.aborted) call.emit('error', fail(grpc.status.INTERNAL, `reading the log failed: ${errorText(e)}`));
    } finally {
      this.active.delete(abort);
    }
  }
}
