/**
 * A container's log as the logs view holds it: lines from the client's log stream
 * (`BerthClient.logs`, follow on), split on newlines across chunk boundaries, the oldest
 * dropped beyond a cap so that a chatty container cannot eat the memory.
 */
import { StringDecoder } from 'node:string_decoder';
import type { LogsOptions } from '../client/client.ts';

export interface LogsClient {
  /** Absent on a client without the log API: the view says so. */
  logs?(namespace: string, pod: string, opts: LogsOptions, onData: (chunk: Buffer) => void): { done: Promise<void>; cancel: () => void };
}

export const MAX_LOG_LINES = 5000;

export type LogPhase = 'connecting' | 'streaming' | 'ended' | 'error';

export class LogSession {
  lines: string[] = [];
  /** Bumped whenever the lines change (the text view caches its wrapped lines on it). */
  version = 0;
  phase: LogPhase = 'connecting';
  error: string | undefined;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly client: LogsClient,
    readonly namespace: string,
    readonly pod: string,
    readonly container: string,
    readonly tail: number,
    readonly timestamps: boolean,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    if (typeof this.client.logs !== 'function') {
      this.phase = 'error';
      this.error = 'this client has no log API (Pods.Logs); logs are not available';
      this.onChange();
      return;
    }
    const h = this.client.logs(this.namespace, this.pod, { container: this.container, follow: true, tailLines: this.tail, timestamps: this.timestamps }, (chunk) => {
      if (this.stopped) return;
      this.phase = 'streaming';
      this.push(this.decoder.write(chunk));
      this.onChange();
    });
    this.cancel = h.cancel;
    h.done.then(
      () => {
        if (this.stopped) return;
        this.push(this.decoder.end());
        this.flushPartial();
        this.phase = 'ended';
        this.onChange();
      },
      (e: Error) => {
        if (this.stopped) return;
        this.flushPartial();
        this.phase = 'error';
        this.error = e.message;
        this.onChange();
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  /** Text as it arrives: complete lines are kept, the rest waits for its newline. */
  push(text: string): void {
    if (!text) return;
    this.version++;
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const p of parts) this.lines.push(p.replace(/\r$/, ''));
    if (this.lines.length > MAX_LOG_LINES) this.lines.splice(0, this.lines.length - MAX_LOG_LINES);
  }

  /** Every line, the unfinished last one included. */
  all(): string[] {
    return this.partial ? [...this.lines, this.partial] : this.lines;
  }

  private flushPartial(): void {
    if (this.partial) this.lines.push(this.partial);
    this.partial = '';
    this.version++;
  }
}
