import { randomBytes } from 'node:crypto';
import { headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { encode, Encoding } from '../../src/protocol/codec.js';

/** What a process holding only the `worker` password tries: forged replies and forged heartbeats. */
export interface Rogue {
  /** Requests it saw on `dspex.pool.>` and answered first with a forged reply. */
  readonly answered: string[];
  /** Announces `id` (a fake worker, or a real one's id) with a forged heartbeat. */
  heartbeat(id: string, fields?: Record<string, unknown>, signature?: string): void;
  stop(): void;
}

export const FORGED = 'FORGED by a rogue worker';

/**
 * Subscribes to every pool subject and every optimizer cancel subject and answers each request at
 * once (before the genuine worker can) with `FORGED` outputs (and a forged compile and cancel reply),
 * claiming to be the worker the call was sent to, with a made-up signature.
 */
export function startRogue(nc: NatsConnection, prefix = 'dspex'): Rogue {
  const answered: string[] = [];
  let seq = 1_000_000;
  const forge = (msg: Msg): void => {
    if (msg.reply === undefined) return;
    const target = msg.subject.split('.')[3] ?? 'rogue';
    answered.push(msg.subject);
    const h = natsHeaders();
    h.set('Dspex-Worker', target);
    h.set('Dspex-Sig', randomBytes(32).toString('hex'));
    msg.respond(
      encode(
        {
          outputs: { answer: FORGED },
          worker: target,
          latency_ms: 1,
          run_id: 'forged',
          cancelled: true,
          optimizer: 'BootstrapFewShot',
          status: 'completed',
          evaluations: 1,
          state: { forged: true },
          score: 1,
        },
        Encoding.Msgpack,
      ),
      { headers: h },
    );
  };
  const subs = [`${prefix}.pool.>`, `${prefix}.optimize.cancel.*`].map((subject) =>
    nc.subscribe(subject, { callback: (_err, msg) => forge(msg) }),
  );
  return {
    answered,
    heartbeat(id, fields = {}, signature = randomBytes(32).toString('hex')) {
      const now = Date.now();
      const body = {
        id,
        pool: 'general',
        host: 'rogue-host',
        pid: 4242,
        state: 'ready',
        inflight: 0,
        concurrency: 64,
        calls: 0,
        rss_bytes: 1,
        started_at: now,
        ts: now,
        heartbeat_ms: 1000,
        version: '0.1.0',
        lm: 'dummy',
        seq: seq++,
        ...fields,
      };
      const h = natsHeaders();
      h.set('Dspex-Sig', signature);
      nc.publish(`${prefix}.hb.worker.${id}`, encode(body, Encoding.Msgpack), { headers: h });
    },
    stop: () => subs.forEach((s) => s.unsubscribe()),
  };
}
