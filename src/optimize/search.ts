/**
 * The distributed optimizer: random search or successive halving over numeric and categorical
 * variables. Candidates are evaluated in parallel (each evaluation's predicts spread over the pool);
 * every trial is claimed in the shared {@link TrialLedger} first, so optimizers searching the same
 * variables at once never evaluate a candidate twice and read each other's results. Trials are
 * written into the variables' history with their scores under the variables' leases, and the run
 * ends with a compare-and-set write of the best candidate the ledger holds (docs/optimization.md).
 */
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import type { VariableStore } from '../variables/store.js';
import { bestTrial, type Trial, type TrialLedger } from './ledger.js';
import type { Objective } from './objective.js';
import {
  candidateKey,
  createRng,
  sampleCandidate,
  SearchSpaceSchema,
  spaceSize,
  type Candidate,
} from './space.js';

/** How candidates are chosen. */
export const StrategySchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('random'),
    /** Candidates this optimizer proposes (fewer when the space runs out). */
    trials: z.number().int().positive().max(100_000),
    /** Devset examples per evaluation. @default 1000000 (the whole devset) */
    budget: z.number().int().positive().default(1_000_000),
  }),
  z.strictObject({
    kind: z.literal('successive-halving'),
    /** Candidates of the first rung. */
    candidates: z.number().int().min(2).max(10_000),
    /** Devset examples per evaluation in the first rung. */
    minBudget: z.number().int().positive(),
    /** Budget of the last rung (the devset size). */
    maxBudget: z.number().int().positive(),
    /** Keep the best 1/eta of each rung and multiply the budget by eta. @default 3 */
    eta: z.number().int().min(2).default(3),
  }),
]);

/** Options of a search. */
export const SearchOptionsSchema = z.object({
  space: SearchSpaceSchema,
  strategy: StrategySchema,
  /** Optimizers with the same study share trials. @default the sorted variable names */
  study: z.string().min(1).max(128).optional(),
  /** This optimizer's id: lease holder and `by` of its writes. @default `opt-` + random hex */
  id: z.string().min(1).max(128).optional(),
  /** Candidates evaluated at once. @default 4 */
  concurrency: z.number().int().min(1).max(256).default(4),
  /** Seed of the candidate sampler. @default random */
  seed: z.number().int().optional(),
  /** Write every finished trial into the variables' history (value + score). @default true */
  recordTrials: z.boolean().default(true),
  /** How long to wait for a variable's lease. @default 30000 */
  leaseWaitMs: z.number().int().nonnegative().default(30_000),
  /** How long to wait, at the end, for trials other optimizers still run. @default 120000 */
  settleMs: z.number().int().nonnegative().default(120_000),
});
export type SearchOptions = z.input<typeof SearchOptionsSchema> & {
  objective: Objective;
  /** Stops proposing new candidates once aborted; running evaluations finish. */
  signal?: AbortSignal;
  /** Called after each trial this optimizer finishes or finds finished by another. */
  onTrial?: (trial: Trial, own: boolean) => void;
};

/** What a search returns. */
export interface SearchResult {
  id: string;
  study: string;
  /** The best finished trial in the ledger (every optimizer's). */
  best: Trial | undefined;
  /** Every trial of the study in the ledger when the search ended. */
  trials: Trial[];
  /** Trials this optimizer evaluated itself. */
  evaluated: number;
  /** Candidates it found claimed or finished by another optimizer. */
  shared: number;
  /** Variable revisions written by the final compare-and-set (absent when they already held the best). */
  written: Record<string, number>;
}

export interface SearchDeps {
  variables: VariableStore;
  ledger: TrialLedger;
  logger: Logger;
}

/** Runs one search to its end. */
export async function runSearch(deps: SearchDeps, options: SearchOptions): Promise<SearchResult> {
  const parsed = SearchOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '';
    throw new DspexError(ErrorCode.BadRequest, `search options: ${path}: ${issue?.message ?? 'invalid'}`, {
      details: { field: path },
    });
  }
  return new Search(deps, parsed.data, options).run();
}

type Resolved = z.output<typeof SearchOptionsSchema>;

class Search {
  readonly id: string;
  readonly study: string;
  private readonly names: string[];
  private evaluated = 0;
  private shared = 0;
  /** Lanes of one search share a lease holder: their lease-held writes take turns. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly d: SearchDeps,
    private readonly o: Resolved,
    private readonly hooks: Pick<SearchOptions, 'objective' | 'signal' | 'onTrial'>,
  ) {
    this.names = Object.keys(o.space).sort();
    this.id = o.id ?? `opt-${randomBytes(4).toString('hex')}`;
    this.study = o.study ?? this.names.join('+');
  }

  async run(): Promise<SearchResult> {
    // Every variable must exist: its type and constraints check the candidates' values.
    await Promise.all(this.names.map((n) => this.d.variables.get(n, { consistency: 'latest' })));
    const s = this.o.strategy;
    switch (s.kind) {
      case 'random':
        await this.random(s.trials, s.budget);
        break;
      case 'successive-halving':
        await this.halving(s.candidates, s.minBudget, s.maxBudget, s.eta);
        break;
      default: {
        const never: never = s;
        throw new Error(`unknown strategy ${String(never)}`);
      }
    }
    await this.settle();
    const { best, trials, written } = await this.exclusive(() => this.finish());
    return {
      id: this.id,
      study: this.study,
      best,
      trials,
      evaluated: this.evaluated,
      shared: this.shared,
      written,
    };
  }

  /** Distinct candidates from the seeded sampler; stops early once the space is exhausted. */
  private *candidates(limit: number): Generator<Candidate> {
    const rng = createRng(this.o.seed ?? randomBytes(4).readUInt32LE());
    const size = spaceSize(this.o.space);
    const seen = new Set<string>();
    let misses = 0;
    while (seen.size < limit && (size === undefined || seen.size < size) && misses < 1000) {
      const c = sampleCandidate(this.o.space, rng);
      const key = candidateKey(c);
      if (seen.has(key)) {
        misses++;
        continue;
      }
      misses = 0;
      seen.add(key);
      yield c;
    }
  }

