/**
 * The TypeScript programs of README.md and docs/ (the blocks that import dspex) type-check against
 * the sources, and those that need no hosted model run to completion with real workers (DummyLM).
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docSnippets, isProgram, needsHostedModel, type Snippet } from '../harness/doc-snippets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository, so `zod` and the other dependencies resolve from its node_modules.
const DIR = join(ROOT, 'node_modules', '.cache', `dspex-doc-snippets-${process.pid}`);
const programs = docSnippets(ROOT, ['ts', 'typescript']).filter(isProgram);
const fileOf = (s: Snippet): string => s.where.replace(/[/.:]/g, '_') + '.ts';

function run(cmd: string, args: string[], timeout: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        cwd: ROOT,
        timeout,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSPEX_'))),
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
          out: stdout + stderr,
        }),
    );
  });
}

describe('documentation programs', () => {
  beforeAll(async () => {
    await mkdir(DIR, { recursive: true });
    for (const s of programs) {
      // Run against the sources, as `import … from 'dspex'` resolves in an installed package.
      const code = s.code.replaceAll("from 'dspex'", `from '${ROOT}src/index.js'`);
      await writeFile(join(DIR, fileOf(s)), code);
      // .mts to run: tsx takes a .ts file under node_modules for CommonJS.
      await writeFile(join(DIR, fileOf(s).replace(/\.ts$/, '.mts')), code);
    }
    await writeFile(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: true, rootDir: ROOT, noUnusedLocals: false },
        include: ['*.ts'],
      }),
    );
  });
  afterAll(async () => {
    await rm(DIR, { recursive: true, force: true });
  });

  it('finds the programs of README.md and docs/', () => {
    expect(programs.map((p) => p.where)).toContain('README.md:42');
    expect(programs.length).toBeGreaterThanOrEqual(6);
  });

  it('type-checks every program (strict, as the repository)', async () => {
    const { code, out } = await run(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', DIR],
      120_000,
    );
    // Name the page and line of each error instead of the temp file.
    const named = programs.reduce((text, s) => text.replaceAll(fileOf(s), s.where), out);
    expect(named).toBe('');
    expect(code).toBe(0);
  });

  it('has programs that are valid JavaScript on this Node once their types are stripped', async () => {
    // A reader on Node 20 pasting the example into a .mjs file: `await using` is not syntax there.
    for (const s of programs) {
      const js = ts.transpileModule(s.code, {
        compilerOptions: {
          target: ts.ScriptTarget.ESNext,
          module: ts.ModuleKind.ESNext,
          verbatimModuleSyntax: false,
        },
      }).outputText;
      const file = join(DIR, fileOf(s).replace(/\.ts$/, '.mjs'));
      await writeFile(file, js);
      const { code, out } = await run(process.execPath, ['--check', file], 30_000);
      expect(code, `${s.where} on Node ${process.version}: ${out}`).toBe(0);
    }
  });

  it('has shell blocks that bash parses (bash -n)', async () => {
    for (const s of docSnippets(ROOT, ['sh', 'bash', 'shell'])) {
      const file = join(DIR, fileOf(s).replace(/\.ts$/, '.sh'));
      await writeFile(file, s.code);
      const { code, out } = await run('bash', ['-n', file], 30_000);
      expect(code, `${s.where}: ${out}`).toBe(0);
    }
  });

  for (const s of programs.filter((p) => !needsHostedModel(p))) {
    it(`runs ${s.where} to completion with DummyLM workers`, async () => {
      const { code, out } = await run(
        process.execPath,
        ['--import', 'tsx', join(DIR, fileOf(s).replace(/\.ts$/, '.mts'))],
        240_000,
      );
      expect(code, out.slice(-4000)).toBe(0);
    });
  }
});
