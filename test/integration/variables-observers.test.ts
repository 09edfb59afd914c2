import { Kvm, type KvWatchEntry } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVariableStore, type VariableStore } from '../../src/variables/store.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';

/** Observer announcements are renewed every third of this (the smallest TTL allowed). */
const OBSERVER_TTL = 1000;

describe('observer announcements of watches and bindings', () => {
  let srv: NatsServer;
  let nc: Awaited<ReturnType<typeof client>>;
  let store: VariableStore;

  beforeAll(async () => {
    srv = await startNats();
    nc = await client(srv.url);
    store = await createVariableStore({ nc, nodeId: 'obs-node', options: { observerTtlMs: OBSERVER_TTL } });
  });
  afterAll(async () => {
    await store?.close();
    await nc?.close();
    await srv?.stop();
  });

  it('withdraws a released binding and never renews it again, while a live watch keeps renewing', async () => {
    await store.define({ name: 'bound_temp', type: 'float', initial: 0.5 });
    // Every announcement write, in order, from the observer bucket's own stream.
    const seen: Array<{ key: string; op: KvWatchEntry['operation'] }> = [];
    const kv = await new Kvm(nc).open(store.names.observers);
    const watch = await kv.watch({ key: 'bound_temp.>', include: 'updates' });
    void (async () => {
      for await (const e of watch) seen.push({ key: e.key, op: e.operation });
    })();

    const unwatch = store.watch('bound_temp', () => undefined, { id: 'keeper' });
    const binding = store.bind({ config: { temperature: 'bound_temp' } });
    const bindingKey = await eventually(() => {
      const key = seen.find((s) => s.op === 'PUT' && s.key !== 'bound_temp.keeper')?.key;
      expect(key).toMatch(/^bound_temp\.obs-node-binding-\d+$/);
      return key!;
    });
    expect((await store.describe('bound_temp')).observers.map((o) => o.kind).sort()).toEqual([
      'binding',
      'callback',
    ]);

    binding.release();
    binding.release(); // idempotent
    const deletedAt = await eventually(() => {
      const at = seen.findIndex((s) => s.key === bindingKey && s.op !== 'PUT');
      expect(at).toBeGreaterThanOrEqual(0);
      return at;
    });
    // Two renewal rounds of the live watch after the withdrawal: the binding was not among them.
    await eventually(
      () => {
        const renewals = seen.slice(deletedAt).filter((s) => s.key === 'bound_temp.keeper' && s.op === 'PUT');
        expect(renewals.length).toBeGreaterThanOrEqual(2);
      },
      { timeoutMs: 10 * OBSERVER_TTL },
    );
    expect(seen.slice(deletedAt + 1).filter((s) => s.key === bindingKey)).toEqual([]);
    expect((await store.describe('bound_temp')).observers.map((o) => o.kind)).toEqual(['callback']);

    // A released binding still reads its variables.
    const applied = await binding.apply({ inputs: {} } as never);
    expect(applied.config).toEqual({ temperature: 0.5 });
    unwatch();
    watch.stop();
  });
});
