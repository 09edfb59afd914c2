import { describe, expect, it } from 'vitest';
import { DspexError, ValidationError } from '../../../src/errors.js';
import { from, input, pipeline, predict, transform, value, fn } from '../../../src/pipelines/dsl.js';
import { analysePipeline } from '../../../src/pipelines/graph.js';
import type { PipelineSpec, StageSpec } from '../../../src/protocol/pipelines.js';

const id = (stageId: string, inputs: StageSpec['inputs'] = {}): StageSpec => ({
  id: stageId,
  kind: 'transform',
  op: 'identity',
  inputs,
});
const spec = (...stages: StageSpec[]): PipelineSpec => ({ name: 'p', stages });

function rejection(run: () => unknown): DspexError {
  try {
    run();
  } catch (error) {
    return error as DspexError;
  }
  throw new Error('expected a rejection');
}

describe('pipeline graph analysis', () => {
  it('orders stages after what they read, keeps declaration order between independents, finds sinks', () => {
    const graph = analysePipeline(
      spec(
        id('answer', { c: { stage: 'merge' } }),
        id('left', { q: { input: 'question' } }),
        id('right', { k: { value: 3 } }),
        id('merge', { l: { stage: 'left', output: 'q' }, r: { stage: 'right' } }),
      ),
    );
    expect(graph.order).toEqual(['left', 'right', 'merge', 'answer']);
    expect(graph.stages.get('merge')!.deps).toEqual(['left', 'right']);
    expect(graph.dependents.get('left')).toEqual(['merge']);
    expect(graph.sinks).toEqual(['answer']);
    expect(graph.inputs).toEqual(['question']);
  });

  it('names the stages of a cycle in data-flow order', () => {
    const error = rejection(() =>
      analysePipeline(
        spec(
          id('start'),
          id('a', { x: { stage: 'c' } }),
          id('b', { x: { stage: 'a' } }),
          id('c', { x: { stage: 'b' } }),
        ),
      ),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.status).toBe(422);
    expect(error.message).toBe('pipeline.stages.1: stage "a" is in a dependency cycle: a → b → c → a');
    expect(error.details).toMatchObject({ stage: 'a', cycle: ['a', 'b', 'c', 'a'] });
  });

  it('refuses a stage that reads from itself', () => {
    const error = rejection(() => analysePipeline(spec(id('self', { x: { stage: 'self' } }))));
    expect(error.message).toContain('stage "self" is in a dependency cycle: self → self');
  });

  it('names the stage and the input of a dangling reference', () => {
    const error = rejection(() => analysePipeline(spec(id('a'), id('b', { x: { stage: 'missing' } }))));
    expect(error.details).toMatchObject({
      field: 'pipeline.stages.1.inputs.x',
      stage: 'b',
      missing: 'missing',
    });
    expect(error.message).toContain('stage "b" reads from unknown stage "missing"');
  });

  it('checks output fields against DSPy signatures (reasoning included for ChainOfThought) and transforms', () => {
    const cot: StageSpec = {
      id: 'cot',
      kind: 'predict',
      module: 'ChainOfThought',
      signature: 'q -> answer',
      inputs: {},
    };
    expect(() =>
      analysePipeline(spec(cot, id('use', { r: { stage: 'cot', output: 'reasoning' } }))),
    ).not.toThrow();
    const error = rejection(() =>
      analysePipeline(spec(cot, id('use', { r: { stage: 'cot', output: 'answr' } }))),
    );
    expect(error.message).toContain('reads output "answr" of stage "cot", which produces reasoning, answer');
    const split: StageSpec = { id: 's', kind: 'transform', op: 'split', inputs: {} };
    expect(
      rejection(() => analysePipeline(spec(split, id('u', { x: { stage: 's', output: 'text' } })))).details,
    ).toMatchObject({
      missing: 's.text',
    });
  });

  it('refuses duplicate ids, a map over a missing input, a bad signature and an unknown function', () => {
    expect(rejection(() => analysePipeline(spec(id('a'), id('a')))).details).toMatchObject({
      field: 'pipeline.stages.1.id',
    });
    const mapped: StageSpec = { ...id('m', { x: { value: [1] } }), map: { over: 'y' } };
    expect(rejection(() => analysePipeline(spec(mapped))).details).toMatchObject({
      field: 'pipeline.stages.0.map.over',
    });
    const bad: StageSpec = {
      id: 'p',
      kind: 'predict',
      module: 'Predict',
      signature: 'q a ->-> b',
      inputs: {},
    };
    expect(rejection(() => analysePipeline(spec(bad))).details).toMatchObject({
      field: 'pipeline.stages.0.signature',
    });
    const f: StageSpec = { id: 'f', kind: 'fn', fn: 'nope', inputs: {} };
    const unknown = rejection(() => analysePipeline(spec(f), { hasFunction: () => false }));
    expect(unknown.status).toBe(404);
    expect(unknown.details).toMatchObject({ field: 'pipeline.stages.0.fn', stage: 'f' });
  });

  it('checks the pipeline outputs like stage inputs', () => {
    const error = rejection(() => analysePipeline({ ...spec(id('a')), outputs: { x: { stage: 'b' } } }));
    expect(error.details).toMatchObject({ field: 'pipeline.outputs.x' });
  });
});

describe('the pipeline DSL', () => {
  it('builds the wire form', () => {
    const p = pipeline('qa')
      .stage('retrieve', fn('search'), { inputs: { q: input('question') }, retries: 2, timeoutMs: 500 })
      .stage('answer', predict('ChainOfThought', 'context, question -> answer', { pool: 'general' }), {
        inputs: { context: from('retrieve', 'passages'), question: input('question') },
        map: { over: 'context', concurrency: 2 },
      })
      .stage('k', transform('join', { separator: ' ' }), { inputs: { items: value(['a']) } })
      .policy('continue');
    expect(p.toJSON()).toEqual({
      name: 'qa',
      policy: 'continue',
      stages: [
        {
          id: 'retrieve',
          kind: 'fn',
          fn: 'search',
          inputs: { q: { input: 'question' } },
          retries: 2,
          timeout_ms: 500,
        },
        {
          id: 'answer',
          kind: 'predict',
          module: 'ChainOfThought',
          signature: 'context, question -> answer',
          pool: 'general',
          inputs: { context: { stage: 'retrieve', output: 'passages' }, question: { input: 'question' } },
          map: { over: 'context', concurrency: 2 },
        },
        {
          id: 'k',
          kind: 'transform',
          op: 'join',
          args: { separator: ' ' },
          inputs: { items: { value: ['a'] } },
        },
      ],
    });
    expect(p.portable).toBe(true);
  });

  it('keeps inline functions local and refuses to serialise them', () => {
    const p = pipeline('local').stage(
      'f',
      fn(() => ({ ok: true })),
    );
    expect(p.portable).toBe(false);
    expect(p.spec.stages[0]).toMatchObject({ kind: 'fn', fn: 'inline-f' });
    expect(p.functions.has('inline-f')).toBe(true);
    expect(() => p.toJSON()).toThrow('pipeline.stages.0.fn: stage "f" is an inline function');
  });
});
