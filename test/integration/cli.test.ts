import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PredictReply, StatusReply } from '../../src/protocol/schemas.js';
import { startNats, type NatsServer } from '../harness/nats.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'dspex.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/dspex.js …` to completion. */
function dspex(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: { ...cleanEnv(), ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The test process's environment without DSPEX_* settings that would change what the CLI does. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DSPEX_')));
}

/** Every live process below `pid`, from /proc (zombies count as gone). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // pid (comm) state ppid …; comm may contain spaces, so split after its closing parenthesis.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z') continue;
    const list = parents.get(Number(ppid)) ?? [];
    list.push(Number(entry));
    parents.set(Number(ppid), list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    for (const child of parents.get(todo.pop()!) ?? []) {
      out.push(child);
      todo.push(child);
    }
  }
  return out;
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

describe('dspex CLI', () => {
  let nats: NatsServer;
  let node: ChildProcess;
  const nodeLines: string[] = [];
  let nodeStderr = '';
  let nodeExit: Promise<number | null>;
  let ready: string;

  beforeAll(async () => {
    nats = await startNats();
    node = spawn(
      process.execPath,
      [BIN, 'node', '--nats', nats.url, '--pool', 'general=1', '--node-id', 'cli-test'],
      {
        cwd: ROOT,
        env: { ...cleanEnv(), DSPEX_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    nodeExit = new Promise((resolve) => node.once('exit', (code) => resolve(code)));
    node.stderr!.on('data', (chunk: Buffer) => (nodeStderr = (nodeStderr + chunk.toString()).slice(-20_000)));
    ready = await new Promise<string>((resolve, reject) => {
      createInterface({ input: node.stdout! }).on('line', (line) => {
        nodeLines.push(line);
        if (line.includes(' ready on ')) resolve(line);
      });
      void nodeExit.then((code) =>
        reject(new Error(`node exited with ${code} before ready:\n${nodeStderr}`)),
      );
    });
  });

  afterAll(async () => {
    if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
    await nats.stop();
  });

  it('prints one ready line naming the node and its NATS URL', () => {
    expect(ready).toBe(`dspex node cli-test ready on ${nats.url}`);
    expect(nodeLines).toEqual([ready]);
    // Logs are JSON lines on stderr.
    const first = nodeStderr.split('\n').find((l) => l.trim() !== '');
    expect(() => JSON.parse(first!) as unknown).not.toThrow();
  });

  it('reports the node, its pool and its ready worker with status --json', async () => {
    const result = await dspex(['status', '--nats', nats.url, '--json']);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as StatusReply;
    expect(status.nodes.map((n) => n.id)).toEqual(['cli-test']);
    const general = status.pools.find((p) => p.name === 'general');
    expect(general?.size).toBe(1);
    expect(general?.workers).toHaveLength(1);
    expect(general?.workers[0]).toMatchObject({ state: 'ready', managed: true, node: 'cli-test' });
    expect(general?.workers[0]?.pid).toBeGreaterThan(0);
  });

  it('prints the status as a table', async () => {
    const result = await dspex(['status', '--nats', nats.url]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^NODE\s+HOST\s+PID/m);
    expect(result.stdout).toMatch(/^cli-test \(answered\)/m);
    expect(result.stdout).toMatch(/^general\s+1\s+4\s+0\/1000\s+1\s+1$/m);
    expect(result.stdout).toMatch(/^general-cli-test-0\s+general\s+ready\s/m);
  });

  it('passes the container health check for a live node and a ready worker, and fails it otherwise', async () => {
    // The Dockerfile's HEALTHCHECK: `dspex status --node self` with DSPEX_NODE_ID set.
    const self = await dspex(['status', '--nats', nats.url, '--node', 'self'], { DSPEX_NODE_ID: 'cli-test' });
    expect(self.code).toBe(0);
    expect(self.stdout).toMatch(/^node cli-test: alive, last heartbeat [\d.]+s ago \(seen by cli-test\)$/m);
    const worker = await dspex(['status', '--nats', nats.url, '--worker', 'general-cli-test-0']);
    expect(worker.code).toBe(0);
    expect(worker.stdout).toMatch(/^worker general-cli-test-0: ready in pool general/m);

    const otherNode = await dspex(['status', '--nats', nats.url, '--node', 'cli-other']);
    expect(otherNode.code).toBe(1);
    expect(otherNode.stderr).toContain(
      'node cli-other: not among the live nodes seen by cli-test (cli-test)',
    );
    const noWorker = await dspex(['status', '--nats', nats.url, '--worker', 'general-x']);
    expect(noWorker.code).toBe(1);
    const unset = await dspex(['status', '--nats', nats.url, '--node', 'self']);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('--node self: DSPEX_NODE_ID is not set');
  });

  it('runs one prediction and prints its outputs', async () => {
    const args = [
      'predict',
      '--nats',
      nats.url,
      '--module',
      'ChainOfThought',
      '--signature',
      'question -> answer',
    ];
    const json = await dspex([...args, '--inputs', '{"question": "What is 2+2?"}', '--json']);
    expect(json.code).toBe(0);
    const reply = JSON.parse(json.stdout) as PredictReply;
    expect(reply.worker).toBe('general-cli-test-0');
    // The worker's default LM is DSPy's DummyLM, whose answers are derived from the inputs.
    expect(reply.outputs).toEqual({
      reasoning: 'reasoning for What is 2+2?',
      answer: 'answer for What is 2+2?',
    });

    const plain = await dspex([...args, '--inputs', '{"question": "Hello?"}']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('reasoning: reasoning for Hello?\nanswer: answer for Hello?\n');
  });

  it('exits 1 with the error when a call fails', async () => {
    const result = await dspex([
      'predict',
      '--nats',
      nats.url,
      '--module',
      'Predict',
      '--signature',
      'question -> answer',
      '--inputs',
      '{"query": "x"}',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^dspex predict: validation_failed: /);
  });

  it('stops on SIGTERM with exit code 0 and leaves no worker process behind', async () => {
    const status = JSON.parse((await dspex(['status', '--nats', nats.url, '--json'])).stdout) as StatusReply;
    const workerPid = status.pools[0]!.workers[0]!.pid;
    const below = await descendants(node.pid!);
    expect(below).toContain(workerPid);

    node.kill('SIGTERM');
    expect(await nodeExit).toBe(0);
    for (const pid of [workerPid, ...below]) expect(await alive(pid), `pid ${pid} still alive`).toBe(false);
    expect(nodeStderr).toContain('node stopped');
  });
});

describe('dspex CLI errors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dspex-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 2 on a bad config file and names the field', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({ pools: { general: { size: 1, concurrency: 0 } } }));
    const result = await dspex(['node', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`config file ${path}: pools.general.concurrency:`);
    expect(result.stdout).toBe('');
  });

  it('exits 2 on a bad DSPEX_* variable and names it', async () => {
    const result = await dspex(['node'], { DSPEX_NODE_ID: 'not a token' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('nodeId: expected 1-64 letters, digits');
  });

  it('exits 1 with a clear message when no node answers status', async () => {
    await using nats = await startNats();
    const result = await dspex(['status', '--nats', nats.url, '--timeout', '1000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no dspex node answered dspex.rpc.status on ${nats.url}`);
  });

  it('exits 1 when NATS is unreachable', async () => {
    const result = await dspex(['status', '--nats', 'nats://127.0.0.1:1', '--timeout', '1000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach NATS at nats://127.0.0.1:1');
  });
});
