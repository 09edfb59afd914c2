/**
 * A run's stages under its rest_for_one stage supervisor: a stage that crashes (a throwing action,
 * injected with `.provide()`) is restarted with the stages started after it; past the intensity the
 * supervisor escalates to the run, which fails that stage and finishes.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import { analysePipeline } from '../../../src/pipelines/graph.js';
import { runMachine, STAGES } from '../../../src/pipelines/run-machine.js';
import type { RunOutcome } from '../../../src/pipelines/run-plan.js';
import { stageMachine, type ExecuteInput } from '../../../src/pipelines/stage-machine.js';
import type { PipelineEventBody, PipelineSpec } from '../../../src/protocol/pipelines.js';
import type { RestartIntensity } from '../../../src/supervisors/options.js';
import type { SupervisorActorRef } from '../../../src/supervisors/supervisor-machine.js';
import type { SupervisorEmitted } from '../../../src/supervisors/types.js';

// a and b are independent and start together (a first); c reads a.
const spec: PipelineSpec = {
  name: 'p',
  stages: [
    { id: 'a', kind: 'fn', fn: 'a', inputs: {}, retries: 1 },
    { id: 'b', kind: 'fn', fn: 'b', inputs: {} },
    { id: 'c', kind: 'fn', fn: 'c', inputs: { x: { stage: 'a', output: 'value' } } },
  ],
};

const retryable = () => new DspexError(ErrorCode.Unavailable, 'try again');

function start(
  work: (input: ExecuteInput, signal: AbortSignal) => Promise<Record<string, unknown>>,
  faults: { notify: number },
  stageIntensity?: RestartIntensity,
) {
  const finished: RunOutcome[] = [];
  const events: PipelineEventBody[] = [];
  const stage = stageMachine.provide({
    actors: { execute: fromPromise(({ input, signal }) => work(input, signal)) },
    actions: {
      // Runs when a stage retries: the injected fault.
      notify: () => {
        if (faults.notify <= 0) return;
        faults.notify--;
        throw new Error('injected fault in notify');
      },
    },
  });
  const logic = runMachine.provide({
    actors: {
      finish: fromPromise(({ input }) => {
        finished.push(input.outcome);
        return Promise.resolve();
      }),
    },
    actions: { publish: (_, { event }) => events.push(event) },
  });
  const actor = createActor(logic, {
    input: {
      runId: 'r',
      graph: analysePipeline(spec),
      inputs: {},
      policy: 'fail_fast',
      node: 'n1',
      attempt: 1,
      limits: { maxItems: 100, concurrency: 4 },
      defaults: { timeoutMs: 5000, retries: 0, backoffMs: 1 },
      now: Date.now,
      stage,
      ...(stageIntensity !== undefined && { stageIntensity }),
    },
  });
  const emitted: SupervisorEmitted[] = [];
  actor.start();
  (actor.getSnapshot().children[STAGES] as SupervisorActorRef).on('*', (event) => emitted.push(event));
  return { actor, exit: toPromise(actor), emitted, finished, events };
}

describe("a run's stage supervisor", () => {
  it('restarts a crashed stage and the stages started after it, then finishes the run', async () => {
    const calls: string[] = [];
    const aborted: string[] = [];
    const work = (input: ExecuteInput, signal: AbortSignal): Promise<Record<string, unknown>> => {
      calls.push(input.stage);
      const nth = calls.filter((s) => s === input.stage).length;
      if (input.stage === 'a' && nth === 1) return Promise.reject(retryable());
      if (input.stage === 'b' && nth === 1) {
        // Still running when a crashes: rest_for_one stops it.
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted.push('b');
            reject(new Error('aborted'));
          }),
        );
      }
      return Promise.resolve({ value: `${input.stage}${nth}` });
    };
    const { exit, emitted, finished } = start(work, { notify: 1 });

    const output = await exit;
    expect(output.status).toBe('stopped');
    expect(aborted).toEqual(['b']);
    expect(calls.filter((s) => s === 'a')).toHaveLength(2);
    expect(calls.filter((s) => s === 'b')).toHaveLength(2);
    expect(calls.filter((s) => s === 'c')).toHaveLength(1);
    const order = emitted
      .filter((e) => e.type === 'child.exited' || e.type === 'child.stopped' || e.type === 'child.restarted')
      .slice(0, 4)
      .map((e) => `${e.type}:${'id' in e ? e.id : ''}`);
    expect(order).toEqual([
      'child.exited:stage:a',
      'child.stopped:stage:b',
      'child.restarted:stage:a',
      'child.restarted:stage:b',
    ]);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({
      status: 'completed',
      stages: { a: { value: 'a2' }, b: { value: 'b2' }, c: { value: 'c1' } },
    });
  });

  it('fails the crashing stage and skips the rest when its stages crash past the intensity', async () => {
    const work = (input: ExecuteInput): Promise<Record<string, unknown>> =>
      input.stage === 'a' ? Promise.reject(retryable()) : new Promise<never>(() => undefined);
    const { exit, emitted, finished, events } = start(
      work,
      { notify: Infinity },
      { maxRestarts: 2, periodMs: 60_000 },
    );

    const output = await exit;
    expect(emitted.filter((e) => e.type === 'child.restarted' && e.id === 'stage:a')).toHaveLength(2);
    expect(emitted.filter((e) => e.type === 'supervisor.escalated')).toEqual([
      {
        type: 'supervisor.escalated',
        id: 'r.stages',
        lastFailure: { child: 'stage:a', reason: 'injected fault in notify' },
      },
    ]);
    const error = {
      code: 'internal',
      message: 'stage "a" crashed more often than its supervisor allows: injected fault in notify',
      retryable: false,
    };
    expect(output).toMatchObject({
      status: 'stopped',
      persisted: true,
      outcome: { status: 'failed', error },
    });
    expect(finished).toHaveLength(1);
    expect(finished[0]!.skipped.sort()).toEqual(['b', 'c']);
    expect(events).toContainEqual({ type: 'stage.failed', stage: 'a', error });
    expect(events.at(-1)).toMatchObject({ type: 'run.failed', error });
  });
});
