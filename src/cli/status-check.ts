import type { StatusReply } from '../protocol/schemas.js';
import { age } from './status-table.js';

/** What `dspex status --node ID --worker ID` asks of the cluster's status (a health check). */
export interface StatusCheck {
  /** This node must be among the live nodes (heard from within three heartbeats). */
  node?: string;
  /** This worker must be known and `ready` or `busy`. */
  worker?: string;
}

export interface StatusCheckResult {
  ok: boolean;
  /** One line per check: what was found, or why it failed. */
  lines: string[];
}

/**
 * Checks a status reply for the node and worker named in `check`. Used by container health checks:
 * a node that stops heartbeating, or a worker that is not serving, fails it.
 */
export function checkStatus(status: StatusReply, check: StatusCheck, now = Date.now()): StatusCheckResult {
  const answered = status.nodes.find((n) => n.self)?.id ?? 'the answering node';
  const lines: string[] = [];
  let ok = true;
  if (check.node !== undefined) {
    const node = status.nodes.find((n) => n.id === check.node);
    if (node === undefined) {
      ok = false;
      const live = status.nodes.map((n) => n.id).join(', ') || 'none';
      lines.push(`node ${check.node}: not among the live nodes seen by ${answered} (${live})`);
    } else {
      lines.push(`node ${node.id}: alive, last heartbeat ${age(node.last_seen, now)} (seen by ${answered})`);
    }
  }
  if (check.worker !== undefined) {
    const found = status.pools
      .flatMap((p) => p.workers.map((w) => ({ pool: p.name, ...w })))
      .find((w) => w.id === check.worker);
    if (found === undefined) {
      ok = false;
      lines.push(`worker ${check.worker}: not known to ${answered}`);
    } else if (found.state !== 'ready' && found.state !== 'busy') {
      ok = false;
      lines.push(
        `worker ${found.id}: ${found.state} in pool ${found.pool}, not serving (seen by ${answered})`,
      );
    } else {
      lines.push(
        `worker ${found.id}: ${found.state} in pool ${found.pool}, last heartbeat ${age(found.last_seen, now)} (seen by ${answered})`,
      );
    }
  }
  return { ok, lines };
}
