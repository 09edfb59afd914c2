import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
} from '../../../src/telemetry/traceparent.js';
import { tracesUrl } from '../../../src/telemetry/tracing.js';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const traceId = hex(32).filter((s) => !/^0+$/.test(s));
const spanId = hex(16).filter((s) => !/^0+$/.test(s));

describe('traceparent', () => {
  it('parses what it formats, for every valid id and flags', () => {
    fc.assert(
      fc.property(traceId, spanId, fc.integer({ min: 0, max: 255 }), (t, s, flags) => {
        const header = formatTraceparent({ traceId: t, spanId: s, flags });
        expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
        expect(parseTraceparent(header)).toEqual({ traceId: t, spanId: s, flags });
      }),
    );
  });

  it('parses the spec example', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: 1,
    });
  });

  it('rejects every header that breaks the grammar', () => {
    const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    for (const bad of [
      '',
      'garbage',
      valid.toUpperCase(),
      valid + '-extra', // version 00 has exactly four fields
      'ff' + valid.slice(2), // version ff is forbidden
      '00-' + '0'.repeat(32) + '-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-' + '0'.repeat(16) + '-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    // Any string: parse never throws, and what it accepts formats back to a version-00 header.
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const parsed = parseTraceparent(s);
        if (parsed !== undefined) expect(parseTraceparent(formatTraceparent(parsed))).toEqual(parsed);
      }),
    );
  });

  it('accepts a future version with extra fields, keeping the four it knows', () => {
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-whatever')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: 3,
    });
  });

  it('refuses to format invalid ids', () => {
    expect(() => formatTraceparent({ traceId: 'x', spanId: '00f067aa0ba902b7', flags: 1 })).toThrow(
      /traceId/,
    );
    expect(() => formatTraceparent({ traceId: newTraceId(), spanId: '0'.repeat(16), flags: 1 })).toThrow(
      /spanId/,
    );
    expect(() => formatTraceparent({ traceId: newTraceId(), spanId: newSpanId(), flags: 256 })).toThrow(
      /flags/,
    );
  });

  it('never makes an all-zero id', () => {
    let calls = 0;
    const zerosFirst = (n: number) => (calls++ === 0 ? Buffer.alloc(n) : Buffer.alloc(n, 7));
    expect(newTraceId(zerosFirst)).toBe('07'.repeat(16));
  });
});

describe('tracing configuration', () => {
  it('is off without an endpoint, and reads the standard variables', () => {
    expect(tracesUrl({}, {})).toBeUndefined();
    expect(tracesUrl({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318/' })).toBe('http://h:4318/v1/traces');
    expect(
      tracesUrl(
        {},
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x' },
      ),
    ).toBe('http://t:1/x');
    expect(
      tracesUrl({ endpoint: 'http://o:2' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x' }),
    ).toBe('http://o:2/v1/traces');
    expect(
      tracesUrl({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined();
  });
});
