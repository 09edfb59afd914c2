/**
 * The session store of one node (`rt.sessions`): one {@link sessionMachine} actor per session in use
 * here, under the node's `sessions` supervisor; records in a JetStream KV bucket (key = session id)
 * so any node can read or continue a session after the node that opened it dies. Expiry: every
 * record carries `expires_at` (refreshed on use); reads treat an expired record as gone, each node
 * sweeps expired records, and the bucket's own max age removes what nobody sweeps.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { StorageType } from '@nats-io/jetstream';
import { type KV, type KvEntry } from '@nats-io/kv';
import { openBucket } from '../nats/kv-bucket.js';
import { decodeEntry, isWrongLastSequence } from '../nats/kv-entry.js';
import { pino, type Logger } from 'pino';
import { createActor, fromPromise, type Actor } from 'xstate';
import { DspexError, ErrorCode } from '../errors.js';
import { encode, Encoding } from '../protocol/codec.js';
import { SessionIdSchema, SessionRecordSchema, type SessionRecord } from '../protocol/sessions.js';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import { parseMessage } from '../protocol/schemas.js';
import type { RestartIntensity } from '../supervisors/options.js';
import {
  selectChildRef,
  supervisorMachine,
  type SupervisorActorRef,
} from '../supervisors/supervisor-machine.js';
import type { ChildExit, Clock, SupervisorEmitted } from '../supervisors/types.js';
import { SessionsOptionsSchema, type ResolvedSessionsOptions, type SessionsOptions } from './options.js';
import {
  sessionMachine,
  type ApplyInput,
  type ApplyOutput,
  type SessionActorRef,
  type SessionJob,
  type SessionLogic,
  type StoredSession,
} from './session-machine.js';
import {
  callChange,
  closeChange,
  isExpired,
  openChange,
  updateChange,
  type SessionChange,
} from './session-record.js';

export interface SessionStoreOptions {
  nc: NatsConnection;
  nodeId: string;
  /** @default 'dspex' */
  prefix?: string;
  options?: SessionsOptions;
  logger?: Logger;
  /** How the session actors are supervised (defaults suit production; tests shrink them). */
  supervision?: SessionSupervision;
}

/** Options of {@link SessionStore.open}. */
export interface OpenSessionOptions {
  /** @default generated (`s-…`) */
  id?: string;
  /** Idle time before expiry. @default `sessions.defaultTtlMs`; at most `sessions.maxTtlMs` */
  ttlMs?: number;
  state?: Record<string, unknown>;
}

/** Opens (creating when missing) the sessions bucket and starts the store. */
export async function createSessionStore(o: SessionStoreOptions): Promise<SessionStore> {
  const options = SessionsOptionsSchema.parse(o.options ?? {});
  const bucket = options.bucket ?? `${o.prefix ?? 'dspex'}_sessions`;
  const kv = await openBucket(o.nc, bucket, {
    history: 1,
    ttl: options.maxTtlMs,
    storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    replicas: options.replicas,
    description: 'dspex sessions',
  });
  const store = new SessionStore(
    kv,
    bucket,
    o.nodeId,
    options,
    o.logger ?? pino({ level: 'silent' }),
    o.supervision,
  );
  store.start();
  return store;
}

const MAX_CAS_ATTEMPTS = 10;

function recordOf(entry: KvEntry | null): SessionRecord | undefined {
  return decodeEntry(SessionRecordSchema, entry);
}

/** A change sent to a session actor and not settled yet. */
interface TrackedJob extends SessionJob {
  /** Set by `apply`: the change may have reached KV, so a crash cannot simply re-deliver it. */
  started: boolean;
}

/** Supervision of the session actors; see docs/architecture.md#supervision. */
export interface SessionSupervision {
  /**
   * Restarts of crashed session actors tolerated by the `actors` supervisor before it gives up; the
   * sessions root then restarts it (fresh, every session reloads from KV on its next change).
   * @default { maxRestarts: 100, periodMs: 10000 }
   */
  intensity?: RestartIntensity;
  /**
   * Restarts of the `actors` supervisor the root tolerates; past it the store fails (503).
   * @default { maxRestarts: 3, periodMs: 60000 }
   */
  rootIntensity?: RestartIntensity;
  /** Clock of both intensity windows. @default Date.now */
  clock?: Clock;
  /** The session actor logic; tests pass `sessionMachine.provide(...)` to inject faults. */
  logic?: SessionLogic;
}

