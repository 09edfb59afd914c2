import { fromCallback } from 'xstate';
import type { WorkerInput, WorkerProcessCommand } from '../actors/worker-machine.js';
import type { WorkerExitInfo, WorkerLauncher } from './launcher.js';

/**
 * The `process` actor of a worker machine: starts the worker's Python process through its pool's
 * launcher, reports its pid and its exit, forwards `terminate` as SIGTERM, and kills the process
 * with SIGKILL if the actor is stopped while the process still runs. Remote workers have no
 * process here, so the actor does nothing for them.
 */
export function workerProcessLogic(launcherFor: (pool: string) => WorkerLauncher | undefined) {
  return fromCallback<WorkerProcessCommand, WorkerInput>(({ input, sendBack, receive }) => {
    const launcher = input.managed ? launcherFor(input.pool) : undefined;
    if (launcher === undefined) return undefined;
    let exited = false;
    let stopped = false;
    const onExit = (info: WorkerExitInfo): void => {
      if (exited || stopped) return;
      exited = true;
      sendBack({ type: 'process.exited', code: info.code, signal: info.signal });
    };
    launcher.spawn(input.id, onExit).then(
      (pid) => sendBack({ type: 'process.spawned', pid }),
      (error: unknown) => {
        if (exited) return;
        exited = true;
        sendBack({ type: 'process.exited', code: null, signal: null, error: String(error) });
      },
    );
    receive((command) => {
      if (command.type === 'process.terminate') launcher.signal(input.id, 'SIGTERM');
    });
    return () => {
      stopped = true;
      if (!exited) launcher.signal(input.id, 'SIGKILL');
    };
  });
}
