import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import {
  stageMachine,
  type ExecuteInput,
  type StageInput,
  type StageNotice,
  type StageResult,
} from '../../../src/pipelines/stage-machine.js';

type Work = (input: ExecuteInput, signal: AbortSignal) => Promise<Record<string, unknown>>;

function runStage(work: Work, input: Partial<StageInput> = {}) {
  const calls: ExecuteInput[] = [];
  const notices: StageNotice[] = [];
  const saved: StageResult[] = [];
  const logic = stageMachine.provide({
    actors: {
      execute: fromPromise(({ input: i, signal }) => {
        calls.push(i);
        return work(i, signal);
      }),
      save: fromPromise(({ input: i }) => {
        saved.push(i.result);
        return Promise.resolve();
      }),
    },
    actions: { notify: (_, { notice }) => notices.push(notice) },
  });
  const actor = createActor(logic, {
    input: {
      runId: 'r1',
      stage: 's',
      inputs: { x: 1 },
      timeoutMs: 5000,
      retries: 0,
      backoffMs: 1,
      now: Date.now,
      ...input,
    },
  });
  actor.start();
  return { result: toPromise(actor), calls, notices, saved };
}

describe('the stage machine', () => {
  it('retries a retryable failure with backoff and completes', async () => {
    let n = 0;
    const { result, calls, notices, saved } = runStage(
      () => {
        if (++n < 3) return Promise.reject(new DspexError(ErrorCode.Overloaded, 'busy'));
        return Promise.resolve({ ok: n });
      },
      { retries: 2, backoffMs: 5 },
    );
    expect(await result).toMatchObject({ status: 'completed', outputs: { ok: 3 } });
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(notices.map((x) => [x.attempt, x.delayMs, x.error.code])).toEqual([
      [1, 5, 'overloaded'],
      [2, 10, 'overloaded'],
    ]);
    expect(saved).toEqual([await result]);
  });

  it('fails at once on a non-retryable error, naming the stage', async () => {
    const { result, calls } = runStage(
      () => Promise.reject(new DspexError(ErrorCode.ValidationFailed, 'inputs.x: bad')),
      { retries: 5 },
    );
    const r = await result;
    expect(r.status).toBe('failed');
    expect(r.status === 'failed' && r.error).toMatchObject({
      code: 'validation_failed',
      message: 'stage "s": inputs.x: bad',
      details: { stage: 's', attempts: 1 },
    });
    expect(calls).toHaveLength(1);
  });

  it('times an attempt out, aborts it, retries, then fails with deadline_exceeded', async () => {
    let aborted = 0;
    const { result, calls } = runStage(
      (_i, signal) =>
        new Promise(() => {
          signal.addEventListener('abort', () => aborted++);
        }),
      { timeoutMs: 30, retries: 1 },
    );
    const r = await result;
    expect(r.status === 'failed' && r.error.code).toBe('deadline_exceeded');
    expect(calls).toHaveLength(2);
    expect(aborted).toBe(2);
  });

  it('fans out over items within the concurrency bound, keeps item order and skips restored items', async () => {
    let running = 0;
    let peak = 0;
    const { result, calls } = runStage(
      async (i) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10 + Number(i.inputs.x) * 3));
        running--;
        return { y: Number(i.inputs.x) * 10, item: i.item };
      },
      { map: { over: 'x', items: [5, 1, 4, 2, 3, 0], concurrency: 2 }, restored: { 2: { y: 40, item: 2 } } },
    );
    expect(await result).toMatchObject({
      status: 'completed',
      outputs: { y: [50, 10, 40, 20, 30, 0], item: [0, 1, 2, 3, 4, 5] },
    });
    expect(peak).toBe(2);
    expect(calls.map((c) => c.item).sort()).toEqual([0, 1, 3, 4, 5]);
  });

  it('stops the other items when one item fails for good', async () => {
    let aborted = 0;
    const { result } = runStage(
      (i, signal) =>
        i.item === 1
          ? Promise.reject(new Error('boom'))
          : new Promise(() => signal.addEventListener('abort', () => aborted++)),
      { map: { over: 'x', items: [0, 1, 2], concurrency: 3 } },
    );
    const r = await result;
    expect(r.status === 'failed' && r.error).toMatchObject({
      code: 'internal',
      message: 'stage "s" (item 1): boom',
      details: { item: 1 },
    });
    expect(aborted).toBe(2);
  });
});
