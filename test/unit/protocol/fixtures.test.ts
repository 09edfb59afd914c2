import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDspexError } from '../../../src/errors.js';
import {
  decode,
  encode,
  Encoding,
  messageSchemas,
  parseMessage,
  type MessageType,
} from '../../../src/protocol/index.js';

interface Fixture {
  type: MessageType;
  message: unknown;
  reason?: string;
  /** Invalid fixtures: the field the error names (`details.field`), in both suites. */
  field?: string;
}

const root = join(import.meta.dirname, '../../../fixtures/protocol');
const load = (kind: 'valid' | 'invalid'): Array<[string, Fixture]> =>
  readdirSync(join(root, kind))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(readFileSync(join(root, kind, f), 'utf8')) as Fixture]);

describe('protocol fixtures shared with the Python worker', () => {
  const valid = load('valid');
  const invalid = load('invalid');

  it('has fixtures of every kind', () => {
    expect(valid.length).toBeGreaterThanOrEqual(10);
    expect(invalid.length).toBeGreaterThanOrEqual(8);
  });

  it.each(valid)('accepts %s', (_name, fixture) => {
    const schema = messageSchemas[fixture.type];
    expect(schema, `unknown type ${fixture.type}`).toBeDefined();
    expect(schema.safeParse(fixture.message).success).toBe(true);
  });

  it.each(invalid)('rejects %s, naming its field', (_name, fixture) => {
    expect(typeof fixture.field, 'an invalid fixture names its "field"').toBe('string');
    let caught: unknown;
    try {
      parseMessage(messageSchemas[fixture.type], fixture.message, fixture.type);
    } catch (error) {
      caught = error;
    }
    expect(isDspexError(caught) && caught.details?.field).toBe(fixture.field);
  });

  it.each(valid)('round-trips %s through msgpack and JSON unchanged', (_name, fixture) => {
    for (const enc of [Encoding.Msgpack, Encoding.Json]) {
      expect(decode(encode(fixture.message, enc), enc)).toEqual(fixture.message);
    }
  });
});
