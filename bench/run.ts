/**
 * Benchmark runner: `npm run bench [-- [--quick] [--markdown FILE] [scenario ...]]`.
 *
 * Runs every `bench/scenarios/*.ts` (default export implementing `Scenario`) or the ones named,
 * prints each result as a Markdown table, writes `bench/results/<scenario>.json`, and with
 * `--markdown FILE` appends a dated section with the machine line and the tables to FILE.
 * Exits 1 when a scenario throws (the others still run), 2 on bad arguments.
 */
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo, machineLine } from './lib/machine.js';
import { renderMarkdown } from './lib/report.js';
import type { Scenario, ScenarioResult } from './types.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(benchDir, '..');

function isScenario(value: unknown): value is Scenario {
  const s = value as Partial<Scenario> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.name === 'string' &&
    typeof s.description === 'string' &&
    typeof s.run === 'function'
  );
}

async function loadScenarios(): Promise<Scenario[]> {
  const dir = join(benchDir, 'scenarios');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort();
  const scenarios: Scenario[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
    if (!isScenario(mod.default)) {
      throw new Error(`bench/scenarios/${file}: the default export is not a Scenario`);
    }
    scenarios.push(mod.default);
  }
  return scenarios;
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: tsx bench/run.ts [--quick] [--markdown FILE] [scenario ...]\n`);
  process.exit(2);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { quick: { type: 'boolean', default: false }, markdown: { type: 'string' } },
    });
  } catch (error) {
    usage((error as Error).message);
  }
  const quick = parsed.values.quick;
  const all = await loadScenarios();
  const wanted = parsed.positionals;
  for (const name of wanted) {
    if (!all.some((s) => s.name === name)) {
      usage(`unknown scenario "${name}" (known: ${all.map((s) => s.name).join(', ')})`);
    }
  }
  const selected = wanted.length === 0 ? all : all.filter((s) => wanted.includes(s.name));

  const machine = machineInfo(root);
  const line = machineLine(machine);
  const resultsDir = join(benchDir, 'results');
  await mkdir(resultsDir, { recursive: true });
  process.stdout.write(`# dspex benchmarks${quick ? ' (quick)' : ''}\n\n${line}\n\n`);

  const sections: string[] = [];
  let failures = 0;
  for (const scenario of selected) {
    process.stderr.write(`bench: running ${scenario.name}${quick ? ' (quick)' : ''}…\n`);
    const date = new Date().toISOString();
    const loadBefore = loadavg()[0]!;
    const started = performance.now();
    let result: ScenarioResult;
    try {
      result = await scenario.run({ quick });
    } catch (error) {
      failures++;
      process.stderr.write(`bench: ${scenario.name} failed: ${(error as Error).stack ?? String(error)}\n`);
      continue;
    }
    const seconds = (performance.now() - started) / 1000;
    const loadAfter = loadavg()[0]!;
    const load = `Load average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (${machine.cpu_count} CPUs).`;
    const markdown = `${renderMarkdown(scenario.name, scenario.description, result)}\n${load}\n`;
    process.stdout.write(markdown + '\n');
    sections.push(markdown);
    const file = join(resultsDir, `${scenario.name}.json`);
    const record = {
      scenario: scenario.name,
      description: scenario.description,
      date,
      duration_s: Math.round(seconds * 10) / 10,
      quick,
      machine,
      load_avg_1m: { before: loadBefore, after: loadAfter },
      rows: result.rows,
      ratios: result.ratios ?? {},
      notes: result.notes ?? [],
    };
    await writeFile(file, JSON.stringify(record, null, 2) + '\n');
    process.stderr.write(`bench: ${scenario.name} took ${seconds.toFixed(1)} s; wrote ${file}\n`);
  }

  const target = parsed.values.markdown;
  if (target !== undefined && sections.length > 0) {
    const day = new Date().toISOString().slice(0, 10);
    const heading = `## ${day}${quick ? ' (quick run)' : ''}: ${selected.map((s) => s.name).join(', ')}`;
    const text = `\n${heading}\n\nMachine: ${line}\n\n${sections.join('\n')}`;
    await appendFile(resolve(target), text);
    process.stderr.write(`bench: appended ${sections.length} table(s) to ${basename(target)}\n`);
  }
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
