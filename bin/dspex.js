#!/usr/bin/env node
// The `dspex` command. Runs the compiled CLI (dist/, from `npm run build`) when there is one, else
// the TypeScript sources through tsx (a devDependency), so it works in a source checkout too.
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      'dspex: not built (run `npm run build`) and tsx is not installed (run `npm install`)\n',
    );
    process.exit(1);
  }
  register();
  cli = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
await cli.run();
