/**
 * Content-addressed cache keys: the SHA-256 of a canonical JSON form (object keys sorted,
 * `undefined` dropped), so equal content gives equal keys whatever the key order it arrived in.
 */
import { createHash } from 'node:crypto';
import type { PredictRequest } from '../protocol/schemas.js';
import type { ChatRequest } from './types.js';

/** JSON text with object keys sorted at every depth; `undefined` members are left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = obj[key];
    if (member === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return out + '}';
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `config` keys that steer dspex rather than the LM, so they do not change an answer. */
const ROUTING_KEYS: ReadonlySet<string> = new Set(['cache', 'adapter']);

/**
 * Key of one LM completion: model, messages and every parameter that shapes the answer
 * (`params`, tools, response schema).
 */
export function lmCacheKey(model: string, request: ChatRequest): string {
  return `lm1.${sha256(
    canonicalJson({
      model,
      messages: request.messages,
      params: request.params ?? {},
      tools: request.tools,
      schema: request.schema,
    }),
  )}`;
}

/**
 * Key of one predict, whatever adapter answers it: module, signature, instructions, inputs, LM
 * config (routing keys `cache`/`adapter` excluded), demos and the LM name the call resolves to.
 */
export function predictCacheKey(body: PredictRequest, lm: string): string {
  let config: Record<string, unknown> | undefined;
  if (body.config !== undefined) {
    config = {};
    for (const key of Object.keys(body.config)) {
      if (!ROUTING_KEYS.has(key)) config[key] = body.config[key];
    }
  }
  return `pr1.${sha256(
    canonicalJson({
      module: body.module,
      signature: body.signature,
      instructions: body.instructions,
      inputs: body.inputs,
      config,
      demos: body.demos,
      // Module options, MultiChainComparison completions and a loaded program state change the answer.
      options: body.options,
      completions: body.completions,
      state: body.state,
      lm,
    }),
  )}`;
}
