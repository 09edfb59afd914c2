import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import { batchMachine, type BatchEvent, type BatchProgress } from '../../../src/actors/batch-machine.js';

describe('batch machine', () => {
  it('runs the strategy, reports progress and ends with every item in order', async () => {
    const grown: number[] = [];
    const seen: Array<{ items: number; parallelism: number }> = [];
    const machine = batchMachine.provide({
      actions: { grow: (_, p) => grown.push(p.size) },
      actors: {
        execute: fromCallback<BatchEvent, { items: number; parallelism: number }>(({ input, sendBack }) => {
          seen.push(input);
          // Items settle out of order; item 1 fails.
          for (const index of [2, 0, 1]) {
            sendBack({
              type: 'item.settled',
              index,
              result:
                index === 1
                  ? {
                      ok: false,
                      error: { code: 'validation_failed', message: 'inputs.q: missing', retryable: false },
                    }
                  : { ok: true, outputs: { a: `answer ${index}` }, worker: 'w', latencyMs: 1 },
            });
          }
        }),
      },
    });
    const strategy = { parallelism: 2, predictedMs: 10, growTo: 3, reason: 'test' };
    const actor = createActor(machine, { input: { items: 3, strategy, startedAt: Date.now() } });
    const progress: BatchProgress[] = [];
    actor.on('batch.progress', (p) => progress.push(p));
    const done = new Promise<void>((resolve) => actor.subscribe({ complete: resolve }));
    actor.start();
    await done;
    const out = actor.getSnapshot().output!;
    expect(grown).toEqual([3]);
    expect(seen).toEqual([{ items: 3, parallelism: 2 }]);
    expect(out.results.map((r) => (r.ok ? r.outputs.a : r.error.code))).toEqual([
      'answer 0',
      'validation_failed',
      'answer 2',
    ]);
    expect(progress.map((p) => [p.done, p.failed, p.total])).toEqual([
      [1, 0, 3],
      [2, 0, 3],
      [2, 1, 3],
    ]);
  });
});