/** Child id of the supervisor of the session actors, under the store's root. */
export const SESSION_ACTORS = 'actors';

const unavailable = (message: string): DspexError =>
  new DspexError(ErrorCode.Unavailable, message, { details: { field: 'id' } });

export class SessionStore implements AsyncDisposable {
  /**
   * The store's supervision tree: the root (one_for_one) runs one permanent child, the `actors`
   * supervisor (one_for_one), whose transient children are the session actors.
   */
  readonly root: Actor<typeof supervisorMachine>;
  /** Session id → supervisor child id of its live actor here. */
  private readonly actors = new Map<string, string>();
  /** Child id → its session and the changes sent to it that are not settled yet, in order. */
  private readonly outstanding = new Map<string, { session: string; jobs: TrackedJob[] }>();
  private seq = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private failed = false;
  private readonly logic;

  constructor(
    private readonly kv: KV,
    readonly bucket: string,
    readonly nodeId: string,
    readonly options: ResolvedSessionsOptions,
    private readonly logger: Logger,
    supervision: SessionSupervision = {},
  ) {
    const clock = supervision.clock ?? { now: () => Date.now() };
    this.root = createActor(supervisorMachine, {
      input: {
        id: `${nodeId}.sessions`,
        strategy: 'one_for_one',
        intensity: supervision.rootIntensity ?? { maxRestarts: 3, periodMs: 60_000 },
        clock,
        children: [
          {
            id: SESSION_ACTORS,
            logic: supervisorMachine,
            input: {
              id: `${nodeId}.sessions.actors`,
              strategy: 'one_for_one',
              intensity: supervision.intensity ?? { maxRestarts: 100, periodMs: 10_000 },
              clock,
            },
            restart: 'permanent',
          },
        ],
      },
    });
    this.root.on('child.started', ({ id }) => {
      if (id === SESSION_ACTORS) this.watchActors();
    });
    this.root.on('child.exited', ({ id, exit }) => {
      if (id !== SESSION_ACTORS) return;
      this.logger.error({ exit }, 'session actors crashed too often; restarting them from KV');
      this.failAll('session actors were restarted after too many crashes; retry');
    });
    this.root.subscribe({
      complete: () => {
        if (this.closed) return;
        this.failed = true;
        this.logger.error('the sessions supervisor gave up; sessions are unavailable on this node');
        this.failAll('the session store failed');
      },
      error: (error) => this.logger.error({ err: error }, 'sessions supervisor failed'),
    });
    this.logic = (supervision.logic ?? sessionMachine).provide({
      actors: {
        load: fromPromise(({ input }) => this.load(input.id)),
        apply: fromPromise(({ input }) => this.apply(input)),
      },
    });
  }

  /** Listens to the (current instance of the) `actors` supervisor. */
  private watchActors(): void {
    const actors = this.actorsSupervisor();
    if (actors === undefined) return;
    actors.on('child.exited', (event: SupervisorEmitted) => {
      if (event.type === 'child.exited') this.onActorExit(event.id, event.exit);
    });
    actors.on('child.restarted', (event: SupervisorEmitted) => {
      if (event.type === 'child.restarted') this.redeliver(event.id);
    });
  }

  private actorsSupervisor(): SupervisorActorRef | undefined {
    return selectChildRef(this.root.getSnapshot(), SESSION_ACTORS) as SupervisorActorRef | undefined;
  }

  private onActorExit(childId: string, exit: ChildExit): void {
    const entry = this.outstanding.get(childId);
    if (exit.status === 'stopped') {
      // Idle: forget the transient child (it would stay listed as exited) and its session mapping.
      this.actorsSupervisor()?.send({ type: 'supervisor.terminate_child', id: childId });
      this.outstanding.delete(childId);
      if (entry !== undefined && this.actors.get(entry.session) === childId)
        this.actors.delete(entry.session);
      // Nothing should be left; whatever is goes to a fresh actor rather than being lost.
      for (const job of entry?.jobs ?? []) this.deliver(entry!.session, job);
      return;
    }
    this.logger.warn({ child: childId, exit }, 'session actor crashed; restarting it from its KV record');
    if (entry === undefined) return;
    // The change being applied may have been written: its caller learns of the crash. The ones
    // still waiting go to the restarted actor (`redeliver`), in order.
    for (const job of entry.jobs.filter((tracked) => tracked.started)) {
      job.settle({
        error: unavailable(`the session actor crashed while applying this change (it may have been applied)`),
      });
    }
  }

