/**
 * A Python baseline script run with the worker venv's interpreter and driven by JSON lines: we
 * write a command on its stdin, it answers with one JSON line on stdout. Keeping one process alive
 * lets a scenario interleave the baseline's measurements with its own (same machine state).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pythonBin } from './machine.js';

export interface PythonScript extends AsyncDisposable {
  /** The next JSON line the script prints (e.g. its unprompted `ready` line). */
  next(timeoutMs?: number): Promise<unknown>;
  /** Sends one command and returns its answer. */
  send(command: unknown, timeoutMs?: number): Promise<unknown>;
  /** Closes its stdin and waits for it to exit (SIGKILL after 5 s). */
  close(): Promise<void>;
}

/** Starts `bench/python/<script>` with `args` from the project root. */
export function startPython(root: string, script: string, args: string[]): PythonScript {
  const child = spawn(pythonBin(root), [join(root, 'bench', 'python', script), ...args], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: 'True' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const lines: string[] = [];
  let waiter: ((line: string | undefined) => void) | undefined;
  let ended = false;
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w(line);
    } else lines.push(line);
  });
  rl.on('close', () => {
    ended = true;
    waiter?.(undefined);
  });
  child.on('error', () => undefined); // reported through `close` → `next` rejecting

  const next = async (timeoutMs = 120_000): Promise<unknown> => {
    const queued = lines.shift();
    const line =
      queued ??
      (ended
        ? undefined
        : await new Promise<string | undefined>((resolve) => {
            const timer = setTimeout(() => {
              waiter = undefined;
              resolve(undefined);
            }, timeoutMs);
            waiter = (l) => {
              clearTimeout(timer);
              resolve(l);
            };
          }));
    if (line === undefined) {
      throw new Error(`${script}: no answer (${ended ? 'exited' : 'timed out'}); stderr:\n${stderr}`);
    }
    const value = JSON.parse(line) as unknown;
    if (typeof value === 'object' && value !== null && 'error' in value) {
      throw new Error(`${script}: ${String(value.error)}`);
    }
    return value;
  };

  const close = async (): Promise<void> => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  return {
    next,
    send: (command, timeoutMs) => {
      child.stdin.write(JSON.stringify(command) + '\n');
      return next(timeoutMs);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
