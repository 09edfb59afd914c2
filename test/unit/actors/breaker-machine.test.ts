import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { breakerAllows, breakerMachine } from '../../../src/actors/breaker-machine.js';

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
});
