/**
 * Readiness of a node for `/readyz`: its NATS connection is up, and every pool that should have local
 * workers has at least one ready. Reads only what a `Runtime` exposes, through a structural type, so
 * this module does not depend on the runtime's wiring.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { StatusReply } from '../protocol/schemas.js';
import type { Readiness } from './http.js';

/** Tracks whether a connection is up from its status stream (a reconnecting client is not closed). */
export interface ConnectionWatch {
  connected(): boolean;
  stop(): void;
}

/** Watches `nc.status()`: `disconnect` → down, `reconnect` → up; a closed or draining connection is down. */
export function watchConnection(
  nc: Pick<NatsConnection, 'status' | 'isClosed' | 'isDraining'>,
): ConnectionWatch {
  let up = true;
  let stopped = false;
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'disconnect') up = false;
      else if (s.type === 'reconnect') up = true;
    }
  })().catch(() => undefined);
  return {
    connected: () => up && !nc.isClosed() && !nc.isDraining(),
    stop: () => {
      stopped = true;
    },
  };
}

/** What {@link nodeReadiness} reads: a `Runtime` fits. */
export interface ReadinessSource {
  nc: Pick<NatsConnection, 'status' | 'isClosed' | 'isDraining'>;
  status(): StatusReply;
}

/**
 * The readiness check of a node. Pools whose size is 0 (served only by remote workers) are not
 * required to have a local one; a pool is ready with any worker `ready` or `busy`.
 */
export function nodeReadiness(source: ReadinessSource): (() => Readiness) & { stop(): void } {
  const watch = watchConnection(source.nc);
  const check = (): Readiness => {
    const checks: Readiness['checks'] = {};
    const connected = watch.connected();
    checks.nats = connected ? { ok: true } : { ok: false, detail: 'not connected' };
    if (connected) {
      for (const pool of source.status().pools) {
        const ready = pool.workers.filter((w) => w.state === 'ready' || w.state === 'busy').length;
        if (pool.size === 0 && pool.workers.length === 0) continue;
        checks[`pool:${pool.name}`] =
          ready > 0
            ? { ok: true, detail: `${ready} ready` }
            : { ok: false, detail: `no ready worker of ${pool.workers.length}` };
      }
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };
  return Object.assign(check, { stop: () => watch.stop() });
}
