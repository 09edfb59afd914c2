/**
 * The node's subscription to worker heartbeats (`<prefix>.hb.worker.*`). Every message is hostile
 * until checked: its signature (with a worker secret), then msgpack and the heartbeat schema, then
 * its sequence (no replays). Only a heartbeat that passes all three reaches `onHeartbeat`; the rest
 * are counted (`dspex_invalid_messages_total`, `dspex_worker_identity_rejected_total`) and dropped.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { decode, Encoding } from '../protocol/codec.js';
import { WorkerHeartbeatSchema, type WorkerHeartbeat } from '../protocol/schemas.js';
import { guarded } from '../telemetry/guard.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import type { WorkerIdentity } from './identity.js';

export interface WorkerHeartbeatsOptions {
  nc: NatsConnection;
  /** The heartbeat wildcard subject (`subjects.workerHeartbeats`). */
  subject: string;
  identity: WorkerIdentity;
  logger: Logger;
  metrics: RuntimeMetrics;
  /** Receives every heartbeat that verified and parsed. */
  onHeartbeat(heartbeat: WorkerHeartbeat): void;
}

/** Subscribes to worker heartbeats; unsubscribe the returned subscription to stop. */
export function subscribeWorkerHeartbeats(o: WorkerHeartbeatsOptions): Subscription {
  return o.nc.subscribe(o.subject, {
    callback: guarded('worker heartbeat', o.logger, o.metrics, (err, msg) => {
      if (err !== null) return;
      const forged = o.identity.checkHeartbeatSignature(msg.subject, msg.data, msg.headers);
      if (forged !== undefined) {
        o.identity.rejected('heartbeat', forged, msg.subject);
        return;
      }
      let body: unknown;
      try {
        body = decode(msg.data, Encoding.Msgpack);
      } catch {
        o.metrics.invalidMessages.inc({ subject: 'hb.worker' });
        return;
      }
      const parsed = WorkerHeartbeatSchema.safeParse(body);
      if (!parsed.success) {
        o.metrics.invalidMessages.inc({ subject: 'hb.worker' });
        return;
      }
      const stale = o.identity.checkHeartbeatBody(msg.subject, parsed.data);
      if (stale !== undefined) {
        o.identity.rejected('heartbeat', stale, msg.subject, parsed.data.id);
        return;
      }
      o.onHeartbeat(parsed.data);
    }),
  });
}
