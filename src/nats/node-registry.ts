import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { decode, encode, Encoding } from '../protocol/codec.js';
import { NodeHeartbeatSchema, type NodeHeartbeat } from '../protocol/schemas.js';
import type { Subjects } from '../protocol/subjects.js';
import type { RuntimeMetrics } from '../telemetry/metrics.js';
import { guarded } from '../telemetry/guard.js';

export interface KnownNode extends NodeHeartbeat {
  lastSeen: number;
  self: boolean;
}

/**
 * Cluster membership of runtime nodes: publishes this node's heartbeat and keeps the others',
 * forgetting a node after three missed heartbeats.
 */
export class NodeRegistry {
  private readonly nodes = new Map<string, KnownNode>();
  private timer: NodeJS.Timeout | undefined;
  private sub: Subscription | undefined;
  readonly startedAt = Date.now();

  constructor(
    private readonly o: {
      nc: NatsConnection;
      subjects: Subjects;
      nodeId: string;
      heartbeatMs: number;
      pools: () => string[];
      logger: Logger;
      metrics: RuntimeMetrics;
    },
  ) {}

  start(): void {
    this.sub = this.o.nc.subscribe(this.o.subjects.nodeHeartbeats, {
      callback: guarded('node heartbeat', this.o.logger, this.o.metrics, (err, msg) => {
        if (err !== null) return;
        const parsed = safeDecode(msg.data);
        const hb = NodeHeartbeatSchema.safeParse(parsed);
        if (!hb.success) {
          this.o.metrics.invalidMessages.inc({ subject: 'hb.node' });
          return;
        }
        this.nodes.set(hb.data.id, { ...hb.data, lastSeen: Date.now(), self: hb.data.id === this.o.nodeId });
      }),
    });
    this.beat();
    this.timer = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.timer.unref();
  }

  private beat(): void {
    const hb: NodeHeartbeat = {
      id: this.o.nodeId,
      host: hostname(),
      pid: process.pid,
      started_at: this.startedAt,
      ts: Date.now(),
      pools: this.o.pools(),
    };
    this.nodes.set(hb.id, { ...hb, lastSeen: hb.ts, self: true });
    try {
      this.o.nc.publish(this.o.subjects.nodeHeartbeat(this.o.nodeId), encode(hb, Encoding.Msgpack));
    } catch (err) {
      this.o.logger.warn({ err }, 'node heartbeat not published');
    }
    const stale = Date.now() - 3 * this.o.heartbeatMs;
    for (const [id, node] of this.nodes) if (!node.self && node.lastSeen < stale) this.nodes.delete(id);
  }

  list(): KnownNode[] {
    return [...this.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }
}

function safeDecode(data: Uint8Array): unknown {
  try {
    return decode(data, Encoding.Msgpack);
  } catch {
    return undefined;
  }
}
