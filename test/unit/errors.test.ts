import { describe, expect, it } from 'vitest';
import { DspexError, ErrorCode, toDspexError, ValidationError } from '../../src/errors.js';

describe('toDspexError', () => {
  it('returns a DspexError (or a subclass) as it is', () => {
    const e = new ValidationError('inputs.question', 'expected a string');
    expect(toDspexError(e)).toBe(e);
  });

  it('makes anything else internal and not retryable, keeping the original as cause', () => {
    const boom = new TypeError('boom');
    const e = toDspexError(boom);
    expect(e).toBeInstanceOf(DspexError);
    expect(e).toMatchObject({ code: ErrorCode.Internal, message: 'boom', retryable: false, cause: boom });
    expect(toDspexError('plain text')).toMatchObject({ code: ErrorCode.Internal, message: 'plain text' });
  });

  it("says the given message instead of an unexpected error's own text", () => {
    const e = toDspexError(new Error('secret path /etc/x'), 'internal error');
    expect(e).toMatchObject({ code: ErrorCode.Internal, message: 'internal error' });
    const known = new DspexError(ErrorCode.NotFound, 'no such pool');
    expect(toDspexError(known, 'internal error')).toBe(known);
  });
});
