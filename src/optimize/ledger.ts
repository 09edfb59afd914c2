/**
 * The shared trial ledger: one JetStream KV key per (study, candidate, budget). Claiming a trial is
 * `kv.create`, which the server grants to exactly one caller, so no candidate is evaluated twice at
 * one budget however many optimizers (on however many nodes) search the same variables. Results are
 * written with `kv.update` on the claim's revision; a claim whose holder went silent for `claimTtlMs`
 * is taken over by compare-and-set, so a dead optimizer does not block a study.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { type KV } from '@nats-io/kv';
import { openBucket } from '../nats/kv-bucket.js';
import { z } from 'zod';
import { decode, encode, Encoding } from '../protocol/codec.js';
import { decodeEntry, isWrongLastSequence } from '../nats/kv-entry.js';

/** A trial as stored in the ledger. */
export const TrialSchema = z.object({
  study: z.string(),
  key: z.string(),
  candidate: z.record(z.string(), z.unknown()),
  /** Fidelity: devset examples the candidate was (or is being) evaluated on. */
  budget: z.number().int().positive(),
  status: z.enum(['claimed', 'done', 'failed']),
  score: z.number().optional(),
  /** Optimizer id that claimed it. */
  by: z.string(),
  node: z.string(),
  /** Unix ms of the claim or the result. */
  at: z.number(),
  error: z.string().optional(),
});
export type Trial = z.infer<typeof TrialSchema>;

/** The outcome of {@link TrialLedger.claim}. */
export type Claim = { kind: 'claimed'; revision: number } | { kind: 'taken'; trial: Trial };

export interface LedgerOptions {
  bucket: string;
  replicas?: number;
  storage?: 'file' | 'memory';
  /** A claim older than this without a result may be taken over. @default 120000 */
  claimTtlMs?: number;
}

/** A study name is a KV key token. */
export function studyToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128) || 'study';
}

export class TrialLedger {
  readonly claimTtlMs: number;

  private constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
    claimTtlMs: number,
  ) {
    this.claimTtlMs = claimTtlMs;
  }

  /** Opens (or creates) the ledger bucket. */
  static async open(nc: NatsConnection, nodeId: string, o: LedgerOptions): Promise<TrialLedger> {
    const kv = await openBucket(nc, o.bucket, {
      history: 1,
      replicas: o.replicas ?? 1,
      storage: o.storage ?? 'file',
      description: 'dspex optimizer trial ledger',
    });
    return new TrialLedger(kv, nodeId, o.claimTtlMs ?? 120_000);
  }

  private keyOf(study: string, key: string, budget: number): string {
    return `${studyToken(study)}.${key}.b${budget}`;
  }

  /** Claims a trial for `by`, or returns the trial someone else claimed (or finished) first. */
  async claim(
    study: string,
    key: string,
    budget: number,
    candidate: Record<string, unknown>,
    by: string,
  ): Promise<Claim> {
    const k = this.keyOf(study, key, budget);
    const mine: Trial = {
      study,
      key,
      candidate,
      budget,
      status: 'claimed',
      by,
      node: this.nodeId,
      at: Date.now(),
    };
    for (;;) {
      try {
        return { kind: 'claimed', revision: await this.kv.create(k, encode(mine, Encoding.Msgpack)) };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const entry = await this.kv.get(k);
      if (entry === null || entry.operation !== 'PUT') continue;
      const trial = TrialSchema.parse(decode(entry.value, Encoding.Msgpack));
      const abandoned =
        trial.status === 'failed' || (trial.status === 'claimed' && Date.now() - trial.at > this.claimTtlMs);
      if (!abandoned) return { kind: 'taken', trial };
      try {
        return {
          kind: 'claimed',
          revision: await this.kv.update(k, encode(mine, Encoding.Msgpack), entry.revision),
        };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error; // someone else took it over first: look again
      }
    }
  }

  /** Records the result of a trial claimed at `revision`. */
  async complete(trial: Omit<Trial, 'at' | 'node'>, revision: number): Promise<Trial> {
    const done: Trial = { ...trial, node: this.nodeId, at: Date.now() };
    await this.kv.update(
      this.keyOf(trial.study, trial.key, trial.budget),
      encode(done, Encoding.Msgpack),
      revision,
    );
    return done;
  }

  /** The trial of a candidate at a budget, if any. */
  async get(study: string, key: string, budget: number): Promise<Trial | undefined> {
    return decodeEntry(TrialSchema, await this.kv.get(this.keyOf(study, key, budget)));
  }

  /** Every trial of a study (all optimizers'), in key order. */
  async list(study: string): Promise<Trial[]> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys(`${studyToken(study)}.>`)) keys.push(k);
    keys.sort();
    const trials = await Promise.all(keys.map(async (k) => decodeEntry(TrialSchema, await this.kv.get(k))));
    return trials.filter((t): t is Trial => t !== undefined);
  }
}

/** The best finished trial: highest budget first, then highest score, then key (deterministic). */
export function bestTrial(trials: readonly Trial[]): Trial | undefined {
  let best: Trial | undefined;
  for (const t of trials) {
    if (t.status !== 'done' || t.score === undefined) continue;
    if (
      best === undefined ||
      t.budget > best.budget ||
      (t.budget === best.budget && (t.score > best.score! || (t.score === best.score && t.key < best.key)))
    ) {
      best = t;
    }
  }
  return best;
}
