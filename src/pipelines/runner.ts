/**
 * The durable side of a node: it pulls run jobs from the shared durable consumer, one per free slot
 * (never more than it can start, so no job waits in a local buffer while its ack timer runs), keeps
 * each job alive with `working()` while its run executes, acks it once the run's outcome is
 * persisted, and naks it on shutdown so another node resumes it from its checkpoints at once. A node
 * that dies simply stops signalling: after the consumer's ack wait the job goes to another node.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { decode, Encoding } from '../protocol/codec.js';
import { PipelineJobSchema, type PipelineJob } from '../protocol/pipelines.js';
import { isTerminal, type RunStore } from './run-store.js';

/** How a run ended, as the runner needs to know it. */
export interface RunEnd {
  /** The outcome is in the runs bucket: the job is done. */
  persisted: boolean;
}

export interface RunnerOptions {
  store: RunStore;
  slots: number;
  logger: Logger;
  /** Runs the job's run (attempt = delivery count); resolves when it ends or is stopped. */
  execute(job: PipelineJob, attempt: number): Promise<RunEnd>;
  /** Stops the run of a job (shutdown). */
  abort(runId: string): void;
}

export class PipelineRunner {
  private closed = false;
  private readonly fetches = new Set<ConsumerMessages>();
  private readonly active = new Map<string, JsMsg>();
  private loops: Array<Promise<void>> = [];
  private ackWaitMs = 30_000;

  constructor(private readonly o: RunnerOptions) {}

  async start(): Promise<void> {
    const consumer = await this.o.store.consumer();
    this.ackWaitMs = await this.o.store.ackWaitMs();
    this.loops = Array.from({ length: this.o.slots }, () => this.slot(consumer));
  }

  private async slot(consumer: Consumer): Promise<void> {
    while (!this.closed) {
      let batch: ConsumerMessages;
      try {
        batch = await consumer.fetch({ max_messages: 1, expires: 2000 });
      } catch (error) {
        if (this.closed) return;
        this.o.logger.warn({ err: error }, 'pipeline runner: fetch failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      this.fetches.add(batch);
      try {
        for await (const msg of batch) await this.process(msg);
      } catch (error) {
        if (!this.closed) this.o.logger.warn({ err: error }, 'pipeline runner: fetch ended with an error');
      } finally {
        this.fetches.delete(batch);
      }
    }
  }

  private async process(msg: JsMsg): Promise<void> {
    let job: PipelineJob;
    try {
      job = PipelineJobSchema.parse(decode(msg.data, Encoding.Msgpack));
    } catch (error) {
      this.o.logger.error({ err: error, seq: msg.seq }, 'pipeline runner: dropping a malformed job');
      msg.term();
      return;
    }
    if (this.closed) {
      msg.nak();
      return;
    }
    const attempt = msg.info.deliveryCount;
    // The ack timer runs from delivery: signal progress well within it for as long as the run lasts.
    const keepAlive = setInterval(() => msg.working(), Math.max(200, Math.floor(this.ackWaitMs / 3)));
    this.active.set(job.run_id, msg);
    try {
      if (isTerminal(await this.o.store.getRecord(job.run_id))) {
        msg.ack(); // finished by an earlier delivery whose ack was lost
        return;
      }
      this.o.logger.info({ run: job.run_id, attempt }, 'pipeline run taken');
      const end = await this.o.execute(job, attempt);
      if (end.persisted) msg.ack();
      else msg.nak(this.closed ? 0 : 1000);
    } catch (error) {
      this.o.logger.error({ err: error, run: job.run_id }, 'pipeline run failed to execute; redelivering');
      msg.nak(1000);
    } finally {
      clearInterval(keepAlive);
      this.active.delete(job.run_id);
    }
  }

  /** Stops pulling, stops the runs in progress and hands their jobs back to the stream. */
  async stop(): Promise<void> {
    this.closed = true;
    for (const batch of this.fetches) batch.stop();
    for (const runId of this.active.keys()) this.o.abort(runId);
    await Promise.allSettled(this.loops);
  }
}