  private async random(trials: number, budget: number): Promise<void> {
    const it = this.candidates(trials);
    const lane = async (): Promise<void> => {
      for (;;) {
        if (this.hooks.signal?.aborted === true) return;
        const next = it.next();
        if (next.done === true) return;
        await this.trial(next.value, budget, false);
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, lane));
  }

  private async halving(n: number, minBudget: number, maxBudget: number, eta: number): Promise<void> {
    let rung = [...this.candidates(n)];
    let budget = Math.min(minBudget, maxBudget);
    for (;;) {
      if (this.hooks.signal?.aborted === true) return;
      const scored = await this.evaluateAll(rung, budget);
      if (rung.length <= 1 || budget >= maxBudget) return;
      scored.sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1));
      rung = scored.slice(0, Math.max(1, Math.ceil(rung.length / eta))).map((s) => s.candidate);
      budget = Math.min(maxBudget, budget * eta);
    }
  }

  /** Scores of a rung: evaluated here or waited for when another optimizer holds the claim. */
  private async evaluateAll(
    rung: Candidate[],
    budget: number,
  ): Promise<Array<{ candidate: Candidate; key: string; score: number }>> {
    const out: Array<{ candidate: Candidate; key: string; score: number }> = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < rung.length) {
        const candidate = rung[next++]!;
        const trial = await this.trial(candidate, budget, true);
        if (trial?.status === 'done' && trial.score !== undefined)
          out.push({ candidate, key: trial.key, score: trial.score });
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, lane));
    return out;
  }

  /**
   * One candidate at one budget: claim and evaluate it, or take another optimizer's trial (waiting
   * for its result when `wait`).
   */
  private async trial(candidate: Candidate, budget: number, wait: boolean): Promise<Trial | undefined> {
    const key = candidateKey(candidate);
    for (;;) {
      const claim = await this.d.ledger.claim(this.study, key, budget, candidate, this.id);
      if (claim.kind === 'taken') {
        if (claim.trial.status === 'done' || !wait) {
          this.shared++;
          this.hooks.onTrial?.(claim.trial, false);
          return claim.trial;
        }
        await sleep(100); // claimed by a live optimizer: poll until it finishes or its claim goes stale
        continue;
      }
      const base = { study: this.study, key, candidate, budget, by: this.id };
      let trial: Trial;
      try {
        const score = await this.hooks.objective(candidate, budget);
        if (!Number.isFinite(score)) throw new Error(`objective returned ${score}`);
        trial = await this.d.ledger.complete({ ...base, status: 'done', score }, claim.revision);
      } catch (error) {
        this.d.logger.warn({ err: error, optimizer: this.id, candidate }, 'trial failed');
        trial = await this.d.ledger.complete(
          { ...base, status: 'failed', error: String(error).slice(0, 500) },
          claim.revision,
        );
      }
      this.evaluated++;
      if (trial.status === 'done' && this.o.recordTrials) await this.record(candidate, trial.score!);
      this.hooks.onTrial?.(trial, true);
      return trial;
    }
  }

  /** Writes a finished trial's values into the variables' history, with its score, under their leases. */
  private record(candidate: Candidate, score: number): Promise<void> {
    return this.exclusive(() => this.recordNow(candidate, score));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writing.then(fn, fn);
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async recordNow(candidate: Candidate, score: number): Promise<void> {
    const lease = await this.d.variables.acquire(this.names, { holder: this.id, waitMs: this.o.leaseWaitMs });
    try {
      for (const name of this.names) await this.d.variables.set(name, candidate[name], { lease, score });
    } finally {
      await lease.release();
    }
  }

  /** Waits (bounded) until no trial of the study is still claimed by a live optimizer. */
  private async settle(): Promise<void> {
    const until = Date.now() + this.o.settleMs;
    while (Date.now() < until) {
      const trials = await this.d.ledger.list(this.study);
      const live = trials.filter(
        (t) => t.status === 'claimed' && Date.now() - t.at <= this.d.ledger.claimTtlMs,
      );
      if (live.length === 0) return;
      await sleep(100);
    }
  }

  /**
   * Under the variables' leases (so another optimizer's trial writes cannot interleave), reads the
   * ledger and writes the best candidate with compare-and-set on each variable's revision.
   */
  private async finish(): Promise<{
    best: Trial | undefined;
    trials: Trial[];
    written: Record<string, number>;
  }> {
    const lease = await this.d.variables.acquire(this.names, { holder: this.id, waitMs: this.o.leaseWaitMs });
    try {
      const trials = await this.d.ledger.list(this.study);
      const best = bestTrial(trials);
      const written: Record<string, number> = {};
      if (best === undefined) return { best, trials, written };
      for (const name of this.names) {
        for (let attempt = 0; ; attempt++) {
          const current = await this.d.variables.get(name, { consistency: 'latest' });
          if (isDeepStrictEqual(current.value, best.candidate[name]) && current.score === best.score) break;
          try {
            const record = await this.d.variables.set(name, best.candidate[name], {
              lease,
              revision: current.revision,
              score: best.score!,
            });
            written[name] = record.revision;
            break;
          } catch (error) {
            // A 409 from a writer outside the lease: read again and retry a few times.
            if (!(error instanceof DspexError) || error.code !== ErrorCode.RevisionConflict || attempt >= 5)
              throw error;
          }
        }
      }
      return { best, trials, written };
    } finally {
      await lease.release();
    }
  }
}
