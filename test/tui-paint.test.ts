/**
 * The painter (src/tui/paint.ts): what it writes, replayed on a small terminal emulator,
 * always leaves the terminal showing exactly the last screen — through random sequences
 * of screens (seeded) — while a frame rewrites only the lines that changed.
 */
import test from 'ava';
import { FakeTimers } from '../src/tui/clock.ts';
import { Controller } from '../src/tui/controller.ts';
import { mount } from '../src/tui/mount.tsx';
import { colorSupport, Painter, styleLine } from '../src/tui/paint.ts';
import { FakeClient, FakeStdin, FakeStdout, replicaStatus } from '../src/tui/testing.ts';
import type { Tone } from '../src/tui/rows.ts';
import type { Line, Screen } from '../src/tui/screen.ts';

/**
 * Enough of a VT100 for what the painter writes: cursor position (CSI r;c H), erase line
 * (CSI 2K), clear screen (CSI 2J), SGR and private modes (ignored), printable text.
 */
class Terminal {
  rows: string[][];
  private r = 0;
  private c = 0;
  constructor(
    readonly width: number,
    readonly height: number,
    /** Newlines are an error (the painter positions every line itself). */
    readonly strict = true,
  ) {
    this.rows = Array.from({ length: height }, () => Array<string>(width).fill(' '));
  }
  write(s: string): void {
    for (let i = 0; i < s.length; ) {
      if (s[i] === '\u001b' && s[i + 1] === '[') {
        let j = i + 2;
        while (j < s.length && !/[@-~]/.test(s[j]!)) j++;
        const params = s.slice(i + 2, j);
        const cmd = s[j];
        if (cmd === 'H') {
          const [row, col] = params.split(';').map((x) => Number(x || '1'));
          this.r = (row ?? 1) - 1;
          this.c = (col ?? 1) - 1;
        } else if (cmd === 'J' && params === '2') {
          for (const row of this.rows) row.fill(' ');
        } else if (cmd === 'K' && params === '2') {
          this.rows[this.r]?.fill(' ');
        } else if (cmd !== 'm' && cmd !== 'h' && cmd !== 'l') {
          throw new Error(`unexpected sequence ${JSON.stringify(s.slice(i, j + 1))}`);
        }
        i = j + 1;
        continue;
      }
      const ch = s[i]!;
      if (ch === '\n' || ch === '\r') {
        if (this.strict) throw new Error('the diff painter positions every line');
        if (ch === '\n') this.r = Math.min(this.height - 1, this.r + 1);
        this.c = 0;
        i++;
        continue;
      }
      if (this.c < this.width && this.rows[this.r]) this.rows[this.r]![this.c] = ch;
      this.c++;
      i++;
    }
  }
  text(): string[] {
    return this.rows.map((r) => r.join('').trimEnd());
  }
}

function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const TONES: Tone[] = ['normal', 'ok', 'warn', 'error', 'dim', 'busy'];

test('diff painting: the terminal always shows the last screen, and a frame rewrites only changed lines', (t) => {
  for (const colors of [false, true]) {
    const r = rng(colors ? 11 : 5);
    const term = new Terminal(40, 12);
    const painter = new Painter(term, { mode: 'diff', colors });
    let lines: Line[] = Array.from({ length: 11 }, (_, i) => ({ text: `row ${i}`, tone: 'normal' as Tone }));
    let height = 11;
    painter.paint({ width: 40, lines });
    for (let step = 0; step < 400; step++) {
      const before = painter.linesWritten;
      const roll = r();
      let changed = 0;
      let resized = false;
      if (roll < 0.05) {
        // A resize: fewer or more lines.
        height = 5 + Math.floor(r() * 7);
        lines = Array.from({ length: height }, (_, i) => ({ text: `h${height} ${i}`, tone: 'normal' as Tone }));
        painter.invalidate();
        resized = true;
      } else {
        lines = lines.slice();
        const n = Math.floor(r() * 4);
        for (let k = 0; k < n; k++) {
          const i = Math.floor(r() * height);
          const text = r() < 0.2 ? '' : `${'x'.repeat(Math.floor(r() * 40))}${step}`.slice(0, 40);
          const l: Line = { text, tone: TONES[Math.floor(r() * TONES.length)]!, ...(r() < 0.2 ? { inverse: true } : {}), ...(r() < 0.2 ? { bold: true } : {}) };
          if (styleLine(l, colors) !== styleLine(lines[i]!, colors)) changed++;
          lines[i] = l;
        }
      }
      const screen: Screen = { width: 40, lines };
      painter.paint(screen);
      const want = lines.map((l) => l.text.trimEnd());
      t.deepEqual(term.text().slice(0, height), want, `step ${step}`);
      t.true(term.text().slice(height).every((l) => l === ''), `nothing below the screen at step ${step}`);
      if (!resized) t.true(painter.linesWritten - before <= changed, `step ${step}: ${painter.linesWritten - before} lines written for ${changed} changed`);
    }
  }
});

