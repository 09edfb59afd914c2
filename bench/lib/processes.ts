/** Child-process checks, so one measured run cannot leave processes behind to disturb the next. */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** Direct children of this process (pid and command line), from `ps`, without the `ps` itself. */
export function childProcesses(): { pid: number; args: string }[] {
  const out = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  if (out.status !== 0 && out.stdout === '') return [];
  return out.stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2]! }))
    .filter((p) => p.pid !== out.pid && !p.args.startsWith('ps -o'));
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits until none of `pids` and no child of this process outside `before` (pids of children that
 * existed before the run, such as tsx's esbuild service) is alive. Resolves with what is still alive
 * after `timeoutMs` (empty when everything exited).
 */
export async function waitForExit(
  pids: readonly number[],
  before: ReadonlySet<number>,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = [
      ...pids.filter(alive).map((pid) => `pid ${pid}`),
      ...childProcesses()
        .filter((p) => !before.has(p.pid))
        .map((p) => `child ${p.pid} ${p.args.slice(0, 80)}`),
    ];
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}
