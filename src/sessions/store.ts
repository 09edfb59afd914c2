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
import { createActor, fromPromise, type Actor, type ActorRefFrom } from 'xstate';
import { DspexError, ErrorCode } from '../errors.js';
import { encode, Encoding } from '../protocol/codec.js';
import { SessionIdSchema, SessionRecordSchema, type SessionRecord } from '../protocol/sessions.js';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import { parseMessage } from '../protocol/schemas.js';
import { selectChildRef, supervisorMachine } from '../supervisors/supervisor-machine.js';
import { SessionsOptionsSchema, type ResolvedSessionsOptions, type SessionsOptions } from './options.js';
import { sessionMachine, type SessionJob } from './session-machine.js';
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
  const store = new SessionStore(kv, bucket, o.nodeId, options, o.logger ?? pino({ level: 'silent' }));
  store.start();
  return store;
}

const MAX_CAS_ATTEMPTS = 10;

function recordOf(entry: KvEntry | null): SessionRecord | undefined {
  return decodeEntry(SessionRecordSchema, entry);
}

type SessionActor = ActorRefFrom<typeof sessionMachine>;

export class SessionStore implements AsyncDisposable {
  private readonly root: Actor<typeof supervisorMachine>;
  /** Session id → supervisor child id of its live actor here. */
  private readonly actors = new Map<string, string>();
  private seq = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly logic;

  constructor(
    private readonly kv: KV,
    readonly bucket: string,
    readonly nodeId: string,
    readonly options: ResolvedSessionsOptions,
    private readonly logger: Logger,
  ) {
    this.root = createActor(supervisorMachine, {
      input: {
        id: `${nodeId}.sessions`,
        strategy: 'one_for_one',
        intensity: { maxRestarts: 100, periodMs: 10_000 },
      },
    });
    this.root.on('child.exited', ({ id, exit }) => {
      if (exit.status === 'crashed') this.logger.warn({ session: id, exit }, 'session actor crashed');
    });
    this.logic = sessionMachine.provide({
      actors: { apply: fromPromise(({ input }) => this.apply(input.id, input.change)) },
    });
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
    return new Promise((resolve, reject) => {
      const job: SessionJob = {
        change,
        settle: (outcome) =>
          'error' in outcome
            ? reject(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)))
            : resolve(outcome.record),
      };
      this.actorOf(id).send({ type: 'change', job });
    });
  }

  private actorOf(id: string): SessionActor {
    const childId = this.actors.get(id);
    const existing =
      childId === undefined
        ? undefined
        : (selectChildRef(this.root.getSnapshot(), childId) as SessionActor | undefined);
    // An actor that went idle has ended; its exit may not be processed yet, so a fresh one gets a new child id.
    if (existing !== undefined && existing.getSnapshot().status === 'active') return existing;
    const fresh = `${id}#${++this.seq}`;
    this.actors.set(id, fresh);
    this.root.send({
      type: 'supervisor.start_child',
      spec: {
        id: fresh,
        logic: this.logic,
        input: { id, idleMs: this.options.idleMs, queueLimit: 1000 },
        restart: 'temporary',
      },
    });
    const ref = selectChildRef(this.root.getSnapshot(), fresh) as SessionActor | undefined;
    if (ref === undefined) throw new DspexError(ErrorCode.Internal, `session actor ${fresh} did not start`);
    const sub = ref.subscribe({
      complete: () => {
        sub.unsubscribe();
        if (this.actors.get(id) === fresh) this.actors.delete(id);
      },
    });
    return ref;
  }

  /** Reads, changes and writes one session by compare-and-set, retrying when another node wrote first. */
  private async apply(id: string, change: SessionChange): Promise<SessionRecord | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const entry = await this.kv.get(id);
      const current = recordOf(entry);
      const result = change(current, Date.now());
      const live = entry !== null && entry.operation === 'PUT' ? entry.revision : undefined;
      try {
        switch (result.kind) {
          case 'none':
            return result.record;
          case 'put': {
            const data = encode(result.record, Encoding.Msgpack);
            if (live === undefined) await this.kv.create(id, data);
            else await this.kv.update(id, data, live);
            return result.record;
          }
          case 'delete':
            await this.kv.delete(id, live === undefined ? {} : { previousSeq: live });
            return result.record;
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
