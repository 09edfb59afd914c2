/**
 * DSPy optimizers in the optimizer pool: sends the `compile` op to a worker of the pool, follows its
 * progress events, cancels it on request, and writes the compiled program state into a variable
 * (under an optimizer lease, with the score) so every node's predicts can load it (docs/optimization.md).
 */
import { randomBytes } from 'node:crypto';
import { RequestError, type NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { DspexError, ErrorCode, isDspexError } from '../errors.js';
import { decode, encode, Encoding } from '../protocol/codec.js';
import { Header, wireHeaders } from '../protocol/headers.js';
import { isName, NameKind, nameRule } from '../protocol/names.js';
import { replyBody } from '../protocol/reply.js';
import { parseMessage } from '../protocol/schemas.js';
import {
  CancelReplySchema,
  CompileReplySchema,
  CompileRequestSchema,
  OptimizeEventSchema,
  type CancelReply,
  type CompileReply,
  type CompileRequest,
  type OptimizeEvent,
  type WorkerCompileRequest,
} from '../protocol/optimize.js';
import type { Subjects } from '../protocol/subjects.js';
import type { VariableStore } from '../variables/store.js';
import { guarded } from '../telemetry/guard.js';
import { checkExamples } from './examples.js';
import { TrialLedger } from './ledger.js';
import { runSearch, type SearchOptions, type SearchResult } from './search.js';

/** Per-run options of {@link Optimizer.compile}. */
export interface CompileOptions {
  /** Absolute deadline, unix ms; the worker stops the run when it passes. @default now + 30 min */
  deadline?: number;
  /** Called with every progress event of the run (subscribed before the run starts). */
  onProgress?: (event: OptimizeEvent) => void;
  /** How long to wait for the variable's lease when writing the result. @default 30000 */
  leaseWaitMs?: number;
}

/** What {@link Optimizer} needs from its node. */
export interface OptimizerDeps {
  nc: NatsConnection;
  /** Sends `compile` and cancel requests to workers (replies verified); @default `nc` */
  requests?: Requester;
  subjects: Subjects;
  logger: Logger;
  /** The node's variable store (throws 503 when variables are disabled). */
  variables: () => VariableStore;
  nodeId: string;
  /** Trial ledger bucket settings (the variables' storage and replicas). */
  ledger: { bucket: string; storage: 'file' | 'memory'; replicas: number };
}

/** What requests go through: a connection, or the node's verifying worker requester. */
export type Requester = Pick<NatsConnection, 'request'>;

/** Default compile deadline: optimizations are long. */
export const DEFAULT_COMPILE_MS = 30 * 60_000;

/** Subject a worker running `runId` answers cancel requests on. */
export function cancelSubject(prefix: string, runId: string): string {
  return `${prefix}.optimize.cancel.${runId}`;
}

/** Subject of the progress events of `runId`. */
export function progressSubject(subjects: Subjects, runId: string): string {
  return subjects.event(`optimize.${runId}`);
}

/** DSPy optimizer runs on the optimizer pool and distributed searches, as `rt.optimizer` exposes them. */
export class Optimizer {
  private ledgerOpen: Promise<TrialLedger> | undefined;

  constructor(private readonly d: OptimizerDeps) {}

  /**
   * Searches numeric and categorical variables (random search or successive halving), sharing
   * trials with every optimizer of the same study through the trial ledger (docs/optimization.md).
   */
  async search(options: SearchOptions): Promise<SearchResult> {
    const variables = this.d.variables();
    return runSearch({ variables, ledger: await this.ledger(), logger: this.d.logger }, options);
  }

  /** The shared trial ledger (its bucket is created on first use). */
  ledger(): Promise<TrialLedger> {
    this.ledgerOpen ??= TrialLedger.open(this.d.nc, this.d.nodeId, this.d.ledger).catch((error: unknown) => {
      this.ledgerOpen = undefined;
      throw error;
    });
    return this.ledgerOpen;
  }

  /**
   * Compiles a program on a worker of `request.pool` (default `optimizer`) and returns its reply; a
   * cancelled run resolves with `status: 'cancelled'` and no state. With `request.variable` the
   * state is written there (created if missing) with the score, by the run id, under a lease.
   *
   * @example
   * ```ts
   * const run = await rt.optimizer.compile({
   *   optimizer: 'BootstrapFewShot', signature: 'question -> answer', trainset,
   *   metric: { name: 'contains', field: 'answer' }, variable: 'qa_program',
   * });
   * ```
   */
  async compile(request: CompileRequest, options: CompileOptions = {}): Promise<CompileReply> {
    const body = parseMessage(CompileRequestSchema, request, 'optimize.compile');
    checkExamples(body.signature, 'trainset', body.trainset);
    if (body.valset !== undefined) checkExamples(body.signature, 'valset', body.valset);
    const runId = body.run_id ?? `run-${randomBytes(6).toString('hex')}`;
    const pool = body.pool ?? 'optimizer';
    const deadline = options.deadline ?? Date.now() + DEFAULT_COMPILE_MS;
    if (body.variable !== undefined) this.d.variables(); // 503 before the run when variables are off
    const stopWatching = options.onProgress === undefined ? undefined : this.watch(runId, options.onProgress);
    try {
      if (stopWatching !== undefined) await this.d.nc.flush();
      const { pool: _pool, variable, run_id: _runId, ...fields } = body;
      const op: WorkerCompileRequest = { op: 'compile', run_id: runId, ...fields };
      const reply = CompileReplySchema.parse(
        await requestReply(
          this.d.requests ?? this.d.nc,
          this.d.subjects.pool(pool),
          op,
          deadline,
          `pool ${pool}`,
          () =>
            new DspexError(ErrorCode.Unavailable, `pool ${pool} has no worker to run the optimizer`, {
              details: { field: 'pool' },
            }),
        ),
      );
      if (reply.status !== 'completed' || variable === undefined || reply.state === undefined) return reply;
      const record = await this.writeState(variable, reply, options.leaseWaitMs ?? 30_000);
      return { ...reply, variable: { name: variable, revision: record } };
    } finally {
      stopWatching?.();
    }
  }

  /** Asks the worker running `runId` to stop it; 404 when no worker runs it. */
  async cancel(runId: string): Promise<CancelReply> {
    checkRunId(runId);
    const subject = cancelSubject(this.d.subjects.prefix, runId);
    const reply = await requestReply(
      this.d.requests ?? this.d.nc,
      subject,
      { run_id: runId },
      Date.now() + 5000,
      `run ${runId}`,
      () =>
        new DspexError(ErrorCode.NotFound, `run ${runId} is not running`, { details: { field: 'run_id' } }),
    );
    return CancelReplySchema.parse(reply);
  }

  /** Calls `fn` with each progress event of `runId`; returns the unsubscribe function. */
  watch(runId: string, fn: (event: OptimizeEvent) => void): () => void {
    checkRunId(runId);
    const sub = this.d.nc.subscribe(progressSubject(this.d.subjects, runId), {
      callback: guarded(`optimize events ${runId}`, this.d.logger, undefined, (err, msg) => {
        if (err !== null) return;
        try {
          const parsed = OptimizeEventSchema.safeParse(decode(msg.data, Encoding.Msgpack));
          if (parsed.success) fn(parsed.data);
        } catch (error) {
          this.d.logger.warn({ err: error, run: runId }, 'bad optimize event');
        }
      }),
    });
    return () => sub.unsubscribe();
  }

  private async writeState(name: string, reply: CompileReply, waitMs: number): Promise<number> {
    const store = this.d.variables();
    const state = reply.state!;
    try {
      await store.get(name, { consistency: 'latest' });
    } catch (error) {
      if (!isDspexError(error) || error.code !== ErrorCode.NotFound) throw error;
      await store.define({
        name,
        initial: state,
        description: `DSPy program state compiled by ${reply.optimizer}`,
      });
    }
    const lease = await store.acquire(name, { holder: reply.run_id, waitMs });
    try {
      const record = await store.set(name, state, {
        lease,
        ...(reply.score !== undefined && { score: reply.score }),
      });
      return record.revision;
    } finally {
      await lease.release();
    }
  }
}

/** A run id given through the API becomes a subject token: checked like the wire's (400 on `run_id`). */
function checkRunId(runId: string): void {
  if (!isName(NameKind.Run, runId)) {
    throw new DspexError(ErrorCode.BadRequest, `run_id: ${nameRule(NameKind.Run)}`, {
      details: { field: 'run_id' },
    });
  }
}

/**
 * A request/reply in msgpack with a `Dspex-Deadline` header; an error reply becomes its {@link DspexError}.
 */
export async function requestReply(
  nc: Requester,
  subject: string,
  body: unknown,
  deadline: number,
  what: string,
  noResponders: () => DspexError,
): Promise<unknown> {
  const h = wireHeaders({ [Header.Deadline]: deadline });
  let msg;
  try {
    msg = await nc.request(subject, encode(body, Encoding.Msgpack), {
      timeout: Math.max(1, deadline - Date.now() + 1000),
      headers: h,
    });
  } catch (error) {
    if (error instanceof RequestError && error.isNoResponders()) throw noResponders();
    throw new DspexError(ErrorCode.DeadlineExceeded, `${what}: no reply in time`, { cause: error });
  }
  return replyBody(msg, Encoding.Msgpack);
}
