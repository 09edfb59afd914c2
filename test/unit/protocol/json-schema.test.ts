import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  messageJsonSchema,
  refinements,
  renderJsonSchemas,
  SCHEMA_DIR,
} from '../../../src/protocol/json-schema.js';
import { messageSchemas } from '../../../src/protocol/schemas.js';

const dir = join(import.meta.dirname, '../../..', SCHEMA_DIR);
const generated = renderJsonSchemas();

describe('JSON Schemas generated from the zod schemas (python/dspex_worker/schemas)', () => {
  it('has one file per message type and no other', () => {
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(onDisk.sort(), `${SCHEMA_DIR} differs from messageSchemas: run \`npm run schemas\``).toEqual(
      [...generated.keys()].sort(),
    );
    expect(generated.size).toBe(Object.keys(messageSchemas).length);
  });

  it.each([...generated])('%s is what the zod schemas generate', (name, text) => {
    let onDisk = '';
    try {
      onDisk = readFileSync(join(dir, name), 'utf8');
    } catch {
      // compared below: an absent file is stale too
    }
    expect(onDisk === text, `${SCHEMA_DIR}/${name} is stale: run \`npm run schemas\``).toBe(true);
  });

  it('refuses to generate a schema with a refinement nobody listed', () => {
    const schema = z.object({ name: z.string().refine((s) => s !== 'root') });
    expect(() => messageJsonSchema('made_up', schema)).toThrow(/made_up at \/properties\/name: a refinement/);
  });

  it('puts the format of a listed refinement on every field that carries it', () => {
    const formats = refinements.flatMap((r) => (r.format === undefined ? [] : [r.format]));
    expect(formats).toEqual(['dspex-signature', 'dspex-type']);
    const predict = JSON.parse(generated.get('predict_request.json') ?? '{}') as {
      properties: { signature: { format?: string } };
    };
    expect(predict.properties.signature.format).toBe('dspex-signature');
    const stages = generated.get('pipeline_run_request.json') ?? '';
    expect(stages.match(/"format": "dspex-signature"/g)).toHaveLength(2); // predict and llm stages
    expect(generated.get('var_define_request.json')).toContain('"format": "dspex-type"');
  });

  it('states the refinements it does not need a format for', () => {
    for (const [file, key] of [
      ['tool_reply.json', 'result'],
      ['var_set_request.json', 'value'],
      ['var_define_request.json', 'value'],
    ] as const) {
      const schema = JSON.parse(generated.get(file) ?? '{}') as { required?: string[] };
      expect(schema.required, file).toContain(key);
    }
  });
});
