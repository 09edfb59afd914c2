/**
 * One runtime node with the default pool (`general`, 2 workers) on the run's shared nats-server
 * (./global-setup.ts), for the integration files that need nothing else. Starting a node and its
 * Python workers is most of such a file's time; the integration project runs its files in one
 * process (`isolate: false` in vitest.config.ts), so this module is evaluated once and the first
 * file that asks starts the node while the others reuse it.
 *
 * Rules for files on it: never stop it, and keep to your own names (session and run ids, variable,
 * tool and pipeline-function names, KV keys), so no test depends on another file or on the order.
 * It ends with the run: the global setup stops the server, and the workers and their zygote exit
 * when the test process does (the runtime's own no-orphan guarantee).
 */
import { inject } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { startRuntime } from './runtime.js';

export interface SharedNode {
  /** The shared nats-server's client URL. */
  url: string;
  rt: Runtime;
}

let shared: Promise<SharedNode> | undefined;

/** The shared node, started on first use. */
export function sharedNode(): Promise<SharedNode> {
  shared ??= (async () => {
    const url = inject('sharedNatsUrl');
    const rt = await startRuntime(url, { nodeId: 'shared', pools: { general: { size: 2 } } });
    return { url, rt };
  })();
  // A failed start is not cached: the next file tries again (and reports its own failure).
  shared.catch(() => {
    shared = undefined;
  });
  return shared;
}
