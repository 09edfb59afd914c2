/** Subject names of wire protocol v1, under a configurable prefix (`dspex` by default). */
export interface Subjects {
  readonly prefix: string;
  rpc(endpoint: string): string;
  pool(pool: string): string;
  worker(pool: string, worker: string): string;
  workerHeartbeat(worker: string): string;
  /** Wildcard of every worker heartbeat. */
  readonly workerHeartbeats: string;
  nodeHeartbeat(node: string): string;
  readonly nodeHeartbeats: string;
  event(kind: string): string;
}

export function subjects(prefix = 'dspex'): Subjects {
  return {
    prefix,
    rpc: (endpoint) => `${prefix}.rpc.${endpoint}`,
    pool: (pool) => `${prefix}.pool.${pool}`,
    worker: (pool, worker) => `${prefix}.pool.${pool}.${worker}`,
    workerHeartbeat: (worker) => `${prefix}.hb.worker.${worker}`,
    workerHeartbeats: `${prefix}.hb.worker.*`,
    nodeHeartbeat: (node) => `${prefix}.hb.node.${node}`,
    nodeHeartbeats: `${prefix}.hb.node.*`,
    event: (kind) => `${prefix}.events.${kind}`,
  };
}
