/**
 * berth's object store: the one state machine of the control plane, fed only by committed
 * Raft entries, with list/watch for readers and encryption at rest for Secrets.
 * See README.md in this folder for the design and what the server must know.
 */
export type {
  JsonValue,
  JsonObject,
  OwnerReference,
  ObjectMeta,
  StoredObject,
  KindInfo,
  KindInfoFn,
  FailureCode,
  Success,
  Failure,
  Result,
  ChangeEvent,
} from './types.ts';
export { type KV, type KVOp, type LevelLike, MemoryKV, LevelKV } from './kv.ts';
export {
  type Command,
  type CreateCommand,
  type UpdateCommand,
  type UpdateStatusCommand,
  type DeleteCommand,
  type BatchCommand,
  type BindCommand,
  type PodBinding,
  type NoopCommand,
  type Precondition,
  encodeCommand,
  decodeCommand,
  MalformedCommandError,
} from './commands.ts';
export {
  ObjectStore,
  InvalidContinueTokenError,
  CorruptStoreError,
  inflateSnapshot,
  type ObjectStoreOptions,
  type ListOptions,
  type ListResult,
  type EntryInput,
  type AppliedInfo,
  type ApplyChunking,
  DEFAULT_APPLY_CHUNKING,
} from './store.ts';
export {
  TooOldResourceVersionError,
  WatchClosedError,
  InvalidResourceVersionError,
  parseResourceVersion,
  type WatchOptions,
  type WatchEvent,
  type WatchHandle,
} from './watch.ts';
export { SecretCipher, SecretCipherError, ENCRYPTION_ALG, type EncryptedData } from './encryption.ts';
export { withoutKeys } from './object-util.ts';
