/**
 * The CRI log format: parsing, the encoder (F/P entries, long lines), and the reader
 * (partial lines joined, tail over large files, since, timestamps, follow).
 */
import test from 'ava';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriLineEncoder, MAX_LOG_LINE, parseCriLine, readCriLog, rfc3339Nano } from '../src/agent/cri-log.ts';
import { tmpDir, until } from './agent-helpers.ts';

test('parses entries and refuses what is not one', (t) => {
  t.deepEqual(parseCriLine('2024-01-01T00:00:00.123456789Z stdout F hello world'), {
    time: '2024-01-01T00:00:00.123456789Z',
    timeMs: Date.UTC(2024, 0, 1) + 123,
    stream: 'stdout',
    partial: false,
    text: 'hello world',
  });
  t.is(parseCriLine('2024-01-01T02:00:00+02:00 stderr P x')!.timeMs, Date.UTC(2024, 0, 1));
  t.true(parseCriLine('2024-01-01T00:00:00Z stderr P x')!.partial);
  t.is(parseCriLine('2024-01-01T00:00:00Z stdout F')!.text, '');
  t.is(parseCriLine('2024-01-01T00:00:00Z stdout F:x text')!.text, 'text');
  for (const bad of ['', 'garbage', 'notatime stdout F x', '2024-01-01T00:00:00Z stdin F x', '2024-01-01T00:00:00Z stdout Q x']) {
    t.is(parseCriLine(bad), undefined, bad);
  }
  t.is(rfc3339Nano(Date.UTC(2024, 0, 1, 0, 0, 0, 5), 42), '2024-01-01T00:00:00.005000042Z');
});

test('the encoder writes F for whole lines, P for pieces, and splits long lines', (t) => {
  const enc = new CriLineEncoder('stdout', () => 'T');
  const text = (bs: Buffer[]) => bs.map((b) => b.toString()).join('');
  t.is(text(enc.push(Buffer.from('a\nb'))), 'T stdout F a\n');
  t.true(enc.hasPending);
  t.is(text(enc.push(Buffer.from('c\n'))), 'T stdout F bc\n');
  t.is(text(enc.flushPartial()), '');
  enc.push(Buffer.from('tail'));
  t.is(text(enc.flushPartial()), 'T stdout P tail\n');
  const long = enc.push(Buffer.from('x'.repeat(MAX_LOG_LINE + 10) + '\n'));
  t.is(long.length, 2);
  t.true(long[0]!.toString().startsWith('T stdout P '));
  t.is(long[1]!.toString(), `T stdout F ${'x'.repeat(10)}\n`);
});

async function read(path: string, opts: Parameters<typeof readCriLog>[1]) {
  let out = '';
  await readCriLog(path, opts, (b) => {
    out += b.toString();
  });
  return out;
}

test('reads joined lines, with tail, since and timestamps; a missing file is empty', async (t) => {
  const dir = tmpDir('crilog');
  const p = join(dir, '0.log');
  writeFileSync(
    p,
    [
      '2024-01-01T00:00:01Z stdout F one',
      '2024-01-01T00:00:02Z stdout P tw',
      '2024-01-01T00:00:03Z stdout F o',
      'not an entry',
      '2024-01-01T00:00:04Z stderr F three',
      '2024-01-01T00:00:05Z stdout P unfin',
      '2024-01-01T00:00:06Z stdout P ished',
      '2024-01-01T00:00:07Z stdout F torn-without-newline',
    ].join('\n'),
  );
  t.is(await read(p, {}), 'one\ntwo\nnot an entry\nthree\nunfinished');
  t.is(await read(p, { tailLines: 1 }), 'unfinished');
  t.is(await read(p, { tailLines: 2 }), 'three\nunfinished');
  t.is(await read(p, { tailLines: 4 }), 'two\nnot an entry\nthree\nunfinished');
  t.is(await read(p, { tailLines: 100 }), 'one\ntwo\nnot an entry\nthree\nunfinished');
  t.is(await read(p, { tailLines: 0 }), '');
  t.is(await read(p, { sinceMs: Date.UTC(2024, 0, 1, 0, 0, 4) }), 'three\nunfinished');
  t.is(await read(p, { timestamps: true, tailLines: 4 }), '2024-01-01T00:00:02Z two\nnot an entry\n2024-01-01T00:00:04Z three\n2024-01-01T00:00:05Z unfinished');
  t.is(await read(join(dir, 'missing.log'), {}), '');
});

test('tail over a file much larger than the read chunk', async (t) => {
  const dir = tmpDir('crilog-big');
  const p = join(dir, 'big.log');
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(`2024-01-01T00:00:00Z stdout F line ${i} ${'y'.repeat(20)}`);
  writeFileSync(p, lines.join('\n') + '\n');
  const out = await read(p, { tailLines: 3 });
  t.is(out, [19_997, 19_998, 19_999].map((i) => `line ${i} ${'y'.repeat(20)}\n`).join(''));
  const all = await read(p, { tailLines: -1 });
  t.is(all.split('\n').length, 20_001);
});

test('follow streams appended entries until the writer is done, or until aborted', async (t) => {
  const dir = tmpDir('crilog-follow');
  const p = join(dir, 'f.log');
  writeFileSync(p, '2024-01-01T00:00:00Z stdout F a\n');
  let out = '';
  let writing = true;
  const done = readCriLog(p, { follow: true, pollMs: 10, stillWriting: async () => writing }, (b) => {
    out += b.toString();
  });
  t.true(await until(() => out === 'a\n'));
  appendFileSync(p, '2024-01-01T00:00:01Z stdout P b');
  appendFileSync(p, '1\n2024-01-01T00:00:01Z stdout F 2\n');
  t.true(await until(() => out === 'a\nb12\n'));
  appendFileSync(p, '2024-01-01T00:00:02Z stdout F last\n');
  writing = false;
  await done;
  t.is(out, 'a\nb12\nlast\n');

  const ac = new AbortController();
  let out2 = '';
  const d2 = readCriLog(p, { follow: true, pollMs: 10, tailLines: 1, signal: ac.signal, stillWriting: async () => true }, (b) => {
    out2 += b.toString();
  });
  t.true(await until(() => out2 === 'last\n'));
  ac.abort();
  await d2;
  t.pass();
});
