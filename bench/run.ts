/**
 * `npm run bench -- NAME [args]` runs bench/NAME.ts. Every benchmark prints one JSON
 * object as its last line.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['run.ts', 'sim.ts'].includes(f))
  .map((f) => f.replace(/\.ts$/, ''));
if (!name || !/^[a-z0-9-]+$/.test(name) || !existsSync(join(here, `${name}.ts`))) {
  process.stderr.write(`usage: npm run bench -- NAME [args]\navailable: ${available.join(', ')}\n`);
  process.exit(2);
}
process.argv = [process.argv[0]!, join(here, `${name}.ts`), ...rest];
await import(pathToFileURL(join(here, `${name}.ts`)).href);
