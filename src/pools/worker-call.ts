/**
 * One predict request to one worker. {@link callWorker} keeps the dispatcher's bookkeeping (the
 * deadline check, failing at once when the worker dies); the request itself goes through an
 * injected {@link WorkerSend}, over NATS in a node ({@link natsWorkerSend}) and a fake in tests.
 */
import { startAttemptSpan } from '../telemetry/call-trace.js';
import { RequestError } from '@nats-io/nats-core';
import { DspexError, ErrorCode, toDspexError } from '../errors.js';
import { encode, Encoding } from '../protocol/codec.js';
import { Header, wireHeaders } from '../protocol/headers.js';
import { predictReplyOf, replyBody } from '../protocol/reply.js';
import type { PredictReply, WorkerPredictRequest } from '../protocol/schemas.js';
import type { Subjects } from '../protocol/subjects.js';
import type { WorkerRequester } from '../workers/requests.js';

/** Where one attempt goes and by when. */
export interface SendTarget {
  pool: string;
  worker: string;
  /** Absolute deadline, unix ms. */
  deadline: number;
  /** Time left until the deadline when the attempt started, ms (> 0). */
  timeoutMs: number;
  trace: string | undefined;
}

/** Sends one request to one worker and resolves with its checked reply. */
export type WorkerSend = (target: SendTarget, request: WorkerPredictRequest) => Promise<PredictReply>;

/** The worker an attempt runs on, as far as {@link callWorker} needs it. */
export interface CallableWorker {
  id: string;
  pool: string;
  /** Attempts in flight, failed at once if the worker dies. */
  attempts: Set<(error: DspexError) => void>;
}

/** One request to one worker; rejects at once if the worker dies meanwhile. */
export function callWorker(
  send: WorkerSend,
  w: CallableWorker,
  request: WorkerPredictRequest,
  options: { deadline: number; trace: string | undefined },
): Promise<PredictReply> {
  const timeoutMs = options.deadline - Date.now();
  if (timeoutMs <= 0) return Promise.reject(new DspexError(ErrorCode.DeadlineExceeded, 'deadline passed'));
  return new Promise<PredictReply>((resolve, reject) => {
    const abort = (error: DspexError): void => {
      w.attempts.delete(abort);
      reject(error);
    };
    w.attempts.add(abort);
    send(
      { pool: w.pool, worker: w.id, deadline: options.deadline, timeoutMs, trace: options.trace },
      request,
    ).then(
      (reply) => {
        w.attempts.delete(abort);
        resolve(reply);
      },
      (error: unknown) => {
        w.attempts.delete(abort);
        reject(toDspexError(error));
      },
    );
  });
}

/** {@link WorkerSend} over NATS: msgpack request with deadline and trace headers, verified reply. */
export function natsWorkerSend(requests: WorkerRequester, subjects: Subjects): WorkerSend {
  return async (t, request) => {
    const span = startAttemptSpan({
      'dspex.pool': t.pool,
      'dspex.worker': t.worker,
      'dspex.module': request.module,
    });
    const h = wireHeaders({
      [Header.Deadline]: t.deadline,
      [Header.Trace]: t.trace,
      [Header.Traceparent]: span.traceparent,
    });
    try {
      let msg;
      try {
        msg = await requests.request(subjects.worker(t.pool, t.worker), encode(request, Encoding.Msgpack), {
          timeout: t.timeoutMs,
          headers: h,
          worker: t.worker,
        });
      } catch (error) {
        throw transportError(error, t.worker, t.deadline);
      }
      // A shape check, not a schema walk: the reply is signed by the worker (when a worker secret is
      // set, WorkerRequests dropped anything that did not verify) and the worker was checked when it
      // joined; what is left to catch is a worker bug, which the shape check catches alike.
      const reply = predictReplyOf(replyBody(msg, Encoding.Msgpack, `worker ${t.worker}`));
      if (reply === undefined)
        throw new DspexError(ErrorCode.Internal, `worker ${t.worker} sent a malformed reply`);
      span.end();
      return reply;
    } catch (error) {
      span.end(toDspexError(error).message);
      throw error;
    }
  };
}

function transportError(error: unknown, worker: string, deadline: number): DspexError {
  if (error instanceof RequestError && error.isNoResponders()) {
    return new DspexError(ErrorCode.Unavailable, `worker ${worker} is not listening`, { cause: error });
  }
  if (Date.now() >= deadline) {
    return new DspexError(ErrorCode.DeadlineExceeded, `deadline passed waiting for worker ${worker}`, {
      cause: error,
    });
  }
  return new DspexError(ErrorCode.Unavailable, `request to worker ${worker} failed: ${String(error)}`, {
    cause: error,
  });
}
