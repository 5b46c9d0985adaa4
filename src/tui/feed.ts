/**
 * Keeps an ObjectStore in step with the cluster the way client-go's reflector does: list,
 * then watch from the list's resourceVersion; when the stream breaks (the replica died,
 * was partitioned, or restarted), reconnect after a backoff — the client has moved on to
 * another endpoint by then — and resume from the last resourceVersion seen. When that
 * version is no longer in the server's history (OUT_OF_RANGE), or the server told the
 * watcher to relist (ABORTED, RESOURCE_EXHAUSTED), list again and diff into the store.
 */
import type { PlainObject, WatchEventOut } from '../client/client.ts';
import type { Timers } from './clock.ts';
import type { ObjectStore } from './store.ts';

/** What a feed needs of BerthClient. */
export interface FeedClient {
  readonly endpoint: string;
  list(kind: string, opts: { namespace?: string; serializable?: boolean }): Promise<{ items: PlainObject[]; resourceVersion: string }>;
  watch(
    kind: string,
    opts: { namespace?: string; resourceVersion?: string; allowBookmarks?: boolean },
    onEvent: (ev: WatchEventOut) => void,
    onEnd: (err: { code?: number; message: string } | undefined) => void,
  ): () => void;
}

export type FeedPhase = 'listing' | 'watching' | 'backoff' | 'stopped';

export interface FeedState {
  phase: FeedPhase;
  /** The endpoint the current (or last) call went to. */
  endpoint: string;
  /** Why the last stream or list ended, while reconnecting. */
  error?: string;
  /** Consecutive failures (0 while healthy). */
  failures: number;
  /** When the next attempt is due (backoff phase). */
  retryAt?: number;
}

/** gRPC codes after which resuming from the last resourceVersion cannot work. */
const OUT_OF_RANGE = 11;
const ABORTED = 10;
const RESOURCE_EXHAUSTED = 8;

export interface FeedOptions {
  timers: Timers;
  /** First backoff (doubled per failure up to maxBackoffMs). */
  backoffMs?: number;
  maxBackoffMs?: number;
  onState?: (s: FeedState) => void;
}

export class Feed {
  private cancelWatch: (() => void) | undefined;
  private timer: unknown;
  private stopped = false;
  private generation = 0;
  state: FeedState;

  constructor(
    readonly kind: string,
    private readonly client: FeedClient,
    readonly store: ObjectStore,
    private readonly opts: FeedOptions,
  ) {
    this.state = { phase: 'listing', endpoint: client.endpoint, failures: 0 };
  }

  start(): void {
    this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.cancelWatch?.();
    this.cancelWatch = undefined;
    if (this.timer !== undefined) this.opts.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.setState({ phase: 'stopped', endpoint: this.state.endpoint, failures: 0 });
  }

  private setState(s: FeedState): void {
    this.state = s;
    this.opts.onState?.(s);
  }

  private relist(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.setState({ ...this.state, phase: 'listing', endpoint: this.client.endpoint });
    // From the replica's own store, as informers list from the watch cache (resourceVersion
    // "0"): no round trip to the leader, and the watch continues from what was read.
    this.client.list(this.kind, { serializable: true }).then(
      (r) => {
        if (gen !== this.generation) return;
        this.store.replace(r.items, r.resourceVersion);
        this.watchFrom(r.resourceVersion, true);
      },
      (e: Error) => {
        if (gen !== this.generation) return;
        this.retry(e.message, true);
      },
    );
  }

  private watchFrom(resourceVersion: string, healthy: boolean): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    const endpoint = this.client.endpoint;
    let gotEvent = false;
    this.setState({ phase: 'watching', endpoint, failures: healthy ? 0 : this.state.failures, ...(healthy ? {} : { error: this.state.error }) });
    this.cancelWatch = this.client.watch(
      this.kind,
      { resourceVersion, allowBookmarks: true },
      (ev) => {
        if (gen !== this.generation) return;
        this.store.apply(ev);
        if (!gotEvent) {
          gotEvent = true;
          if (this.state.failures > 0) this.setState({ phase: 'watching', endpoint, failures: 0 });
        }
      },
      (err) => {
        if (gen !== this.generation) return;
        this.cancelWatch = undefined;
        const mustRelist = err !== undefined && (err.code === OUT_OF_RANGE || err.code === ABORTED || err.code === RESOURCE_EXHAUSTED);
        this.retry(err ? err.message : `watch stream from ${endpoint} ended`, mustRelist);
      },
    );
  }

  private retry(error: string, relist: boolean): void {
    if (this.stopped) return;
    const failures = this.state.failures + 1;
    const base = this.opts.backoffMs ?? 250;
    const delay = Math.min(this.opts.maxBackoffMs ?? 5000, base * 2 ** (failures - 1));
    const retryAt = this.opts.timers.now() + delay;
    this.setState({ phase: 'backoff', endpoint: this.state.endpoint, error, failures, retryAt });
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = undefined;
      if (relist || !this.store.resourceVersion) this.relist();
      else this.watchFrom(this.store.resourceVersion, false);
    }, delay);
  }
}
