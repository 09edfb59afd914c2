/**
 * Variables: how long a value set on one runtime node takes to reach an observer on another node
 * (set → watch callback, p50/p99), and sets per second — beside, in the same run and on the same
 * server, a raw JetStream KV `put` observed by a KV watch on a second connection (the engine's own
 * floor). The difference is what dspex adds: validation, the compare-and-set (the lease state
 * travels in the record, so a write without a lease reads no lease), the record encoding and the
 * actor hop on both sides.
 *
 * Subjects alternate in rounds so drift on the shared machine hits both alike.
 */
import { connect } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { createRuntime, type Runtime } from '../../src/index.js';
import { startNatsServer } from '../../src/nats/nats-server.js';
import { perSecond, ratio, summarize } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

interface Sizes {
  rounds: number;
  /** Sequential set→observed samples per subject per round. */
  iterations: number;
  warmup: number;
  /** Concurrent writers (each on its own variable/key) for the throughput run. */
  writers: number;
  /** Writes per writer per round in the throughput run. */
  writesPerWriter: number;
}

/** One measured subject: write a value, and learn when the other side observed it. */
interface Subject {
  key: string;
  /** Writes `value` to variable/key `slot`; resolves when the write is acknowledged. */
  write(slot: number, value: number): Promise<unknown>;
  /** Resolves when the observer on the other node sees `value` on `slot`. */
  observed(slot: number, value: number): Promise<void>;
}

/** Waiters keyed by slot and value, fed by an observer callback. */
class Arrivals {
  private readonly waiting = new Map<string, () => void>();
  private readonly early = new Set<string>();
  arrive(slot: number, value: number): void {
    const k = `${slot}:${value}`;
    const w = this.waiting.get(k);
    if (w === undefined) this.early.add(k);
    else {
      this.waiting.delete(k);
      w();
    }
  }
  wait(slot: number, value: number): Promise<void> {
    const k = `${slot}:${value}`;
    if (this.early.delete(k)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(k, resolve));
  }
}

let counter = 0;

async function latency(s: Subject, n: number, warmup: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const value = ++counter;
    const seen = s.observed(0, value);
    const start = performance.now();
    await s.write(0, value);
    await seen;
    if (i >= warmup) samples.push(performance.now() - start);
  }
  return samples;
}

async function throughput(
  s: Subject,
  writers: number,
  perWriter: number,
): Promise<{ writes: number; ms: number }> {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) await s.write(w + 1, ++counter);
    }),
  );
  return { writes: writers * perWriter, ms: performance.now() - start };
}

async function dspexSubject(a: Runtime, b: Runtime, slots: number): Promise<Subject> {
  const arrivals = new Arrivals();
  for (let slot = 0; slot <= slots; slot++) {
    await a.variables.define({ name: `bench_${slot}`, type: 'int', initial: 0 });
    b.variables.watch(`bench_${slot}`, (r) => {
      if (r !== undefined) arrivals.arrive(slot, r.value as number);
    });
  }
  return {
    key: 'dspex variable set → observed on node B',
    write: (slot, value) => a.variables.set(`bench_${slot}`, value),
    observed: (slot, value) => arrivals.wait(slot, value),
  };
}

async function rawSubject(
  ncA: NatsConnection,
  ncB: NatsConnection,
): Promise<{ subject: Subject; stop: () => void }> {
  // The same bucket settings as the variables bucket: file storage, 64 revisions of history.
  const kvA: KV = await new Kvm(ncA).create('bench_raw', { history: 64, storage: 'file' });
  const kvB: KV = await new Kvm(ncB).open('bench_raw');
  const arrivals = new Arrivals();
  const watch = await kvB.watch({ include: 'updates' });
  void (async () => {
    for await (const e of watch) {
      if (e.operation === 'PUT')
        arrivals.arrive(Number(e.key.slice(1)), Number(new TextDecoder().decode(e.value)));
    }
  })();
  return {
    subject: {
      key: 'raw JetStream KV put → watch',
      write: (slot, value) => kvA.put(`k${slot}`, String(value)),
      observed: (slot, value) => arrivals.wait(slot, value),
    },
    stop: () => watch.stop(),
  };
}

const scenario: Scenario = {
  name: 'variables',
  description:
    'Variable set on node A → observed on node B (p50/p99) and sets/s, beside a raw JetStream KV put → watch on the same server',
  async run({ quick }): Promise<ScenarioResult> {
    const sizes: Sizes = quick
      ? { rounds: 2, iterations: 50, warmup: 10, writers: 4, writesPerWriter: 25 }
      : { rounds: 5, iterations: 300, warmup: 30, writers: 8, writesPerWriter: 150 };
    const server = await startNatsServer();
    const logger = pino({ level: 'silent' });
    const node = (id: string) =>
      createRuntime({ nats: { servers: server.url }, nodeId: id, pools: { general: { size: 0 } }, logger });
    const a = await node('bench-a');
    const b = await node('bench-b');
    const ncA = await connect({ servers: server.url });
    const ncB = await connect({ servers: server.url });
    try {
      const ours = await dspexSubject(a, b, sizes.writers);
      const raw = await rawSubject(ncA, ncB);
      const subjects = [ours, raw.subject];
      const lat = new Map<string, number[]>(subjects.map((s) => [s.key, []]));
      const thr = new Map<string, { writes: number; ms: number }>(
        subjects.map((s) => [s.key, { writes: 0, ms: 0 }]),
      );
      for (let round = 0; round < sizes.rounds; round++) {
        const order = round % 2 === 0 ? subjects : [...subjects].reverse();
        for (const s of order) lat.get(s.key)!.push(...(await latency(s, sizes.iterations, sizes.warmup)));
        for (const s of order) {
          const t = await throughput(s, sizes.writers, sizes.writesPerWriter);
          const acc = thr.get(s.key)!;
          acc.writes += t.writes;
          acc.ms += t.ms;
        }
      }
      raw.stop();
      const rows: BenchRow[] = subjects.map((s) => {
        const l = summarize(lat.get(s.key)!);
        const t = thr.get(s.key)!;
        return {
          subject: s.key,
          baseline: s !== ours,
          metrics: {
            n: l.n,
            p50_ms: l.p50_ms,
            p99_ms: l.p99_ms,
            mean_ms: l.mean_ms,
            per_s: perSecond(t.writes, t.ms),
          },
        };
      });
      const [mine, engine] = rows as [BenchRow, BenchRow];
      return {
        rows,
        ratios: {
          'p50 overhead x': ratio(mine.metrics.p50_ms!, engine.metrics.p50_ms!),
          'p99 overhead x': ratio(mine.metrics.p99_ms!, engine.metrics.p99_ms!),
          'sets/s vs puts/s': ratio(mine.metrics.per_s!, engine.metrics.per_s!),
        },
        notes: [
          'Both nodes and the raw clients run in this process on separate NATS connections to one local nats-server (file storage).',
          `Throughput: ${sizes.writers} concurrent writers, each on its own variable (dspex) or key (raw), each awaiting its write.`,
          'A dspex set is one compare-and-set update (the lease state is in the record); the raw put is one unconditional publish.',
        ],
      };
    } finally {
      await ncA.close();
      await ncB.close();
      await b.stop();
      await a.stop();
      await server.stop();
    }
  },
};

export default scenario;
