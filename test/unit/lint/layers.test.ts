/**
 * The layers of src/ are kept by ESLint (eslint.config.js, docs/architecture.md). These tests read
 * the rules from the real config, show each one firing on a deliberate violation, check that the
 * folder graph they allow has no cycle and places every folder, and that the tree keeps them.
 */
import { readdirSync } from 'node:fs';
import { ESLint, type Linter } from 'eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url).pathname;

interface Zone {
  target: string;
  from: string[];
}

/** The real config's rules, with type information (what `npx eslint` runs). */
const real = new ESLint({ cwd: root });

async function violations(code: string, filePath: string): Promise<string[]> {
  const [result] = await real.lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

let zones: Zone[];
let machineRule: Linter.RuleEntry;

beforeAll(async () => {
  const config = (await real.calculateConfigForFile(`${root}src/variables/options.ts`)) as Linter.Config;
  const paths = config.rules?.['import-x/no-restricted-paths'] as [unknown, { zones: Zone[] }];
  zones = paths[1].zones;
  const machine = (await real.calculateConfigForFile(`${root}src/actors/worker-machine.ts`)) as Linter.Config;
  machineRule = machine.rules!['no-restricted-imports']!;
}, 60_000);

/** Folder → the folders it may import, read back from the zones (every folder not restricted). */
function allowedGraph(): Map<string, string[]> {
  const folders = zones.map((z) => z.target.replace(/^src\//, ''));
  const graph = new Map<string, string[]>();
  for (const z of zones) {
    const self = z.target.replace(/^src\//, '');
    const banned = new Set(z.from.map((f) => f.replace(/^src\//, '')));
    graph.set(
      self,
      folders.filter((f) => f !== self && !banned.has(f)),
    );
  }
  return graph;
}

describe('layers', () => {
  it('places every folder of src/ in a layer', () => {
    const folders = readdirSync(`${root}src`, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect([...allowedGraph().keys()].sort()).toEqual(folders);
  });

  it('allows no folder cycle: the allowed imports form a DAG', () => {
    const graph = allowedGraph();
    const state = new Map<string, 'visiting' | 'done'>();
    const cycle: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycle.push(...path, f);
        return;
      }
      state.set(f, 'visiting');
      for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycle).toEqual([]);
  });

  it('lets no feature folder import src/runtime/', () => {
    const graph = allowedGraph();
    const features = [
      'variables',
      'sessions',
      'pipelines',
      'orchestrator',
      'optimize',
      'modules',
      'llm',
      'signature',
      'telemetry',
      'supervisors',
      'protocol',
      'actors',
      'nats',
      'pools',
      'workers',
    ];
    for (const f of features) expect(graph.get(f), f).not.toContain('runtime');
  });

  it('fires on a feature folder importing src/runtime/', async () => {
    const found = await violations(
      "import { resolveConfig } from '../runtime/config.js';\nexport const x = resolveConfig;\n",
      'src/variables/options.ts',
    );
    expect(found).toEqual([
      expect.stringMatching(/^import-x\/no-restricted-paths: .*"\.\.\/runtime\/config\.js"/),
    ]);
  }, 60_000);

  it('fires on a lower layer importing a higher one (the NATS edge importing pools/)', async () => {
    const found = await violations(
      "import { Dispatcher } from '../pools/dispatcher.js';\nexport const x = Dispatcher;\n",
      'src/nats/nats-url.ts',
    );
    expect(found).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths: /)]);
  }, 60_000);

  it('fires on a machine importing node: modules or NATS', async () => {
    const found = await violations(
      "import { readFileSync } from 'node:fs';\nimport { Kvm } from '@nats-io/kv';\nexport const x = [readFileSync, Kvm];\n",
      'src/actors/breaker-machine.ts',
    );
    expect(found).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*'node:fs'.*Machines import no I\/O/),
      expect.stringMatching(/^no-restricted-imports: .*'@nats-io\/kv'.*Machines import no I\/O/),
    ]);
  }, 60_000);

  it('lets an allowed import through', async () => {
    const found = await violations(
      "import { decode } from '../protocol/codec.js';\nexport const x = decode;\n",
      'src/nats/nats-url.ts',
    );
    expect(found).toEqual([]);
  }, 60_000);

  it('finds no violation in the tree', async () => {
    // The layer rules alone, without type information: the same zones, a fraction of the time.
    const fast = new ESLint({
      cwd: root,
      // Inline directives name rules of the full config that this one does not load.
      allowInlineConfig: false,
      overrideConfigFile: true,
      overrideConfig: [
        {
          files: ['src/**/*.ts'],
          languageOptions: { parser: tseslint.parser },
          plugins: { 'import-x': importX as unknown as ESLint.Plugin },
          settings: {
            'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
          },
          rules: { 'import-x/no-restricted-paths': ['error', { basePath: root, zones }] },
        },
        {
          files: ['src/**/*-machine.ts', 'src/supervisors/**/*.ts'],
          rules: { 'no-restricted-imports': machineRule },
        },
      ],
    });
    const results = await fast.lintFiles(['src/**/*.ts']);
    expect(results.length).toBeGreaterThan(100);
    const found = results.flatMap((r) =>
      r.messages.map(
        (m) => `${r.filePath.slice(root.length)}:${m.line} ${m.ruleId ?? 'parse'}: ${m.message}`,
      ),
    );
    expect(found).toEqual([]);
  }, 120_000);
});
