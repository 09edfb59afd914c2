import type { StatusReply } from '../protocol/schemas.js';
import type { ResolvedPoolOptions } from './config.js';
import type { KnownNode } from '../nats/node-registry.js';
import type { RoutableWorker } from '../pools/routing.js';
import type { WorkerHeartbeat } from '../protocol/schemas.js';

interface StatusWorker extends RoutableWorker {
  managed: boolean;
  heartbeat: WorkerHeartbeat | undefined;
  lastSeen: number;
}

/** Builds the `dspex.rpc.status` reply from this node's view of the cluster. */
export function buildStatus(input: {
  nodeId: string;
  nodes: KnownNode[];
  pools: Array<{
    name: string;
    options: ResolvedPoolOptions;
    queueLength: number;
    workers: readonly StatusWorker[];
  }>;
}): StatusReply {
  return {
    nodes: input.nodes.map((n) => ({
      id: n.id,
      host: n.host,
      pid: n.pid,
      started_at: n.started_at,
      last_seen: n.lastSeen,
      self: n.id === input.nodeId,
    })),
    pools: input.pools.map((p) => ({
      name: p.name,
      size: p.options.size,
      concurrency: p.options.concurrency,
      queue: { length: p.queueLength, limit: p.options.queueLimit },
      workers: p.workers.map((w) => {
        const worker: StatusReply['pools'][number]['workers'][number] = {
          id: w.id,
          state: w.state,
          inflight: w.inflight,
          calls: w.calls,
          host: w.heartbeat?.host ?? '',
          pid: w.heartbeat?.pid ?? 0,
          managed: w.managed,
          rss_bytes: w.heartbeat?.rss_bytes ?? 0,
          last_seen: w.lastSeen,
        };
        if (w.heartbeat?.node !== undefined) worker.node = w.heartbeat.node;
        if (w.heartbeat?.lm !== undefined) worker.lm = w.heartbeat.lm;
        return worker;
      }),
    })),
  };
}
