/**
 * What an attacker sends: generators of hostile strings (fast-check) and a hostile "worker", a plain
 * NATS peer that announces itself with worker heartbeats and answers calls however it is told, as
 * anyone holding worker credentials (or a buggy worker) can.
 */
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import fc from 'fast-check';
import { encode, Encoding } from '../../src/protocol/codec.js';

/** Every C0 control character, DEL, the C1 NEL and the Unicode line/paragraph separators. */
export const controlChar: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\x7f', '\u0085', '\u2028', '\u2029'),
);

/** Text with at least one line break (`\r` or `\n`): what nats.js refuses as a header value. */
export const multiLineText: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('\n', '\r', '\r\n', '\n\n'),
    fc.array(fc.oneof(fc.string({ maxLength: 12 }), controlChar), { maxLength: 6 }),
  )
  .map(([head, br, tail]) => head + br + tail.join(''));

/** Any string, with control characters mixed in often. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.array(fc.oneof(fc.string({ maxLength: 6 }), controlChar), { maxLength: 8 }).map((a) => a.join('')),
  multiLineText,
);

/**
 * A name of the allowed charset `[A-Za-z0-9_-]` but far too long for a subject (over 4 KiB), as
 * `[character, length]` so that a counterexample prints short; build it with {@link repeatToken}.
 */
export const hugeToken: fc.Arbitrary<[string, number]> = fc.tuple(
  fc.constantFrom('A', 'b', '7', '_', '-'),
  fc.integer({ min: 4200, max: 9000 }),
);
export const repeatToken = ([c, n]: [string, number]): string => c.repeat(n);

export interface HostileWorkerOptions {
  nc: NatsConnection;
  prefix?: string;
  pool: string;
  id: string;
  /** What to answer each call with: an error reply `{status, message}` or a raw body. */
  answer(request: Uint8Array): { status: number; code: string; message: string } | { body: unknown };
}

/** A peer on the worker subjects that lies in its replies. */
export interface HostileWorker {
  calls: number;
  stop(): Promise<void>;
}

export function startHostileWorker(o: HostileWorkerOptions): HostileWorker {
  const prefix = o.prefix ?? 'dspex';
  const self: HostileWorker = { calls: 0, stop: () => Promise.resolve() };
  const sub: Subscription = o.nc.subscribe(`${prefix}.pool.${o.pool}.${o.id}`, {
    callback: (err, msg) => {
      if (err !== null) return;
      self.calls++;
      const answer = o.answer(msg.data);
      if ('body' in answer) {
        msg.respond(encode(answer.body, Encoding.Msgpack));
        return;
      }
      // The status header alone is enough for the node to read an error; the message travels in the body.
      const h = natsHeaders();
      h.set('Nats-Service-Error-Code', String(answer.status));
      msg.respond(
        encode({ error: { code: answer.code, message: answer.message, retryable: false } }, Encoding.Msgpack),
        { headers: h },
      );
    },
  });
  const started = Date.now();
  const beat = (state: 'ready' | 'stopped'): void =>
    o.nc.publish(
      `${prefix}.hb.worker.${o.id}`,
      encode(
        {
          id: o.id,
          pool: o.pool,
          host: 'hostile',
          pid: 1,
          state,
          inflight: 0,
          concurrency: 4,
          calls: self.calls,
          rss_bytes: 0,
          started_at: started,
          ts: Date.now(),
          heartbeat_ms: 200,
          version: '0.1.0',
          lm: 'dummy',
        },
        Encoding.Msgpack,
      ),
    );
  beat('ready');
  const timer = setInterval(() => beat('ready'), 200);
  self.stop = async () => {
    clearInterval(timer);
    beat('stopped');
    sub.unsubscribe();
    await o.nc.flush();
  };
  return self;
}
