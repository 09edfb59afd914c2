import { pino } from 'pino';
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { DspexError } from '../../../src/errors.js';
import type { VarRecord } from '../../../src/protocol/variables.js';
import { VariableActors, type VariableActorsOptions } from '../../../src/variables/variable-actors.js';
import type { WriteInput } from '../../../src/variables/variable-machine.js';

const record = (revision: number, value: unknown = revision, name = 'v'): VarRecord => ({
  name,
  value,
  spec: { type: 'int' },
  node: 'n1',
  at: 0,
  revision,
});

/**
 * Supervised variable actors with a write effect the test completes by hand and a notify effect
 * that records what observers were told and throws while `poison` says so (the injected crash).
 */
function harness(extra: Partial<VariableActorsOptions> = {}) {
  const writes: Array<{ input: WriteInput; resolve: (r: VarRecord) => void; reject: (e: unknown) => void }> =
    [];
  const notified: Array<{ name: string; revision: number | undefined }> = [];
  let poison: (name: string, record: VarRecord | undefined) => boolean = () => false;
  const actors = new VariableActors({
    nodeId: 'n1',
    queueLimit: 10,
    write: (input) => new Promise((resolve, reject) => writes.push({ input, resolve, reject })),
    notify: (name, r) => {
      if (poison(name, r)) throw new Error(`observer effect failed on ${name}@${r?.revision}`);
      notified.push({ name, revision: r?.revision });
    },
    logger: pino({ level: 'silent' }),
    ...extra,
  });
  actors.start();
  const revisions = (name = 'v') => notified.filter((n) => n.name === name).map((n) => n.revision);
  return {
    actors,
    writes,
    revisions,
    setPoison: (p: typeof poison) => (poison = p),
  };
}

/** Lets the actors' microtasks and promise reactions run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('supervised variable actors', () => {
  it('restarts an actor whose effect threw and resumes after the last revision it delivered', async () => {
    const h = harness();
    h.actors.send('v', { type: 'observed', record: record(1) });
    let once = true;
    h.setPoison((_, r) => r?.revision === 2 && once && !(once = false));
    h.actors.send('v', { type: 'observed', record: record(2) });
    await settle();
    expect(h.actors.restarts('v')).toBe(1);
    // Revision 1 not told twice, revision 2 (the one it crashed on) not lost.
    expect(h.revisions()).toEqual([1, 2]);
    expect(h.actors.record('v')).toMatchObject({ revision: 2, value: 2 });
    // The restarted instance is the live one: a newer revision goes through once.
    h.actors.send('v', { type: 'observed', record: record(3) });
    h.actors.send('v', { type: 'observed', record: record(3) });
    expect(h.revisions()).toEqual([1, 2, 3]);
  });

  it('holds the state it had while down and replays the updates made meanwhile, once each, in order', async () => {
    const clock = new SimulatedClock();
    const h = harness({ clock, restartDelayMs: 500 });
    h.actors.send('v', { type: 'observed', record: record(1) });
    let once = true;
    h.setPoison((_, r) => r?.revision === 2 && once && !(once = false));
    h.actors.send('v', { type: 'observed', record: record(2) });
    await settle();
    // Down: it keeps the last record it delivered; updates arriving now wait for the new instance.
    expect(h.actors.record('v')).toMatchObject({ revision: 1 });
    h.actors.send('v', { type: 'observed', record: record(4) });
    h.actors.send('v', { type: 'observed', record: record(3) });
    h.actors.send('v', { type: 'removed', revision: 5 });
    h.actors.send('v', { type: 'observed', record: record(1) });
    expect(h.revisions()).toEqual([1]);
    expect(h.actors.restarts('v')).toBe(0);
    clock.increment(500);
    await settle();
    expect(h.actors.restarts('v')).toBe(1);
    // 2 (crashed on), then 3 and 4 in revision order, then the delete; 4 arrived before 3 and is
    // older than nothing, so all three are told; 1 was already delivered.
    expect(h.revisions()).toEqual([1, 2, 3, 4, undefined]);
    expect(h.actors.record('v')).toBeUndefined();
    h.actors.send('v', { type: 'observed', record: record(6) });
    expect(h.revisions()).toEqual([1, 2, 3, 4, undefined, 6]);
  });

  it('settles the write in flight at the crash with its outcome and runs the queued writes after it', async () => {
    const h = harness();
    h.actors.send('v', { type: 'observed', record: record(1) });
    const first = h.actors.enqueue('v', { value: 10 });
    const second = h.actors.enqueue('v', { value: 11 });
    await settle();
    expect(h.writes.map((w) => w.input.job.value)).toEqual([10]);
    let once = true;
    h.setPoison((_, r) => r?.revision === 2 && once && !(once = false));
    h.actors.send('v', { type: 'observed', record: record(2) });
    await settle();
    expect(h.actors.restarts('v')).toBe(1);
    // The queued write waits for the one in flight, as it would have without the crash.
    expect(h.writes).toHaveLength(1);
    h.writes[0]!.resolve(record(3, 10));
    await expect(first).resolves.toMatchObject({ revision: 3, value: 10 });
    await settle();
    expect(h.writes.map((w) => w.input.job.value)).toEqual([10, 11]);
    // The new instance starts from the revision the first write made.
    expect(h.writes[1]!.input.known).toMatchObject({ revision: 3 });
    h.writes[1]!.resolve(record(4, 11));
    await expect(second).resolves.toMatchObject({ revision: 4 });
    expect(h.revisions()).toEqual([1, 2, 3, 4]);
  });

  it('leaves the other variables alone when one crashes (one_for_one)', async () => {
    const h = harness();
    h.actors.send('w', { type: 'observed', record: record(1, 'a', 'w') });
    const pendingOnW = h.actors.enqueue('w', { value: 'b' });
    let once = true;
    h.setPoison((name) => name === 'v' && once && !(once = false));
    h.actors.send('v', { type: 'observed', record: record(1) });
    await settle();
    expect(h.actors.restarts('v')).toBe(1);
    expect(h.actors.restarts('w')).toBe(0);
    h.writes[0]!.resolve(record(2, 'b', 'w'));
    await expect(pendingOnW).resolves.toMatchObject({ revision: 2 });
  });

  it('escalates when the restart intensity is exceeded and then refuses writes with 503', async () => {
    const h = harness({ intensity: { maxRestarts: 2, periodMs: 60_000 } });
    h.actors.send('w', { type: 'observed', record: record(1, 'a', 'w') });
    const waiting = h.actors.enqueue('w', { value: 'b' });
    await settle();
    // A poison revision: every instance crashes on it when it is replayed.
    h.setPoison((name, r) => name === 'v' && r?.revision === 7);
    h.actors.send('v', { type: 'observed', record: record(7) });
    const failure = await h.actors.failed;
    expect(failure).toEqual({ child: 'v', reason: 'observer effect failed on v@7' });
    expect(h.actors.restarts('v')).toBe(2);
    // Every waiting write, also on other variables, is refused, and so is every later one.
    await expect(waiting).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    const later = h.actors.enqueue('w', { value: 'c' });
    await expect(later).rejects.toBeInstanceOf(DspexError);
    await expect(later).rejects.toMatchObject({ details: { reason: 'supervisor_failed', child: 'v' } });
    expect(h.revisions('v')).toEqual([]);
  });
});
