/**
 * Golden-trace tests of the Raft core: every test/testdata/raft/**\/*.txt script is run
 * through the interaction interpreter (test/interaction/env.ts) and each command's
 * output must match the expected block. Regenerate with
 *   REWRITE=1 npx ava test/raft-interaction.test.ts
 * and then READ the diff: a golden file that records a bug is worse than none.
 */

import test from 'ava';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFile } from './interaction/datadriven.ts';
import { InteractionEnv } from './interaction/env.ts';

const root = fileURLToPath(new URL('./testdata/raft', import.meta.url));
const rewrite = process.env.REWRITE === '1';

function scripts(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...scripts(p));
    else if (name.endsWith('.txt')) out.push(p);
  }
  return out;
}

for (const file of scripts(root)) {
  test(`interaction: ${relative(root, file)}`, (t) => {
    const env = new InteractionEnv();
    const mismatches = runFile(file, (cmd) => env.handle(cmd), rewrite);
    for (const m of mismatches) {
      t.is(m.actual, m.expected, `${relative(process.cwd(), m.where)}: ${m.command}`);
    }
    if (mismatches.length === 0) t.pass();
  });
}
