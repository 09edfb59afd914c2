#!/usr/bin/env node
// The `dspex` command. An installed package (and the Docker image) has no src/ and runs the
// compiled CLI in dist/. A source checkout runs its TypeScript sources through tsx (a
// devDependency), so it never runs a stale build; without tsx it falls back to dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
let register;
if (existsSync(source)) {
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    register = undefined;
  }
}
if (register !== undefined) {
  register();
  cli = await import(source.href);
} else if (existsSync(built)) {
  cli = await import(built.href);
} else {
  process.stderr.write(
    'dspex: no compiled CLI in dist/ and no tsx to run the sources: run `npm run build` or `npm install`\n',
  );
  process.exit(1);
}
await cli.run();
