/**
 * Helpers for tests that need a store without Raft: a fixed kind registry and a feeder
 * that hands commands to the store as consecutive entries, as the Raft driver would.
 */
import { encodeCommand, type Command } from './commands.ts';
import type { ObjectStore } from './store.ts';
import type { KindInfo, Result } from './types.ts';

/** The kinds tests use, as the API registry would describe them. */
export const TEST_KINDS: Readonly<Record<string, KindInfo>> = Object.freeze({
  Pod: { plural: 'pods', namespaced: true },
  ConfigMap: { plural: 'configmaps', namespaced: true },
  Secret: { plural: 'secrets', namespaced: true },
  Service: { plural: 'services', namespaced: true },
  Endpoints: { plural: 'endpoints', namespaced: true },
  Deployment: { plural: 'deployments', namespaced: true },
  ReplicaSet: { plural: 'replicasets', namespaced: true },
  Job: { plural: 'jobs', namespaced: true },
  Node: { plural: 'nodes', namespaced: false },
  Namespace: { plural: 'namespaces', namespaced: false },
});

export function testKindInfo(kind: string): KindInfo | undefined {
  return Object.hasOwn(TEST_KINDS, kind) ? TEST_KINDS[kind] : undefined;
}

/** Feeds commands to a store as entries at consecutive indexes after its applied index. */
export class EntryFeeder {
  /** The index the last fed entry had. */
  index: number;

  constructor(private readonly store: ObjectStore) {
    this.index = store.appliedIndex();
  }

  /** Apply each command as its own entry, all in one applyEntries call. */
  async apply(...cmds: Command[]): Promise<Result[]> {
    const entries = cmds.map((c) => ({ index: ++this.index, data: encodeCommand(c) }));
    return this.store.applyEntries(entries);
  }

  /** Apply one command as one entry. */
  async one(cmd: Command): Promise<Result> {
    return (await this.apply(cmd))[0]!;
  }

  /** Apply raw entry bytes (possibly invalid) at the next index. */
  async raw(data: Uint8Array): Promise<Result> {
    return (await this.store.applyEntries([{ index: ++this.index, data }]))[0]!;
  }
}