  private redeliver(childId: string): void {
    const entry = this.outstanding.get(childId);
    if (entry === undefined || entry.jobs.length === 0) return;
    const ref = this.actorsSupervisor();
    const child =
      ref === undefined
        ? undefined
        : (selectChildRef(ref.getSnapshot(), childId) as SessionActorRef | undefined);
    for (const job of entry.jobs) {
      if (child === undefined) job.settle({ error: unavailable('the session actor could not be restarted') });
      else child.send({ type: 'change', job });
    }
  }

  private failAll(message: string): void {
    const entries = [...this.outstanding.values()];
    this.outstanding.clear();
    this.actors.clear();
    for (const { jobs } of entries) for (const job of jobs) job.settle({ error: unavailable(message) });
  }

  start(): void {
    this.root.start();
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), this.options.sweepMs);
    this.sweeper.unref();
  }

  /** Opens a session, or refreshes an open one with the same id (its state merged with `state`). */
  async open(options: OpenSessionOptions = {}): Promise<SessionRecord> {
    const id = options.id === undefined ? `s-${randomBytes(8).toString('hex')}` : this.checkId(options.id);
    const ttlMs = Math.min(options.ttlMs ?? this.options.defaultTtlMs, this.options.maxTtlMs);
    const record = await this.change(id, openChange({ id, ttlMs, node: this.nodeId, state: options.state }));
    return record!;
  }

  /** The session; 404 when unknown, closed or expired. */
  async get(id: string): Promise<SessionRecord> {
    const record = recordOf(await this.kv.get(this.checkId(id)));
    if (record === undefined || isExpired(record, Date.now())) throw notFound(id);
    return record;
  }

  /** Merges `state` into the session's state and/or replaces its optimization state. */
  async update(
    id: string,
    patch: { state?: Record<string, unknown>; optimization?: unknown },
  ): Promise<SessionRecord> {
    const record = await this.change(this.checkId(id), updateChange(patch, this.nodeId));
    if (record === undefined) throw notFound(id);
    return record;
  }

  /** Closes the session (its record is deleted); returns its last form, `status: closed`. */
  async close(id: string): Promise<SessionRecord> {
    const record = await this.change(this.checkId(id), closeChange);
    if (record === undefined) throw notFound(id);
    return record;
  }

  /**
   * Records a predict call made with `session` once it settles (history, metrics, affinity). Never
   * throws and never delays the call; calls naming a session that is not open are not recorded.
   */
  observe(
    session: string,
    request: PredictRequest,
    pool: string,
    call: Promise<PredictReply>,
    trace?: string,
  ): void {
    if (this.closed || !SessionIdSchema.safeParse(session).success) return;
    const started = Date.now();
    const base = {
      module: request.module,
      signature: request.signature,
      pool,
      ...(trace !== undefined && { trace }),
    };
    const record = (change: SessionChange): void => {
      this.change(session, change).catch((error: unknown) =>
        this.logger.warn({ err: error, session }, 'could not record a call in its session'),
      );
    };
    call.then(
      (reply) => {
        const tokens = reply.usage?.total_tokens;
        record(
          callChange(
            {
              ...base,
              ok: true,
              latencyMs: Date.now() - started,
              worker: reply.worker,
              ...(typeof tokens === 'number' && { tokens }),
            },
            this.nodeId,
            this.options.historyLimit,
          ),
        );
      },
      (error: unknown) => {
        const code = error instanceof DspexError ? error.code : ErrorCode.Internal;
        record(
          callChange(
            { ...base, ok: false, latencyMs: Date.now() - started, code },
            this.nodeId,
            this.options.historyLimit,
          ),
        );
      },
    );
  }

  /** Deletes expired sessions (compare-and-set, so a session used meanwhile survives). Returns how many. */
  async sweep(): Promise<number> {
    const now = Date.now();
    let removed = 0;
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    for (const key of keys) {
      const entry = await this.kv.get(key);
      const record = recordOf(entry);
      if (entry === null || record === undefined || !isExpired(record, now)) continue;
      try {
        await this.kv.delete(key, { previousSeq: entry.revision });
        removed++;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    return removed;
  }

  /** Session actors alive on this node. */
  get live(): number {
    return this.actors.size;
  }

  private checkId(id: string): string {
    return parseMessage(SessionIdSchema, id, 'session id');
  }

  /** Queues a change on the session's actor (starting one if none is alive here). */
  private change(id: string, change: SessionChange): Promise<SessionRecord | undefined> {
    if (this.closed) return Promise.reject(new DspexError(ErrorCode.Unavailable, 'session store is closed'));
    if (this.failed) return Promise.reject(unavailable('the session store failed'));
    return new Promise((resolve, reject) => {
      const job: TrackedJob = {
        change,
        started: false,
        settle: (outcome) => {
          this.untrack(job);
          if ('error' in outcome)
            reject(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)));
          else resolve(outcome.record);
        },
      };
      this.deliver(id, job);
    });
  }

  private deliver(id: string, job: TrackedJob): void {
    const { childId, ref } = this.actorOf(id);
    const entry = this.outstanding.get(childId) ?? { session: id, jobs: [] };
    entry.jobs.push(job);
    this.outstanding.set(childId, entry);
    ref.send({ type: 'change', job });
  }

  private untrack(job: TrackedJob): void {
    for (const [childId, entry] of this.outstanding) {
      const at = entry.jobs.indexOf(job);
      if (at === -1) continue;
      entry.jobs.splice(at, 1);
      if (entry.jobs.length === 0 && this.actors.get(entry.session) !== childId)
        this.outstanding.delete(childId);
      return;
    }
  }

  private actorOf(id: string): { childId: string; ref: SessionActorRef } {
    const supervisor = this.actorsSupervisor();
    if (supervisor === undefined) throw unavailable('session actors are restarting; retry');
    const childId = this.actors.get(id);
    const existing =
      childId === undefined
        ? undefined
        : (selectChildRef(supervisor.getSnapshot(), childId) as SessionActorRef | undefined);
    // An actor that went idle has ended; its exit may not be processed yet, so a fresh one gets a new child id.
    if (childId !== undefined && existing?.getSnapshot().status === 'active')
      return { childId, ref: existing };
    const fresh = `${id}#${++this.seq}`;
    this.actors.set(id, fresh);
    supervisor.send({
      type: 'supervisor.start_child',
      spec: {
        id: fresh,
        logic: this.logic,
        input: { id, idleMs: this.options.idleMs, queueLimit: 1000 },
        restart: 'transient',
      },
    });
    const ref = selectChildRef(supervisor.getSnapshot(), fresh) as SessionActorRef | undefined;
    if (ref === undefined) throw new DspexError(ErrorCode.Internal, `session actor ${fresh} did not start`);
    return { childId: fresh, ref };
  }

  /** The session's KV record as it is now: what a (re)started session actor begins from. */
  private async load(id: string): Promise<StoredSession> {
    const entry = await this.kv.get(id);
    // Only a live entry's revision: an update needs one, and a deleted key takes `create`.
    return { record: recordOf(entry), revision: entry?.operation === 'PUT' ? entry.revision : undefined };
  }

  /**
   * Applies one change by compare-and-set: first against what the actor knows of the record (no
   * read), then, when another node wrote first, against a fresh read, up to {@link MAX_CAS_ATTEMPTS}.
   */
  private async apply({ id, job, stored }: ApplyInput): Promise<ApplyOutput> {
    (job as Partial<TrackedJob>).started = true;
    let known = stored;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const { record: current, revision } = known ?? (await this.load(id));
      const cached = known !== undefined;
      known = undefined;
      const result = job.change(current, Date.now());
      try {
        switch (result.kind) {
          case 'none':
            // A cached record may be stale (another node opened or closed the session): only a
            // fresh read may decide that there is nothing to do.
            if (cached) continue;
            return { result: result.record, stored: { record: current, revision } };
          case 'put': {
            const data = encode(result.record, Encoding.Msgpack);
            const written =
              revision === undefined
                ? await this.kv.create(id, data)
                : await this.kv.update(id, data, revision);
            return { result: result.record, stored: { record: result.record, revision: written } };
          }
          case 'delete':
            await this.kv.delete(id, revision === undefined ? {} : { previousSeq: revision });
            return { result: result.record, stored: undefined };
          default: {
            const never: never = result;
            throw new Error(`unknown change ${String(never)}`);
          }
        }
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw new DspexError(ErrorCode.RevisionConflict, `session "${id}" kept changing under this write`, {
      details: { field: 'id' },
    });
  }

  stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    // Changes still waiting would never settle once their actors are stopped.
    this.failAll('session store is closed');
    this.root.send({ type: 'supervisor.stop' });
    this.root.stop();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

function notFound(id: string): DspexError {
  return new DspexError(ErrorCode.NotFound, `session "${id}" is unknown, closed or expired`, {
    details: { field: 'id' },
  });
}