test('full painting writes every frame whole, as plain lines when colours are off', (t) => {
  const out: string[] = [];
  const painter = new Painter({ write: (s: string) => out.push(s) }, { mode: 'full', colors: false });
  const screen: Screen = {
    width: 20,
    lines: [
      { text: ' Pods[2] ', tone: 'normal', inverse: true, bold: true },
      { text: '>a  Running', tone: 'ok', inverse: true },
      { text: ' b  Pending', tone: 'warn' },
    ],
  };
  painter.paint(screen);
  painter.paint(screen);
  t.deepEqual(out, [' Pods[2]\n>a  Running\n b  Pending', ' Pods[2]\n>a  Running\n b  Pending']);
});

test('line styles: tone as a foreground colour, bold and inverse; no codes for a plain line', (t) => {
  t.is(styleLine({ text: 'x', tone: 'normal' }, true), 'x');
  t.is(styleLine({ text: 'x', tone: 'error' }, true), '\u001b[31mx\u001b[0m');
  t.is(styleLine({ text: '>x', tone: 'ok', inverse: true, bold: true }, true), '\u001b[1;7;36m>x\u001b[0m');
  t.is(styleLine({ text: '>x   ', tone: 'ok', inverse: true }, false), '>x');
});

test('colours: FORCE_COLOR, then NO_COLOR, then the terminal', (t) => {
  const tty = { isTTY: true, hasColors: () => true };
  t.true(colorSupport({}, { FORCE_COLOR: '1' }));
  t.false(colorSupport(tty, { FORCE_COLOR: '0' }));
  t.false(colorSupport(tty, { NO_COLOR: '1' }));
  t.true(colorSupport(tty, {}));
  t.false(colorSupport({ isTTY: false, hasColors: () => true }, {}));
  t.false(colorSupport({ isTTY: true }, {}));
});

test('mounted on a terminal: the screen is painted by line, keys move it, and foreign output is painted over', async (t) => {
  const flush = () => new Promise((r) => setImmediate(r));
  const client = new FakeClient();
  client.statuses = [1, 2, 3].map((i) => replicaStatus(i, 1, 3, client.endpoints));
  for (let i = 0; i < 30; i++) client.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${String(i).padStart(2, '0')}`, namespace: 'default' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Pending' } });
  const timers = new FakeTimers();
  const stdout = new FakeStdout(80, 14);
  const stdin = new FakeStdin();
  const term = new Terminal(80, 14, false);
  const replay = (from: number) => {
    for (const f of stdout.frames.slice(from)) term.write(f);
    return stdout.frames.length;
  };
  const controller = new Controller({ client, timers, context: 't', namespace: 'default', width: 80, height: 14, tickMs: 0 });
  const ui = mount(controller, { stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream, stderr: stdout as unknown as NodeJS.WriteStream, patchConsole: false, exitOnCtrlC: false, maxFps: 0 });
  controller.start();
  await flush();
  timers.advance(20);
  await flush();
  const shows = () => controller.screen().lines.map((l) => l.text.trimEnd());
  let seen = replay(0);
  t.deepEqual(term.text().slice(0, 13), shows());
  t.regex(term.text().join('\n'), /^>p-00 /m);

  // A key: two lines change (the cursor leaves one row for the next), two are written.
  const written = ui.painter.linesWritten;
  stdin.type('j');
  seen = replay(seen);
  t.regex(term.text().join('\n'), /^>p-01 /m);
  t.is(ui.painter.linesWritten - written, 2);

  // Something else writes to the terminal: the next frame repaints everything.
  stdout.write('a warning from somewhere\n');
  seen = replay(seen);
  t.notDeepEqual(term.text().slice(0, 13), shows());
  await flush();
  seen = replay(seen);
  t.deepEqual(term.text().slice(0, 13), shows());
  ui.unmount();
  controller.stop();
});
