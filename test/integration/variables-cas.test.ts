import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLeaseHeld, type Lease } from '../../src/index.js';
import { DspexError } from '../../src/errors.js';
import { createVariableStore, type VariableStore } from '../../src/variables/store.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';

const isStale = (e: unknown) => e instanceof DspexError && e.details?.reason === 'stale_revision';

/** One generated run: writers on two nodes, and maybe an optimizer that leases the variable. */
const planArb = fc.record({
  writers: fc.array(
    fc.record({ node: fc.integer({ min: 0, max: 1 }), increments: fc.integer({ min: 1, max: 6 }) }),
    {
      minLength: 1,
      maxLength: 5,
    },
  ),
  optimizer: fc.option(
    fc.record({
      node: fc.integer({ min: 0, max: 1 }),
      /** Writes made by other writers before the lease is taken. */
      after: fc.integer({ min: 0, max: 4 }),
      increments: fc.integer({ min: 1, max: 5 }),
      /** Event-loop turns between acquiring and the first write (others keep trying meanwhile). */
      gap: fc.integer({ min: 0, max: 30 }),
    }),
    { nil: undefined },
  ),
});

describe('compare-and-set under concurrent writers (generated runs)', () => {
  let srv: NatsServer;
  const ncs: Array<Awaited<ReturnType<typeof client>>> = [];
  const stores: VariableStore[] = [];

  beforeAll(async () => {
    srv = await startNats();
    for (const id of ['cas-a', 'cas-b']) {
      const nc = await client(srv.url);
      ncs.push(nc);
      stores.push(await createVariableStore({ nc, nodeId: id, options: { leaseTtlMs: 1000 } }));
    }
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const nc of ncs) await nc.close();
    await srv?.stop();
  });

  it('loses no update and lets nobody but the holder write while a lease is held', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        const name = `cas_${++run}`;
        await stores[0]!.define({ name, type: 'int', initial: 0 });
        let done = 0;
        let othersDone = 0;
        const landed: Array<{ revision: number; holder: boolean }> = [];
        let refusedByLease = 0;

        /** Read-modify-write with compare-and-set, retried on a stale revision. */
        const increment = async (store: VariableStore, lease?: Lease): Promise<void> => {
          for (;;) {
            const current = await store.get(name, { consistency: 'latest' });
            try {
              const r = await store.set(name, (current.value as number) + 1, {
                revision: current.revision,
                ...(lease !== undefined && { lease }),
              });
              landed.push({ revision: r.revision, holder: lease !== undefined });
              done++;
              if (lease === undefined) othersDone++;
              return;
            } catch (error) {
              if (isStale(error)) continue;
              if (lease === undefined && isLeaseHeld(error)) {
                refusedByLease++;
                return;
              }
              throw error;
            }
          }
        };

        let window: { from: number; to: number } | undefined;
        const optimizer = async (): Promise<void> => {
          const o = plan.optimizer;
          if (o === undefined) return;
          while (
            othersDone <
            Math.min(
              o.after,
              plan.writers.reduce((n, w) => n + w.increments, 0),
            )
          ) {
            await new Promise((resolve) => setImmediate(resolve));
          }
          const store = stores[o.node]!;
          const lease = await store.acquire(name, { holder: `opt-${run}`, waitMs: 10_000 });
          const acquiredAt = (await store.get(name, { consistency: 'latest' })).revision;
          for (let i = 0; i < o.gap; i++) await new Promise((resolve) => setImmediate(resolve));
          const before = landed.length;
          for (let i = 0; i < o.increments; i++) await increment(store, lease);
          const mine = landed.slice(before).filter((l) => l.holder);
          window = { from: acquiredAt, to: mine.at(-1)!.revision };
          await lease.release();
        };

        await Promise.all([
          optimizer(),
          ...plan.writers.map(async (w) => {
            for (let i = 0; i < w.increments; i++) await increment(stores[w.node]!);
          }),
        ]);

        const final = await stores[1]!.get(name, { consistency: 'latest' });
        // No lost update: every increment that succeeded is in the value.
        expect(final.value).toBe(done);
        const attempts =
          plan.writers.reduce((n, w) => n + w.increments, 0) + (plan.optimizer?.increments ?? 0);
        expect(done + refusedByLease).toBe(attempts);
        if (window !== undefined) {
          // From the acquisition to the holder's last write nobody else landed a write.
          const w = window;
          expect(landed.filter((l) => !l.holder && l.revision > w.from && l.revision < w.to)).toEqual([]);
        } else {
          expect(refusedByLease).toBe(0);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('marks a lease in the record, tells no observer about the marker, and lets writers through once it expired', async () => {
    const [a, b] = stores as [VariableStore, VariableStore];
    await a.define({ name: 'marked', type: 'int', initial: 1 });
    const seen: unknown[] = [];
    const unwatch = b.watch('marked', (r) => seen.push(r?.value));
    await eventually(() => expect(b.peek('marked')?.value).toBe(1));
    seen.length = 0;
    const lease = await a.acquire('marked', { holder: 'opt-x', autoRenew: false });
    const marked = await b.get('marked', { consistency: 'latest' });
    expect(marked).toMatchObject({ value: 1, holder: 'opt-x', marker: true });
    // B's cache may still hold the unmarked revision: its CAS fails, it rereads and is refused.
    await expect(b.set('marked', 2)).rejects.toMatchObject({
      details: { reason: 'lease_held', holder: 'opt-x' },
    });
    await a.set('marked', 3, { lease });
    // Not renewed: the lease expires silently; the next plain write reads it gone and clears the mark.
    await eventually(async () => expect((await b.describe('marked')).lease).toBeNull(), {
      timeoutMs: 10_000,
    });
    const written = await b.set('marked', 4);
    expect(written.holder).toBeUndefined();
    expect((await a.history('marked')).map((h) => [h.value, h.by])).toEqual([
      [1, undefined],
      [3, 'opt-x'],
      [4, undefined],
    ]);
    await eventually(() => expect(seen).toEqual([3, 4]));
    unwatch();
  });
});
