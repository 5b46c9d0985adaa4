/** The berth.v1 agent API (proto/berth/v1/agent.proto) as grpc-js service definitions. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export const AGENT_PROTO = fileURLToPath(new URL('../../proto/berth/v1/agent.proto', import.meta.url));

let cached: grpc.GrpcObject | undefined;

export function loadAgentApi(): grpc.GrpcObject {
  if (!cached) {
    const def = protoLoader.loadSync(AGENT_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    cached = (grpc.loadPackageDefinition(def).berth as grpc.GrpcObject).v1 as grpc.GrpcObject;
  }
  return cached;
}

export function serviceClient(name: 'Agents' | 'Node' | 'Pods'): grpc.ServiceClientConstructor {
  return loadAgentApi()[name] as grpc.ServiceClientConstructor;
}

// Wire shapes (keepCase, longs as numbers, defaults filled).

export interface RegisterResponse {
  node_json: string;
  heartbeat_interval_ms: number;
  cluster_id: string;
}

export interface HeartbeatRequest {
  node_name: string;
  node_uid: string;
  seq: number;
}

export interface HeartbeatResponse {
  heartbeat_interval_ms: number;
}

export interface AssignmentsRequest {
  node_name: string;
  resource_version: string;
}

export interface AssignmentWire {
  type: string;
  object_json: string;
}

export interface AssignmentBatch {
  full: boolean;
  resource_version: string;
  items: AssignmentWire[];
}

export interface ContainerUsageWire {
  name: string;
  cpu_millicores: number;
  memory_bytes: number;
}

export interface PodUsageWire {
  namespace: string;
  name: string;
  uid: string;
  containers: ContainerUsageWire[];
}

export interface PodStatusReportWire {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  status_json: string;
}

export interface ReportStatusRequest {
  node_name: string;
  pods: PodStatusReportWire[];
  usage: PodUsageWire[];
  node_cpu_millicores: number;
  node_memory_bytes: number;
}

export interface ReportStatusResponse {
  ignored: string[];
}

export interface LogsRequestWire {
  namespace: string;
  pod: string;
  container: string;
  follow: boolean;
  tail_lines: number;
  previous: boolean;
  since_seconds: number;
  timestamps: boolean;
}
