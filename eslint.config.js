// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

/**
 * The layers of src/ (docs/architecture.md): each folder and the folders it may import from, besides
 * the base files src/errors.ts and src/version.ts. The table is acyclic (test/unit/lint/layers.test.ts
 * checks it), so no folder cycle can form; import-x/no-restricted-paths enforces it below.
 */
export const LAYERS = {
  signature: [],
  supervisors: [],
  protocol: ['signature'],
  actors: ['protocol', 'signature', 'supervisors'],
  telemetry: ['protocol', 'signature', 'supervisors', 'actors'],
  nats: ['protocol', 'signature', 'telemetry'],
  workers: ['nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  pools: ['workers', 'nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  llm: ['nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  variables: ['nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  sessions: ['nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  pipelines: ['nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  modules: ['variables', 'nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  optimize: ['variables', 'workers', 'nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  orchestrator: ['pools', 'nats', 'protocol', 'signature', 'telemetry', 'actors', 'supervisors'],
  runtime: [
    'llm',
    'modules',
    'optimize',
    'orchestrator',
    'pipelines',
    'pools',
    'sessions',
    'variables',
    'workers',
    'nats',
    'protocol',
    'signature',
    'telemetry',
    'actors',
    'supervisors',
  ],
  cli: [
    'runtime',
    'optimize',
    'workers',
    'nats',
    'protocol',
    'signature',
    'telemetry',
    'actors',
    'supervisors',
  ],
};

/** One zone per folder: every other folder it is not allowed to import from. */
const layerZones = Object.entries(LAYERS).map(([folder, allowed]) => ({
  target: `src/${folder}`,
  from: Object.keys(LAYERS)
    .filter((other) => other !== folder && !allowed.includes(other))
    .map((other) => `src/${other}`),
  message:
    folder === 'runtime' || folder === 'cli'
      ? `(layers: ${folder}/ may import ${allowed.join(', ')}; see docs/architecture.md)`
      : `(layers: ${folder}/ may import ${allowed.join(', ') || 'only src/errors.ts and src/version.ts'}; nothing but the public API and the CLI imports src/runtime/; see docs/architecture.md)`,
}));

/** Headers are built by wireHeaders only (see the rule below); repeated where machines add theirs. */
const rawHeaders = {
  name: '@nats-io/nats-core',
  importNames: ['headers'],
  message: 'Build headers with wireHeaders() from src/protocol/headers.ts (it sanitises values).',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'python/**', 'bin/**', 'bench/results/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Imports are written `./x.js` and resolve to `./x.ts`: without this no import-x rule resolves any.
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    // Every header dspex sends is built by wireHeaders (src/protocol/headers.ts), which sanitises
    // values: a raw nats.js `headers()` or `respondError()` elsewhere could throw on request content.
    files: ['src/**/*.ts'],
    ignores: ['src/protocol/headers.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [rawHeaders],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='respondError']",
          message:
            'Reply with errorHeaders() from src/protocol/codec.ts (respondError sets unsanitised headers).',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones }],
    },
  },
  {
    // Machines are pure XState logic: effects are injected, so no NATS, no node: modules (fs,
    // child_process, timers of node:timers, ...). Repeats the headers rule: a later no-restricted-imports
    // replaces an earlier one for the same files.
    files: ['src/**/*-machine.ts', 'src/supervisors/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [rawHeaders],
          patterns: [
            {
              group: ['node:*', '@nats-io/*'],
              message: 'Machines import no I/O: inject the effect through setup()/provide() instead.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['eslint.config.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
