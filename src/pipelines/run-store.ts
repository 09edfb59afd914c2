/**
 * Where durable runs live in JetStream: the work-queue stream of run jobs with its durable pull
 * consumer shared by every node, and the KV bucket of run records (`run.<run_id>`) and stage
 * checkpoints (`cp.<run_id>.<stage>`, `cp.<run_id>.<stage>.<item>`). Records are msgpack maps.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { nanos } from '@nats-io/nats-core';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type JetStreamClient,
} from '@nats-io/jetstream';
import { type KV } from '@nats-io/kv';
import { DspexError, ErrorCode } from '../errors.js';
import { openBucket } from '../nats/kv-bucket.js';
import { decodeEntry } from '../nats/kv-entry.js';
import { decode, encode, Encoding } from '../protocol/codec.js';
import {
  CheckpointSchema,
  RunRecordSchema,
  pipelineJobsSubject,
  type Checkpoint,
  type PipelineJob,
  type RunRecord,
} from '../protocol/pipelines.js';
import { isWrongLastSequence } from '../nats/kv-entry.js';
import type { ResolvedPipelinesOptions } from './options.js';
import type { Checkpoints } from './run-plan.js';

/** Names of the stream, its subject, the consumer and the bucket. */
export interface RunStoreNames {
  stream: string;
  subject: string;
  consumer: string;
  bucket: string;
}

export function runStoreNames(prefix: string, o: ResolvedPipelinesOptions): RunStoreNames {
  return {
    stream: o.stream ?? `${prefix.toUpperCase()}_PIPELINE_RUNS`,
    subject: pipelineJobsSubject(prefix),
    consumer: o.consumer,
    bucket: o.bucket ?? `${prefix}_pipeline_runs`,
  };
}

const TERMINAL = new Set(['completed', 'partial', 'failed']);

/** True for a record of a run that has finished. */
export function isTerminal(record: RunRecord | undefined): boolean {
  return record !== undefined && TERMINAL.has(record.status);
}

export class RunStore {
  private constructor(
    readonly names: RunStoreNames,
    private readonly js: JetStreamClient,
    private readonly kv: KV,
  ) {}

  /** Opens (creating when missing) the stream, the consumer and the bucket. */
  static async open(
    nc: NatsConnection,
    names: RunStoreNames,
    o: ResolvedPipelinesOptions,
  ): Promise<RunStore> {
    const jsm = await jetstreamManager(nc);
    const storage = o.storage === 'memory' ? StorageType.Memory : StorageType.File;
    try {
      await jsm.streams.info(names.stream);
    } catch {
      await jsm.streams
        .add({
          name: names.stream,
          subjects: [names.subject],
          retention: RetentionPolicy.Workqueue,
          storage,
          num_replicas: o.replicas,
          max_age: nanos(o.ttlMs),
          description: 'dspex pipeline run jobs',
        })
        // Another node may have created it meanwhile: fine if it exists now.
        .catch(async (error: unknown) => {
          const exists = await jsm.streams.info(names.stream).then(
            () => true,
            () => false,
          );
          if (!exists) throw error;
        });
    }
    try {
      await jsm.consumers.info(names.stream, names.consumer);
    } catch {
      await jsm.consumers
        .add(names.stream, {
          durable_name: names.consumer,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(o.ackWaitMs),
          max_deliver: o.maxDeliver,
          description: 'dspex pipeline runners (every node)',
        })
        .catch(async (error: unknown) => {
          const exists = await jsm.consumers.info(names.stream, names.consumer).then(
            () => true,
            () => false,
          );
          if (!exists) throw error;
        });
    }
    const kv = await openBucket(nc, names.bucket, {
      history: 1,
      ttl: o.ttlMs,
      storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
      replicas: o.replicas,
      description: 'dspex pipeline run records and stage checkpoints',
    });
    return new RunStore(names, jetstream(nc), kv);
  }

