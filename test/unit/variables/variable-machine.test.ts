import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import type { VarRecord } from '../../../src/protocol/variables.js';
import { variableMachine, type SetJob, type WriteInput } from '../../../src/variables/variable-machine.js';

const record = (revision: number, value: unknown): VarRecord => ({
  name: 'temp',
  value,
  spec: { type: 'float' },
  node: 'n1',
  at: 0,
  revision,
});

/** The machine with a write effect the test completes by hand, and notifications recorded. */
function harness(queueLimit = 10) {
  const writes: Array<{ input: WriteInput; resolve: (r: VarRecord) => void; reject: (e: unknown) => void }> =
    [];
  const notified: Array<VarRecord | undefined> = [];
  const actor = createActor(
    variableMachine.provide({
      actors: {
        write: fromPromise<VarRecord, WriteInput>(
          ({ input }) => new Promise((resolve, reject) => writes.push({ input, resolve, reject })),
        ),
      },
      actions: { notify: (_, params) => notified.push(params.record) },
    }),
    { input: { name: 'temp', queueLimit } },
  );
  actor.start();
  const outcomes: Array<{ record: VarRecord } | { error: unknown }> = [];
  const job = (value: unknown, extra: Partial<SetJob> = {}): SetJob => ({
    value,
    ...extra,
    settle: (o) => outcomes.push(o),
  });
  return { actor, writes, notified, outcomes, job };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('variable machine', () => {
  it('keeps the newest record seen and notifies once per revision', () => {
    const { actor, notified } = harness();
    actor.send({ type: 'observed', record: record(3, 0.3) });
    actor.send({ type: 'observed', record: record(2, 0.2) });
    actor.send({ type: 'observed', record: record(3, 0.3) });
    actor.send({ type: 'observed', record: record(5, 0.5) });
    expect(actor.getSnapshot().context.record?.revision).toBe(5);
    expect(notified.map((r) => r?.revision)).toEqual([3, 5]);
  });

  it('serialises writes: the second waits until the first settles', async () => {
    const { actor, writes, outcomes, job } = harness();
    actor.send({ type: 'observed', record: record(1, 0.1) });
    actor.send({ type: 'set', job: job(0.2) });
    actor.send({ type: 'set', job: job(0.3) });
    expect(writes).toHaveLength(1);
    expect(writes[0]!.input.known?.revision).toBe(1);
    writes[0]!.resolve(record(2, 0.2));
    await flush();
    expect(writes).toHaveLength(2);
    // The second write sees the first one's record, so its compare-and-set uses revision 2.
    expect(writes[1]!.input.known?.revision).toBe(2);
    writes[1]!.resolve(record(3, 0.3));
    await flush();
    expect(outcomes.map((o) => ('record' in o ? o.record.revision : 'error'))).toEqual([2, 3]);
    expect(actor.getSnapshot().value).toBe('idle');
  });

  it('notifies of its own write once even when the watch delivers it too', async () => {
    const { actor, writes, notified, job } = harness();
    actor.send({ type: 'set', job: job(0.4) });
    writes[0]!.resolve(record(4, 0.4));
    await flush();
    actor.send({ type: 'observed', record: record(4, 0.4) });
    expect(notified.map((r) => r?.revision)).toEqual([4]);
  });

  it('hands a failed write its error and goes on with the next', async () => {
    const { actor, writes, outcomes, job } = harness();
    actor.send({ type: 'set', job: job(1) });
    actor.send({ type: 'set', job: job(2) });
    writes[0]!.reject(new DspexError(ErrorCode.RevisionConflict, 'stale'));
    await flush();
    expect(outcomes[0]).toMatchObject({ error: { code: 'revision_conflict' } });
    expect(writes).toHaveLength(2);
  });

  it('refuses writes beyond its queue limit with 429 overloaded', () => {
    const { actor, outcomes, job } = harness(1);
    actor.send({ type: 'set', job: job(1) }); // writing
    actor.send({ type: 'set', job: job(2) }); // queued
    actor.send({ type: 'set', job: job(3) }); // refused
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ error: { code: 'overloaded', status: 429 } });
  });

  it('forgets the value on a delete newer than it, and ignores an older delete', () => {
    const { actor, notified } = harness();
    actor.send({ type: 'observed', record: record(5, 1) });
    actor.send({ type: 'removed', revision: 4 });
    expect(actor.getSnapshot().context.record?.revision).toBe(5);
    actor.send({ type: 'removed', revision: 6 });
    expect(actor.getSnapshot().context.record).toBeUndefined();
    expect(notified.map((r) => r?.revision)).toEqual([5, undefined]);
    actor.send({ type: 'observed', record: record(5, 1) });
    expect(actor.getSnapshot().context.record).toBeUndefined();
  });
});
