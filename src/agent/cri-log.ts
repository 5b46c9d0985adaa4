/**
 * The CRI container log format, one entry per line:
 *
 *   <RFC3339Nano time> <stdout|stderr> <F|P> <text>
 *
 * F ends a line of the container's output; P is a piece of a longer line (or of one not yet
 * ended) that continues in the next entry. containerd writes this; the process runtime
 * writes the same so that one reader serves `berth logs` for every runtime.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';

export type LogStream = 'stdout' | 'stderr';

export interface CriLogEntry {
  /** The time as written (kept verbatim for `--timestamps`). */
  time: string;
  timeMs: number;
  stream: LogStream;
  partial: boolean;
  text: string;
}

/** One entry (without its newline); undefined when it is not in the format. */
export function parseCriLine(line: string): CriLogEntry | undefined {
  const a = line.indexOf(' ');
  if (a <= 0) return undefined;
  const b = line.indexOf(' ', a + 1);
  if (b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const time = line.slice(0, a);
  const timeMs = Date.parse(time);
  if (Number.isNaN(timeMs)) return undefined;
  // The tag may grow flags after a colon in future CRI versions ("F:x"); only the first is ours.
  const c = line.indexOf(' ', b + 1);
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const flag = tag.split(':')[0];
  if (flag !== 'F' && flag !== 'P') return undefined;
  return { time, timeMs, stream, partial: flag === 'P', text: c < 0 ? '' : line.slice(c + 1) };
}

/** `2024-01-01T00:00:00.123456789Z` from milliseconds plus extra nanoseconds (0..999999). */
export function rfc3339Nano(ms: number, extraNanos = 0): string {
  const iso = new Date(ms).toISOString(); // ...T00:00:00.123Z
  const nanos = String(Math.max(0, Math.min(999_999, Math.floor(extraNanos)))).padStart(6, '0');
  return `${iso.slice(0, 23)}${nanos}Z`;
}

/** Longest text in one entry; longer lines are split into P entries as containerd does. */
export const MAX_LOG_LINE = 16 * 1024;

/**
 * Turns a stream's raw bytes into CRI entries. Complete lines become F entries at once; the
 * bytes after the last newline wait for more, and `flushPartial` writes them as a P entry
 * (when the producer has gone quiet or exited), so nothing is held back indefinitely.
 */
export class CriLineEncoder {
  private pending: Buffer[] = [];
  private pendingLen = 0;

  constructor(
    readonly stream: LogStream,
    private readonly timestamp: () => string,
  ) {}

  /** CRI entries (bytes, newline-terminated) for `chunk`. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      this.add(chunk.subarray(start, nl), out);
      out.push(this.entry(this.take(), false));
      start = nl + 1;
    }
    if (start < chunk.length) this.add(chunk.subarray(start), out);
    return out;
  }

  /** The bytes waiting for a newline, as a P entry (none when nothing waits). */
  flushPartial(): Buffer[] {
    if (this.pendingLen === 0) return [];
    return [this.entry(this.take(), true)];
  }

  get hasPending(): boolean {
    return this.pendingLen > 0;
  }

  private add(b: Buffer, out: Buffer[]): void {
    while (b.length > 0) {
      const room = MAX_LOG_LINE - this.pendingLen;
      const piece = b.subarray(0, room);
      this.pending.push(piece);
      this.pendingLen += piece.length;
      b = b.subarray(piece.length);
      if (this.pendingLen >= MAX_LOG_LINE && b.length > 0) out.push(this.entry(this.take(), true));
    }
  }

  private take(): Buffer {
    const b = Buffer.concat(this.pending, this.pendingLen);
    this.pending = [];
    this.pendingLen = 0;
    return b;
  }

  private entry(text: Buffer, partial: boolean): Buffer {
    return Buffer.concat([Buffer.from(`${this.timestamp()} ${this.stream} ${partial ? 'P' : 'F'} `), text, Buffer.from('\n')]);
  }
}

export interface ReadLogOptions {
  /** Last N lines (complete lines of output, however many P entries each took); negative: all. */
  tailLines?: number;
  /** Skip entries older than this (ms since the epoch). */
  sinceMs?: number;
  /** Prefix every line with the time it was logged. */
  timestamps?: boolean;
  /** Keep reading what is appended until `stillWriting` says no more will come, or `signal` aborts. */
  follow?: boolean;
  stillWriting?: () => Promise<boolean>;
  signal?: AbortSignal;
  /** How often a followed file is checked for growth (ms, default 200). */
  pollMs?: number;
}

const READ_CHUNK = 64 * 1024;
const EMIT_AT = 32 * 1024;

/**
 * Streams a CRI log file as the container wrote it: entries are decoded, P pieces joined,
 * optionally time-prefixed, and handed to `emit` in chunks of up to ~32 KiB. Resolves when
 * done (end of file, or end of following); a missing file yields nothing.
 */
export async function readCriLog(path: string, opts: ReadLogOptions, emit: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    const tail = opts.tailLines ?? -1;
    let offset = tail >= 0 ? await findTailStart(fh, size, tail) : 0;
    const out = new OutputBuffer(emit, opts);
    let rest: Buffer = Buffer.alloc(0);
    const readTo = async (end: number) => {
      while (offset < end) {
        const len = Math.min(READ_CHUNK, end - offset);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        rest = await out.lines(rest.length ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead));
      }
    };
    await readTo(size);
    await out.flush();
    if (!opts.follow) return;
    const pollMs = opts.pollMs ?? 200;
    let lastCheck = 0;
    while (!opts.signal?.aborted) {
      let cur: number;
      try {
        cur = (await stat(path)).size;
      } catch {
        break; // removed: the container is gone
      }
      if (cur < offset) {
        offset = 0; // truncated: start over
        rest = Buffer.alloc(0);
      }
      if (cur > offset) {
        await readTo(cur);
        await out.flush();
        continue;
      }
      // Asking whether the container still runs costs a runtime call: about once a second.
      const now = Date.now();
      if (now - lastCheck >= 1000) {
        lastCheck = now;
        const more = opts.stillWriting ? await opts.stillWriting() : true;
        if (!more) {
          const last = (await stat(path).catch(() => undefined))?.size ?? offset;
          if (last > offset) await readTo(last);
          await out.flush();
          break;
        }
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, pollMs);
        function done() {
          clearTimeout(t);
          opts.signal?.removeEventListener('abort', done);
          resolve();
        }
        opts.signal?.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await fh.close();
  }
}

