import type { MsgHdrsImpl } from '@nats-io/nats-core/internal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DspexError, ErrorCode } from '../../../src/errors.js';
import {
  Encoding,
  errorBody,
  errorHeaders,
  MAX_ERROR_MESSAGE,
  replyHeaders,
} from '../../../src/protocol/codec.js';
import {
  Header,
  headerValue,
  MAX_HEADER_VALUE,
  MAX_TRACE,
  traceOf,
  wireHeaders,
} from '../../../src/protocol/headers.js';
import { controlChar, hostileString, multiLineText } from '../../harness/hostile.js';

// eslint-disable-next-line no-control-regex -- the property is about control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Any string, weighted towards what breaks headers: line breaks, control characters, length. */
const anyText = fc.oneof(
  hostileString,
  multiLineText,
  fc.string({ unit: 'binary', maxLength: 3000 }),
  fc.array(controlChar, { maxLength: 50 }).map((a) => a.join('')),
);

describe('headerValue', () => {
  it('leaves no control character and stays within the cap, whatever the input', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 2, max: 2000 }), (text, max) => {
        const v = headerValue(text, max);
        expect(CONTROL.test(v)).toBe(false);
        expect(v.length).toBeLessThanOrEqual(max);
        expect(v).toBe(v.trim());
      }),
      { numRuns: 2000, seed: 91 },
    );
  });

  it('keeps a clean value unchanged', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9 _.:-]{0,200}$/), (text) => {
        expect(headerValue(text)).toBe(text.trim());
      }),
      { seed: 92 },
    );
  });

  it('replaces each run of control characters by one space and cuts long values with an ellipsis', () => {
    expect(headerValue('module "Predict\nX" is\r\n\r\nunknown')).toBe('module "Predict X" is unknown');
    expect(headerValue('a\u2028b\u0000\u0085c')).toBe('a b c');
    const long = headerValue('x'.repeat(5000));
    expect(long).toHaveLength(MAX_HEADER_VALUE);
    expect(long.endsWith('…')).toBe(true);
  });

  it('never cuts a surrogate pair in half', () => {
    const v = headerValue('a' + '😀'.repeat(20), 10);
    expect(v.length).toBeLessThanOrEqual(10);
    // No lone surrogate (what a cut pair would leave).
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v)).toBe(false);
  });
});

describe('wireHeaders', () => {
  it('builds headers nats.js accepts from any values', () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, (trace, error, deadline) => {
        const h = wireHeaders({ [Header.Trace]: trace, [Header.Error]: error, [Header.Deadline]: deadline });
        // Serialising is where nats.js would throw on CR/LF.
        const wire = (h as MsgHdrsImpl).toString();
        expect(wire.split('\r\n').every((line) => !CONTROL.test(line))).toBe(true);
        expect((h.get(Header.Trace) ?? '').length).toBeLessThanOrEqual(MAX_TRACE);
        expect((h.get(Header.Error) ?? '').length).toBeLessThanOrEqual(MAX_HEADER_VALUE);
      }),
      { numRuns: 1000, seed: 93 },
    );
  });

  it('leaves out undefined and blank values', () => {
    const h = wireHeaders({ [Header.Trace]: undefined, [Header.Session]: '\n', [Header.Deadline]: 5 });
    expect(h.has(Header.Trace)).toBe(false);
    expect(h.has(Header.Session)).toBe(false);
    expect(h.get(Header.Deadline)).toBe('5');
  });

  it('reads a request trace back sanitised and cut', () => {
    expect(traceOf(wireHeaders({ [Header.Trace]: 't'.repeat(500) }))).toHaveLength(MAX_TRACE);
    expect(traceOf(undefined)).toBeUndefined();
  });
});

describe('error replies', () => {
  it('carry any error message in clean headers and a capped body', () => {
    fc.assert(
      fc.property(anyText, fc.constantFrom(...Object.values(ErrorCode)), (message, code) => {
        const error = new DspexError(code, message);
        for (const encoding of [Encoding.Json, Encoding.Msgpack]) {
          const h = errorHeaders(error, encoding, message);
          expect(h.get(Header.ErrorCode)).toBe(String(error.status));
          expect(() => (h as MsgHdrsImpl).encode()).not.toThrow();
          expect(CONTROL.test(h.get(Header.Error) ?? '')).toBe(false);
        }
        expect(errorBody(error).error.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
      }),
      { numRuns: 1000, seed: 94 },
    );
  });

  it('echo the trace on success replies too', () => {
    expect(replyHeaders(Encoding.Json, 'abc\ndef')?.get(Header.Trace)).toBe('abc def');
    expect(replyHeaders(Encoding.Msgpack, 'abc')?.get(Header.Trace)).toBe('abc');
  });

  it('leave a msgpack reply without a trace with no header block at all', () => {
    expect(replyHeaders(Encoding.Msgpack)).toBeUndefined();
    // A trace that sanitises to nothing says nothing either.
    expect(replyHeaders(Encoding.Msgpack, '\n\u0000')).toBeUndefined();
    expect(replyHeaders(Encoding.Json)?.get(Header.ContentType)).toBe('application/json');
  });
});
