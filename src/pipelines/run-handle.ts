/**
 * The handle a caller gets on a submitted run: its events, from the run's NATS subject (subscribed
 * before the run starts, so none is missed), and its result, from its KV record.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { DspexError, ErrorCode } from '../errors.js';
import { decode, Encoding } from '../protocol/codec.js';
import {
  PipelineEventSchema,
  pipelineEventsSubject,
  type PipelineEvent,
  type RunRecord,
} from '../protocol/pipelines.js';
import { isTerminal, type RunStore } from './run-store.js';

/** A submitted run: iterate it for its events (until the run ends), or await its result. */
export interface PipelineRun extends AsyncIterable<PipelineEvent> {
  readonly runId: string;
  /** The subject its events are published on. */
  readonly subject: string;
  /** Resolves with the run's final record (`completed`, `partial` or `failed`). */
  result(): Promise<RunRecord>;
  /** Stops listening to the run's events (the run goes on). */
  close(): void;
}

/** Subscribes to a run's events and watches its record. */
export function createRunHandle(o: {
  nc: NatsConnection;
  store: RunStore;
  prefix: string;
  runId: string;
}): PipelineRun {
  const { runId, store } = o;
  const subject = pipelineEventsSubject(o.prefix, runId);
  const sub = o.nc.subscribe(subject);
  const abort = new AbortController();
  const close = (): void => {
    sub.unsubscribe();
    abort.abort();
  };
  return {
    runId,
    subject,
    close,
    async result(): Promise<RunRecord> {
      for await (const record of store.watchRecord(runId, abort.signal)) {
        if (isTerminal(record)) return record;
      }
      throw new DspexError(ErrorCode.Unavailable, `stopped waiting for run "${runId}"`);
    },
    async *[Symbol.asyncIterator](): AsyncIterator<PipelineEvent> {
      try {
        for await (const msg of sub) {
          // Anyone may publish on the events subject: a body that does not decode is skipped.
          let body: unknown;
          try {
            body = decode(msg.data, Encoding.Msgpack);
          } catch {
            continue;
          }
          const parsed = PipelineEventSchema.safeParse(body);
          if (!parsed.success) continue;
          yield parsed.data;
          if (parsed.data.type === 'run.completed' || parsed.data.type === 'run.failed') break;
        }
      } finally {
        sub.unsubscribe();
      }
    },
  };
}
