import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import { analysePipeline } from '../../../src/pipelines/graph.js';
import { runMachine } from '../../../src/pipelines/run-machine.js';
import type { Checkpoints, RunOutcome } from '../../../src/pipelines/run-plan.js';
import { stageMachine, type ExecuteInput } from '../../../src/pipelines/stage-machine.js';
import type {
  FailurePolicy,
  PipelineEventBody,
  PipelineSpec,
  StageSpec,
} from '../../../src/protocol/pipelines.js';

const stage = (id: string, inputs: StageSpec['inputs'] = {}): StageSpec => ({
  id,
  kind: 'fn',
  fn: id,
  inputs,
});

function run(
  spec: PipelineSpec,
  work: (i: ExecuteInput, signal: AbortSignal) => Promise<Record<string, unknown>>,
  o: { policy?: FailurePolicy; checkpoints?: Checkpoints } = {},
) {
  const events: PipelineEventBody[] = [];
  const executed: string[] = [];
  const finished: RunOutcome[] = [];
  const stageLogic = stageMachine.provide({
    actors: {
      execute: fromPromise(({ input, signal }) => {
        executed.push(input.stage);
        return work(input, signal);
      }),
    },
  });
  const logic = runMachine.provide({
    actors: {
      load: fromPromise(() => Promise.resolve(o.checkpoints ?? { stages: {}, items: {} })),
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
      inputs: { q: 'question' },
      policy: o.policy ?? 'fail_fast',
      node: 'n1',
      attempt: 1,
      limits: { maxItems: 100, concurrency: 4 },
      defaults: { timeoutMs: 5000, retries: 0, backoffMs: 1 },
      now: Date.now,
      stage: stageLogic,
    },
  });
  actor.start();
  return { exit: toPromise(actor), events, executed, finished };
}

const kinds = (events: PipelineEventBody[]) =>
  events.map((e) => ('stage' in e ? `${e.type}:${e.stage}` : e.type));

describe('the run machine', () => {
  it('starts independent stages together and wires outputs downstream', async () => {
    const spec: PipelineSpec = {
      name: 'p',
      stages: [
        stage('a', { q: { input: 'q' } }),
        stage('b'),
        stage('c', { x: { stage: 'a', output: 'v' }, y: { stage: 'b', output: 'v' } }),
      ],
    };
    const { exit, events, finished } = run(spec, async (i) => {
      await new Promise((r) => setTimeout(r, 5));
      return {
        v:
          i.stage === 'c'
            ? `${String(i.inputs.x)}+${String(i.inputs.y)}`
            : `${i.stage}(${typeof i.inputs.q === 'string' ? i.inputs.q : ''})`,
      };
    });
    const result = await exit;
    expect(result.persisted).toBe(true);
    expect(result.outcome).toMatchObject({ status: 'completed', outputs: { c: { v: 'a(question)+b()' } } });
    expect(kinds(events).slice(0, 3)).toEqual(['run.started', 'stage.started:a', 'stage.started:b']);
    expect(kinds(events).at(-1)).toBe('run.completed');
    expect(
      events.filter((e) => e.type === 'progress').map((e) => e.type === 'progress' && [e.done, e.total]),
    ).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(finished).toHaveLength(1);
  });

  it('continues past a failure: dependents are skipped, the rest completes, the failure is named', async () => {
    const spec: PipelineSpec = {
      name: 'p',
      stages: [
        stage('bad'),
        stage('after', { x: { stage: 'bad' } }),
        stage('then', { x: { stage: 'after' } }),
        stage('ok'),
      ],
    };
    const { exit, events } = run(
      spec,
      (i) => {
        if (i.stage === 'bad')
          return Promise.reject(new DspexError(ErrorCode.LmError, 'model down', { retryable: false }));
        return Promise.resolve({ fine: true });
      },
      { policy: 'continue' },
    );
    const { outcome } = await exit;
    expect(outcome.status).toBe('partial');
    expect(outcome.failures.map((f) => [f.stage, f.error.code])).toEqual([['bad', 'lm_error']]);
    expect(outcome.skipped).toEqual(['after', 'then']);
    expect(outcome.stages).toEqual({ ok: { fine: true } });
    expect(kinds(events)).toContain('stage.skipped:then');
  });

  it('fails fast: the running stages are stopped and skipped', async () => {
    let aborted = 0;
    const spec: PipelineSpec = { name: 'p', stages: [stage('bad'), stage('slow')] };
    const { exit, events } = run(spec, (i, signal) =>
      i.stage === 'bad'
        ? Promise.reject(new Error('boom'))
        : new Promise(() => signal.addEventListener('abort', () => aborted++)),
    );
    const { outcome } = await exit;
    expect(outcome).toMatchObject({ status: 'failed', skipped: ['slow'], error: { code: 'internal' } });
    expect(aborted).toBe(1);
    expect(kinds(events).at(-1)).toBe('run.failed');
  });

  it('resumes from checkpoints without rerunning finished stages or items', async () => {
    const spec: PipelineSpec = {
      name: 'p',
      stages: [
        stage('a'),
        { ...stage('m', { x: { value: [1, 2, 3] }, a: { stage: 'a' } }), map: { over: 'x' } },
        stage('z', { m: { stage: 'm' } }),
      ],
    };
    const { exit, events, executed } = run(
      spec,
      (i) => Promise.resolve({ out: `${i.stage}${i.item ?? ''}` }),
      {
        checkpoints: {
          stages: { a: { status: 'completed', outputs: { out: 'a-old' }, durationMs: 1 } },
          items: { m: { 0: { out: 'm0-old' } } },
        },
      },
    );
    const { outcome } = await exit;
    expect(executed.sort()).toEqual(['m', 'm', 'z']);
    expect(outcome.stages).toEqual({
      a: { out: 'a-old' },
      m: { out: ['m0-old', 'm1', 'm2'] },
      z: { out: 'z' },
    });
    expect(events[0]).toMatchObject({ type: 'run.started', restored: ['a'], total: 3 });
  });

  it('fails a stage whose mapped input is not a list, before running it', async () => {
    const spec: PipelineSpec = {
      name: 'p',
      stages: [{ ...stage('m', { x: { value: 'nope' } }), map: { over: 'x' } }],
    };
    const { exit, executed } = run(spec, () => Promise.resolve({}), { policy: 'continue' });
    const { outcome } = await exit;
    expect(executed).toEqual([]);
    expect(outcome.failures[0]?.error).toMatchObject({
      code: 'validation_failed',
      message: 'stage "m": inputs.x: mapped input: expected list, got string',
    });
  });
});
