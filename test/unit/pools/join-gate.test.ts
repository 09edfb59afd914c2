import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JoinGate } from '../../../src/pools/join-gate.js';

describe('JoinGate', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  const settled = async (p: Promise<void>): Promise<boolean> => {
    let done = false;
    void p.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    return done;
  };

  it('lets a call through at once when its pool has a worker', async () => {
    const gate = new JoinGate({ graceMs: 3000, servable: () => true });
    expect(await settled(gate.wait('general', Date.now() + 60_000))).toBe(true);
  });

  it('holds a call until a worker of its pool appears', async () => {
    const live = new Set<string>();
    const gate = new JoinGate({ graceMs: 3000, servable: (p) => live.has(p) });
    const call = gate.wait('general', Date.now() + 60_000);
    const other = gate.wait('extra', Date.now() + 60_000);
    expect(await settled(call)).toBe(false);
    gate.changed('general'); // changed, but still no worker
    expect(await settled(call)).toBe(false);
    live.add('general');
    gate.changed('general');
    expect(await settled(call)).toBe(true);
    expect(await settled(other)).toBe(false);
    gate.close();
    expect(await settled(other)).toBe(true);
  });

  it('holds a call no longer than the window or its deadline, and not at all past the window', async () => {
    const gate = new JoinGate({ graceMs: 3000, servable: () => false });
    const shortDeadline = gate.wait('general', Date.now() + 1000);
    const longDeadline = gate.wait('general', Date.now() + 60_000);
    await vi.advanceTimersByTimeAsync(999);
    expect(await settled(shortDeadline)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(shortDeadline)).toBe(true);
    await vi.advanceTimersByTimeAsync(1999);
    expect(await settled(longDeadline)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(longDeadline)).toBe(true);
    expect(await settled(gate.wait('general', Date.now() + 60_000))).toBe(true);
  });
});
