/**
 * A small reader/writer for golden-trace scripts (in the spirit of cockroachdb's
 * datadriven, used by etcd raft's testdata). A file is a sequence of cases:
 *
 *   # comments and blank lines before a command are kept as they are
 *   command arg key=value key=(1,2,3)
 *   ----
 *   expected output, up to the next blank line (or the end of the file)
 *
 * Output never contains blank lines (the interpreter guarantees it), so a blank line
 * always ends a block. With REWRITE=1 the expected blocks are replaced by the actual
 * output and the file is written back.
 */

import { readFileSync, writeFileSync } from 'node:fs';

export interface Command {
  name: string;
  /** Positional arguments, as written (a group stays "(1,2)"). */
  args: string[];
  /** key=value arguments; a value "(1,2,3)" is split into its items. */
  kv: Map<string, string[]>;
  line: string;
  /** 1-based line number of the command in its file. */
  lineNo: number;
}

export interface Case {
  /** Comment and blank lines before the command. */
  preamble: string[];
  cmd: Command;
  expected: string;
}

export interface Script {
  cases: Case[];
  /** Comment/blank lines after the last case. */
  trailer: string[];
}

function tokenize(line: string): string[] {
  const toks: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of line) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (/\s/.test(ch) && depth === 0) {
      if (cur) toks.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur) toks.push(cur);
  return toks;
}

/** "(1,2, 3)" → ["1","2","3"]; "x" → ["x"]; "()" → []. */
export function splitGroup(v: string): string[] {
  if (v.startsWith('(') && v.endsWith(')')) {
    return v
      .slice(1, -1)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }
  return [v];
}

export function parseCommand(line: string, lineNo: number): Command {
  const [name, ...rest] = tokenize(line.trim());
  const args: string[] = [];
  const kv = new Map<string, string[]>();
  for (const t of rest) {
    const eq = t.indexOf('=');
    if (eq > 0 && !t.startsWith('(')) kv.set(t.slice(0, eq), splitGroup(t.slice(eq + 1)));
    else args.push(t);
  }
  return { name: name ?? '', args, kv, line: line.trim(), lineNo };
}

export function parseScript(src: string, file: string): Script {
  const lines = src.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const cases: Case[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === '' || l.trimStart().startsWith('#')) {
      preamble.push(l);
      i++;
      continue;
    }
    const cmd = parseCommand(l, i + 1);
    i++;
    if (lines[i] !== '----') throw new Error(`${file}:${i + 1}: expected "----" after the command "${l}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    if (i < lines.length) i++; // the blank line that ends the block
    cases.push({ preamble, cmd, expected: out.join('\n') });
    preamble = [];
  }
  return { cases, trailer: preamble };
}

export function formatScript(s: Script, outputs: string[]): string {
  const out: string[] = [];
  s.cases.forEach((c, i) => {
    out.push(...c.preamble, c.cmd.line, '----', outputs[i]!, '');
  });
  out.push(...s.trailer);
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return `${out.join('\n')}\n`;
}

export interface Mismatch {
  where: string;
  command: string;
  expected: string;
  actual: string;
}

/**
 * Run every case of `file` through `run` (a fresh interpreter per file). Returns the
 * mismatches, or rewrites the file when `rewrite` is set.
 */
export function runFile(file: string, run: (cmd: Command) => string, rewrite: boolean): Mismatch[] {
  const script = parseScript(readFileSync(file, 'utf8'), file);
  const outputs: string[] = [];
  const mismatches: Mismatch[] = [];
  for (const c of script.cases) {
    let actual: string;
    try {
      actual = run(c.cmd);
    } catch (e) {
      throw new Error(`${file}:${c.cmd.lineNo}: "${c.cmd.line}" failed: ${(e as Error).stack ?? String(e)}`);
    }
    if (actual.split('\n').some((l) => l.trim() === '')) {
      throw new Error(`${file}:${c.cmd.lineNo}: output of "${c.cmd.line}" contains a blank line`);
    }
    outputs.push(actual);
    if (actual !== c.expected) {
      mismatches.push({ where: `${file}:${c.cmd.lineNo}`, command: c.cmd.line, expected: c.expected, actual });
    }
  }
  if (rewrite) writeFileSync(file, formatScript(script, outputs));
  return rewrite ? [] : mismatches;
}
