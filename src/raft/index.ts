/**
 * berth's Raft: a pure consensus core (raft.ts), durable log storage on LevelDB
 * (log-store.ts), a gRPC peer transport (transport.ts) and the replica driver that joins
 * them to a clock (replica.ts). See README.md in this folder for the design.
 */
export * from './types.ts';
export { Raft, DEFAULT_CONFIG } from './raft.ts';
export { MemoryStorage } from './memory-storage.ts';
export { LogStore, CorruptLogError } from './log-store.ts';
export { GrpcTransport } from './transport.ts';
export { encodeMessages, decodeMessages, encodeConfChange, decodeConfChange, MalformedMessageError } from './codec.ts';
export { Replica, ReplicaError, realClock, type StateMachine, type Clock, type ReplicaOptions, type ReplicaStatus } from './replica.ts';