/** Decodes complete entries and batches the text for `emit`. */
class OutputBuffer {
  private parts: string[] = [];
  private size = 0;
  /** The last entry written was a P: the next one continues its line (no time prefix). */
  private continuing = false;
  /** The last entry was before `sinceMs`: text that is not an entry goes with it. */
  private skipping = false;

  constructor(
    private readonly emit: (chunk: Buffer) => Promise<void> | void,
    private readonly opts: ReadLogOptions,
  ) {}

  /** Consumes every complete entry in `buf`; returns the bytes after the last newline. */
  async lines(buf: Buffer): Promise<Buffer> {
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      this.entry(buf.toString('utf8', start, nl));
      start = nl + 1;
      if (this.size >= EMIT_AT) await this.flush();
    }
    return Buffer.from(buf.subarray(start));
  }

  private entry(line: string): void {
    const e = parseCriLine(line);
    if (!e) {
      // Not an entry: pass the text through rather than lose it.
      if (line !== '' && !this.skipping) this.push(`${line}\n`);
      this.continuing = false;
      return;
    }
    this.skipping = this.opts.sinceMs !== undefined && e.timeMs < this.opts.sinceMs;
    if (this.skipping) {
      this.continuing = e.partial;
      return;
    }
    const prefix = this.opts.timestamps && !this.continuing ? `${e.time} ` : '';
    this.push(prefix + e.text + (e.partial ? '' : '\n'));
    this.continuing = e.partial;
  }

  private push(s: string): void {
    this.parts.push(s);
    this.size += s.length;
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    await this.emit(chunk);
  }
}

/**
 * The offset where the last `n` lines begin. A line ends at an F entry; P entries after the
 * last F form a line still being written, which counts as one. Reads backwards in chunks, so
 * a long file costs only what the tail needs.
 */
async function findTailStart(fh: FileHandle, size: number, n: number): Promise<number> {
  if (n === 0) return size;
  const readAt = async (start: number, end: number) => {
    const buf = Buffer.alloc(end - start);
    await fh.read(buf, 0, buf.length, start);
    return buf;
  };
  // Bytes after the file's last newline are an entry still being written: not counted.
  let end = 0;
  for (let pos = size; pos > 0; ) {
    const start = Math.max(0, pos - READ_CHUNK);
    const idx = (await readAt(start, pos)).lastIndexOf(0x0a);
    if (idx >= 0) {
      end = start + idx + 1;
      break;
    }
    pos = start;
  }
  let lines = 0;
  let first = true;
  let carry = Buffer.alloc(0); // the tail of an entry that began in an earlier chunk
  let blockEnd = end - carry.length;
  while (blockEnd > 0 || carry.length > 0) {
    const start = Math.max(0, blockEnd - READ_CHUNK);
    const data = Buffer.concat([await readAt(start, blockEnd), carry]);
    let pos = data.length; // data[pos - 1] is the newline ending the entry being looked at
    for (;;) {
      if (pos === 0) break;
      const prevNl = pos >= 2 ? data.lastIndexOf(0x0a, pos - 2) : -1;
      if (prevNl < 0 && start > 0) break; // the entry began before this chunk
      const entryStart = prevNl + 1;
      const e = parseCriLine(data.toString('utf8', entryStart, pos - 1));
      const full = !e || !e.partial;
      if (first) {
        first = false;
        if (!full) lines = 1;
      }
      if (full) {
        if (lines === n) return start + pos;
        lines++;
      }
      pos = entryStart;
    }
    carry = Buffer.from(data.subarray(0, pos));
    blockEnd = start;
    if (start === 0) break;
  }
  return 0;
}
