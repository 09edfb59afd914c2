import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { breakerAllows, breakerMachine, successIsNoop } from '../../../src/actors/breaker-machine.js';

function start(input = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(breakerMachine, { input, clock }).start();
  const allows = () => {
    const s = actor.getSnapshot();
    return breakerAllows(s.value, s.context.probing);
  };
  return { actor, clock, allows };
}

describe('circuit breaker', () => {
  it('opens after consecutive failures and lets one probe through after the open period', () => {
    const { actor, clock, allows } = start({ failureThreshold: 3, openMs: 1000 });
    actor.send({ type: 'failure' });
    actor.send({ type: 'failure' });
    expect(allows()).toBe(true);
    actor.send({ type: 'failure' });
    expect(actor.getSnapshot().value).toBe('open');
    expect(allows()).toBe(false);
    clock.increment(1000);
    expect(actor.getSnapshot().value).toBe('halfOpen');
    expect(allows()).toBe(true);
    actor.send({ type: 'probe' });
    expect(allows()).toBe(false);
    actor.send({ type: 'success' });
    expect(actor.getSnapshot().value).toBe('closed');
  });

  it('doubles the open period when the probe fails, up to the cap', () => {
    const { actor, clock } = start({ failureThreshold: 1, openMs: 100, maxOpenMs: 300 });
    actor.send({ type: 'failure' });
    for (const expected of [200, 300, 300]) {
      clock.increment(actor.getSnapshot().context.currentOpenMs);
      actor.send({ type: 'probe' });
      actor.send({ type: 'failure' });
      expect(actor.getSnapshot().context.currentOpenMs).toBe(expected);
    }
  });

  it('opens on a high error rate even without a run of failures', () => {
    const { actor } = start({ failureThreshold: 100, errorRateThreshold: 0.5, window: 10 });
    for (let i = 0; i < 6; i++) {
      actor.send({ type: 'failure' });
      actor.send({ type: i % 2 === 0 ? 'failure' : 'success' });
      if (actor.getSnapshot().value === 'open') break;
    }
    expect(actor.getSnapshot().value).toBe('open');
  });

  it('stays closed while failures are occasional', () => {
    const { actor } = start({ failureThreshold: 3, errorRateThreshold: 0.5, window: 10 });
    for (let i = 0; i < 30; i++) actor.send({ type: i % 5 === 0 ? 'failure' : 'success' });
    expect(actor.getSnapshot().value).toBe('closed');
  });

  it('says a success changes nothing only when sending it would leave state and context as they are', () => {
    const step = fc.oneof(
      fc.constant('success' as const),
      fc.constant('failure' as const),
      fc.constant('probe' as const),
      fc.constant('tick' as const),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 2, max: 6 }), (steps, window) => {
        const { actor, clock } = start({ window, failureThreshold: 3, openMs: 100 });
        for (const s of steps) {
          if (s === 'tick') clock.increment(100);
          else actor.send({ type: s });
          const before = actor.getSnapshot();
          if (!successIsNoop(before)) continue;
          const { value, context } = before;
          actor.send({ type: 'success' });
          expect(actor.getSnapshot().value).toEqual(value);
          expect(actor.getSnapshot().context).toEqual(context);
        }
        actor.stop();
      }),
      { numRuns: 300, seed: 13 },
    );
  });

  it('lets a healthy worker skip its successes once its window is full, and not after a failure', () => {
    const { actor } = start({ window: 4 });
    const noop = () => successIsNoop(actor.getSnapshot());
    for (let i = 0; i < 4; i++) {
      expect(noop()).toBe(false);
      actor.send({ type: 'success' });
    }
    expect(noop()).toBe(true);
    actor.send({ type: 'failure' });
    expect(noop()).toBe(false);
    for (let i = 0; i < 3; i++) actor.send({ type: 'success' });
    expect(noop()).toBe(false); // the failure is still in the window
    actor.send({ type: 'success' });
    expect(noop()).toBe(true);
  });
});
