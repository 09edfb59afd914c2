/**
 * `npm run schemas`: writes the JSON Schema of every wire message, generated from the zod schemas in
 * src/protocol/, to python/dspex_worker/schemas/ (see src/protocol/json-schema.ts). Files of message
 * types that no longer exist are removed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas, SCHEMA_DIR } from '../src/protocol/json-schema.js';

const dir = join(import.meta.dirname, '..', SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
const files = renderJsonSchemas();
let changed = 0;
for (const [name, text] of files) {
  const path = join(dir, name);
  let old: string | undefined;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    old = undefined;
  }
  if (old !== text) {
    writeFileSync(path, text);
    changed += 1;
  }
}
for (const name of readdirSync(dir)) {
  if (name.endsWith('.json') && !files.has(name)) {
    rmSync(join(dir, name));
    changed += 1;
  }
}
console.log(`${SCHEMA_DIR}: ${files.size} schemas, ${changed} written or removed`);
