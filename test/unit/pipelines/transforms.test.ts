import { describe, expect, it } from 'vitest';
import { runTransform } from '../../../src/pipelines/transforms.js';

describe('built-in transforms', () => {
  it('joins, splits, flattens, fills templates and picks', () => {
    expect(runTransform('join', { items: ['a', 'b', 3] }, { separator: ', ' })).toEqual({ text: 'a, b, 3' });
    expect(runTransform('split', { text: 'x\n\n y \nz' })).toEqual({ items: ['x', 'y', 'z'] });
    expect(runTransform('flatten', { items: [[1, 2], 3, [4]] })).toEqual({ items: [1, 2, 3, 4] });
    expect(
      runTransform('template', { q: 'why', c: ['a', 'b'] }, { template: 'Q: {q}\n{c} {missing}' }),
    ).toEqual({
      text: 'Q: why\na\nb {missing}',
    });
    expect(runTransform('pick', { from: { a: [{ b: 7 }] } }, { path: 'a.0.b' })).toEqual({ value: 7 });
    expect(runTransform('identity', { a: 1 })).toEqual({ a: 1 });
  });

  it('names the input of the wrong type', () => {
    expect(() => runTransform('join', { items: 'no' })).toThrow('inputs.items: expected list, got string');
    expect(() => runTransform('split', { text: 4 })).toThrow('inputs.text: expected string, got integer');
  });
});
