/**
 * An in-process fake of the control plane's Agents service for the agent tests: a real
 * grpc-js server on 127.0.0.1:0 that records every call, serves Assignments batches pushed by
 * the test, and can play a non-leader (UNAVAILABLE with a `berth-leader` hint).
 */
import * as grpc from '@grpc/grpc-js';
import { serviceClient, type AssignmentBatch, type AssignmentsRequest, type HeartbeatRequest, type ReportStatusRequest } from '../src/agent/proto.ts';

export class FakeControl {
  private server = new grpc.Server();
  port = 0;
  /** When set, Heartbeat/ReportStatus/Register answer UNAVAILABLE naming this leader. */
  leaderHint: string | undefined;
  heartbeatIntervalMs = 10_000;
  registers: unknown[] = [];
  heartbeats: HeartbeatRequest[] = [];
  reports: ReportStatusRequest[] = [];
  assignmentRequests: AssignmentsRequest[] = [];
  /** ReportStatus answers this many times with UNAVAILABLE (no hint) before working. */
  failReports = 0;
  /** Heartbeat answers NOT_FOUND while true (a deleted Node). */
  nodeUnknown = false;
  private streams = new Set<grpc.ServerWritableStream<AssignmentsRequest, AssignmentBatch>>();
  /** What a new Assignments stream gets first (by request), if anything. */
  onAssignments: ((req: AssignmentsRequest) => AssignmentBatch[]) | undefined;

  static async start(): Promise<FakeControl> {
    const f = new FakeControl();
    f.server.addService(serviceClient('Agents').service, {
      Register: (call: grpc.ServerUnaryCall<{ node_json: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (f.leaderHint) return cb(f.notLeader());
        const node = JSON.parse(call.request.node_json);
        f.registers.push(node);
        node.metadata.uid = 'node-uid-1';
        cb(null, { node_json: JSON.stringify(node), heartbeat_interval_ms: f.heartbeatIntervalMs, cluster_id: 'test' });
      },
      Heartbeat: (call: grpc.ServerUnaryCall<HeartbeatRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (f.leaderHint) return cb(f.notLeader());
        if (f.nodeUnknown) return cb({ code: grpc.status.NOT_FOUND, details: 'node not registered' });
        f.heartbeats.push(call.request);
        cb(null, { heartbeat_interval_ms: f.heartbeatIntervalMs });
      },
      ReportStatus: (call: grpc.ServerUnaryCall<ReportStatusRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (f.leaderHint) return cb(f.notLeader());
        if (f.failReports > 0) {
          f.failReports--;
          return cb({ code: grpc.status.UNAVAILABLE, details: 'try later' });
        }
        f.reports.push(call.request);
        cb(null, { ignored: [] });
      },
      Assignments: (call: grpc.ServerWritableStream<AssignmentsRequest, AssignmentBatch>) => {
        f.assignmentRequests.push(call.request);
        f.streams.add(call);
        call.on('cancelled', () => f.streams.delete(call));
        for (const b of f.onAssignments?.(call.request) ?? []) call.write(b);
      },
    });
    f.port = await new Promise<number>((resolve, reject) =>
      f.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    return f;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private notLeader(): Partial<grpc.ServiceError> {
    const md = new grpc.Metadata();
    md.set('berth-leader', this.leaderHint!);
    return { code: grpc.status.UNAVAILABLE, details: 'not the leader', metadata: md };
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Sends a batch on every open Assignments stream. */
  push(b: AssignmentBatch): void {
    for (const s of this.streams) s.write(b);
  }

  /** Ends every open stream (as a replica stepping down would). */
  endStreams(): void {
    for (const s of this.streams) s.end();
    this.streams.clear();
  }

  /** Every pod status reported, in order. */
  podReports(): { name: string; uid: string; status: Record<string, unknown> }[] {
    return this.reports.flatMap((r) => r.pods.map((p) => ({ name: p.name, uid: p.uid, status: JSON.parse(p.status_json) })));
  }

  lastStatus(name: string): Record<string, any> | undefined {
    const all = this.podReports().filter((p) => p.name === name);
    return all[all.length - 1]?.status;
  }

  async stop(): Promise<void> {
    this.endStreams();
    this.server.forceShutdown();
  }
}

export function item(type: string, obj: unknown) {
  return { type, object_json: JSON.stringify(obj) };
}