  /** The consumer every node pulls jobs from. */
  consumer(): Promise<Consumer> {
    return this.js.consumers.get(this.names.stream, this.names.consumer);
  }

  /** The ack wait the consumer really has (it may predate this node's options). */
  async ackWaitMs(): Promise<number> {
    const consumer = await this.consumer();
    const info = await consumer.info(true);
    return Math.round((info.config.ack_wait ?? 30_000_000_000) / 1_000_000);
  }

  /**
   * Records the run as queued, by `kv.create`: of two submits with one run id exactly one gets the
   * record; the other gets a 409 `revision_conflict` naming `run_id`.
   */
  async createRecord(job: PipelineJob): Promise<void> {
    const record: RunRecord = {
      run_id: job.run_id,
      pipeline: job.pipeline.name,
      status: 'queued',
      attempt: 0,
      submitted_at: job.submitted_at,
    };
    try {
      await this.kv.create(`run.${job.run_id}`, encode(record, Encoding.Msgpack));
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      throw new DspexError(ErrorCode.RevisionConflict, `run "${job.run_id}" already exists`, {
        details: { field: 'run_id' },
        cause: error,
      });
    }
  }

  /** Puts the job of a run whose record {@link createRecord} made on the stream (deduplicated by run id). */
  async submit(job: PipelineJob): Promise<void> {
    await this.js.publish(this.names.subject, encode(job, Encoding.Msgpack), { msgID: job.run_id });
  }

  async putRecord(record: RunRecord): Promise<void> {
    await this.kv.put(`run.${record.run_id}`, encode(record, Encoding.Msgpack));
  }

  async getRecord(runId: string): Promise<RunRecord | undefined> {
    return decodeEntry(RunRecordSchema, await this.kv.get(`run.${runId}`));
  }

  /** Yields the run's record each time it changes, starting with the current one. */
  async *watchRecord(runId: string, signal?: AbortSignal): AsyncGenerator<RunRecord> {
    const watcher = await this.kv.watch({ key: `run.${runId}` });
    const stop = (): void => watcher.stop();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const entry of watcher) {
        const record = decodeEntry(RunRecordSchema, entry);
        if (record !== undefined) yield record;
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      watcher.stop();
    }
  }

  async saveStage(runId: string, stage: string, checkpoint: Checkpoint): Promise<void> {
    await this.kv.put(`cp.${runId}.${stage}`, encode(checkpoint, Encoding.Msgpack));
  }

  async saveItem(
    runId: string,
    stage: string,
    item: number,
    outputs: Record<string, unknown>,
  ): Promise<void> {
    await this.kv.put(`cp.${runId}.${stage}.${item}`, encode({ outputs }, Encoding.Msgpack));
  }

  /** Everything earlier attempts of the run finished. */
  async loadCheckpoints(runId: string): Promise<Checkpoints> {
    const out: Checkpoints = { stages: {}, items: {} };
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`cp.${runId}.>`)) keys.push(key);
    await Promise.all(
      keys.map(async (key) => {
        const entry = await this.kv.get(key);
        if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return;
        const value = decode(entry.value, Encoding.Msgpack);
        const [, , stage, item] = key.split('.');
        if (stage === undefined) return;
        if (item === undefined) {
          const parsed = CheckpointSchema.safeParse(value);
          if (!parsed.success) return;
          const cp = parsed.data;
          out.stages[stage] =
            cp.status === 'completed'
              ? { status: 'completed', outputs: cp.outputs, durationMs: cp.duration_ms }
              : { status: 'failed', error: cp.error, durationMs: cp.duration_ms };
          return;
        }
        const outputs = (value as { outputs?: unknown } | null)?.outputs;
        if (typeof outputs === 'object' && outputs !== null) {
          (out.items[stage] ??= {})[Number(item)] = outputs as Record<string, unknown>;
        }
      }),
    );
    return out;
  }
}
