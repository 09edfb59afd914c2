import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/command.js';
import { main } from '../../../src/cli/main.js';
import { VERSION } from '../../../src/version.js';

function capture(env: NodeJS.ProcessEnv = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    env,
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    onSignal: () => () => undefined,
  };
}

describe('dspex main', () => {
  it('prints the version', async () => {
    const io = capture();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.out).toEqual([VERSION]);
  });

  it('prints the usage for --help and exits 2 without a command', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out.join('\n')).toMatch(/Usage: dspex <command>[\s\S]*node[\s\S]*status[\s\S]*predict/);
    expect(await main([], capture())).toBe(2);
  });

  it.each(['node', 'status', 'predict', 'worker'])('prints the help of %s', async (name) => {
    const io = capture();
    expect(await main([name, '--help'], io)).toBe(0);
    expect(io.out.join('\n')).toContain(`Usage: dspex ${name}`);
  });

  it('prints the worker the runtime would start, and refuses a DSPEX_WORKER_BIN that is not executable', async () => {
    const io = capture({ DSPEX_WORKER_BIN: process.execPath });
    expect(await main(['worker', 'path'], io)).toBe(0);
    expect(io.out).toEqual([process.execPath]);
    expect(io.err).toEqual(['(from DSPEX_WORKER_BIN)']);
    const bad = capture({ DSPEX_WORKER_BIN: '/nonexistent/dspex-worker' });
    expect(await main(['worker', 'path'], bad)).toBe(1);
    expect(bad.err[0]).toMatch(
      /^dspex worker path: DSPEX_WORKER_BIN=\/nonexistent\/dspex-worker is not an executable file\. Fix: /,
    );
    const usage = capture();
    expect(await main(['worker', 'remove'], usage)).toBe(2);
    expect(usage.err[0]).toBe('dspex worker: unknown subcommand "remove" (expected install, path or key)');
  });

  it('rejects an unknown command with exit code 2', async () => {
    const io = capture();
    expect(await main(['frobnicate'], io)).toBe(2);
    expect(io.err.join('\n')).toContain('unknown command "frobnicate"');
  });

  it('rejects bad flags with exit code 2 and names the flag', async () => {
    const io = capture();
    expect(
      await main(['predict', '--module', 'Predict', '--signature', 'q -> a', '--inputs', '[1]'], io),
    ).toBe(2);
    expect(io.err[0]).toBe(
      'dspex predict: --inputs: expected a JSON object, e.g. {"question": "What is 2+2?"}',
    );
    const io2 = capture();
    expect(await main(['status', '--timeout', 'soon'], io2)).toBe(2);
    expect(io2.err[0]).toContain('--timeout: expected a positive integer');
    const io3 = capture();
    expect(await main(['node', '--pool', 'general'], io3)).toBe(2);
    expect(io3.err[0]).toContain('--pool: expected NAME=SIZE');
  });

  it('requires module, signature and inputs for predict', async () => {
    const io = capture();
    expect(await main(['predict', '--signature', 'q -> a', '--inputs', '{}'], io)).toBe(2);
    expect(io.err[0]).toContain('--module is required');
  });
});
