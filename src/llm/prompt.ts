/**
 * The prompt the direct adapter sends for a predict, and how it reads the answer back.
 *
 * Format (documented in docs/llm.md):
 * - system: the instructions (or a default built from the field names), the input fields and the
 *   output fields with their types and descriptions, and the request to answer with one JSON object
 *   whose keys are the output fields;
 * - per demo: a user message with the demo's inputs, an assistant message with its outputs as JSON;
 * - user: one `[[ ## name ## ]]` block per input, the value as text (non-strings as JSON).
 * The answer is the first JSON object in the reply (code fences allowed); failing that,
 * `[[ ## name ## ]]` blocks as DSPy's ChatAdapter writes them.
 */
import { ValidationError } from '../errors.js';
import type { Signature } from '../signature/index.js';
import type { FieldSpec } from '../signature/types.js';
import type { ChatMessage } from './types.js';

function fieldLine(field: FieldSpec): string {
  return `- \`${field.name}\` (${field.typeText})${field.description ? `: ${field.description}` : ''}`;
}

/** The default instructions DSPy also derives when a signature has none. */
function defaultInstructions(sig: Signature): string {
  const names = (fields: readonly FieldSpec[]): string => fields.map((f) => `\`${f.name}\``).join(', ');
  return `Given the fields ${names(sig.inputs)}, produce the fields ${names(sig.outputs)}.`;
}

/** The system message of a signature. */
export function systemPrompt(sig: Signature): string {
  const shape = sig.outputs.map((f) => `${JSON.stringify(f.name)}: <${f.typeText}>`).join(', ');
  return [
    sig.instructions ?? defaultInstructions(sig),
    '',
    'Input fields:',
    ...sig.inputs.map(fieldLine),
    'Output fields:',
    ...sig.outputs.map(fieldLine),
    '',
    `Answer with one JSON object and nothing else: {${shape}}`,
  ].join('\n');
}

function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/** The user message carrying a set of input values. */
export function inputsMessage(sig: Signature, inputs: Record<string, unknown>): string {
  return sig.inputs
    .filter((f) => inputs[f.name] !== undefined)
    .map((f) => `[[ ## ${f.name} ## ]]\n${valueText(inputs[f.name])}`)
    .join('\n\n');
}

/** Every message of a predict: system, demos as user/assistant pairs, then the inputs. */
export function buildMessages(
  sig: Signature,
  inputs: Record<string, unknown>,
  demos: ReadonlyArray<Record<string, unknown>> = [],
): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: systemPrompt(sig) }];
  for (const demo of demos) {
    const outputs: Record<string, unknown> = {};
    for (const f of sig.outputs) if (demo[f.name] !== undefined) outputs[f.name] = demo[f.name];
    messages.push({ role: 'user', content: inputsMessage(sig, demo) });
    messages.push({ role: 'assistant', content: JSON.stringify(outputs) });
  }
  messages.push({ role: 'user', content: inputsMessage(sig, inputs) });
  return messages;
}

/** The message that re-asks after an invalid answer, naming what was wrong. */
export function reaskMessage(error: ValidationError): string {
  return (
    `Your answer was not valid: ${error.message}. ` +
    'Answer again with one JSON object holding every output field with the listed types.'
  );
}

const FENCE = /^```(?:json)?\s*([\s\S]*?)\s*```$/;

/**
 * The raw output object in a reply: a JSON object (fenced or not, or embedded in text), else
 * DSPy-style `[[ ## field ## ]]` blocks.
 * @throws {ValidationError} on `outputs` when neither is found.
 */
export function extractAnswer(sig: Signature, text: string | null): Record<string, unknown> {
  const trimmed = (text ?? '').trim();
  const unfenced = FENCE.exec(trimmed)?.[1] ?? trimmed;
  const start = unfenced.indexOf('{');
  const end = unfenced.lastIndexOf('}');
  if (start >= 0 && end > start) {
    try {
      const value = JSON.parse(unfenced.slice(start, end + 1)) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        return value as Record<string, unknown>;
      }
    } catch {
      // fall through to the field-block form
    }
  }
  const blocks = fieldBlocks(trimmed);
  if (sig.outputs.some((f) => blocks[f.name] !== undefined)) return blocks;
  throw new ValidationError('outputs', 'expected a JSON object with the output fields, got text');
}

function fieldBlocks(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const re = /\[\[ ## (\w+) ## \]\]\n?/g;
  const marks = [...text.matchAll(re)];
  for (let i = 0; i < marks.length; i++) {
    const mark = marks[i]!;
    const from = mark.index + mark[0].length;
    const to = marks[i + 1]?.index ?? text.length;
    const name = mark[1]!;
    if (name !== 'completed') out[name] = text.slice(from, to).trim();
  }
  return out;
}
