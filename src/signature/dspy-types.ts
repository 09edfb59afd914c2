/**
 * DSPy's own types as values on the wire (docs/signatures.md, "DSPy's types"): one JSON form each,
 * with its zod schema and TypeScript type. The worker builds the real DSPy object from the same
 * form (`python/dspex_worker/dspy_values.py`) and sends outputs back in it.
 *
 * | type | wire form |
 * |---|---|
 * | `dspy.Image` | `https://…`, `http://…` or `gs://…` URL, or a `data:image/<type>;base64,…` URI |
 * | `dspy.Audio` | `data:audio/<format>;base64,…` URI |
 * | `dspy.File` | `{file_data?: data URI, file_id?: string, filename?: string}`, `file_data` or `file_id` required |
 * | `dspy.History` | `{messages: [{<field>: value, …}, …]}`: the conversation's earlier turns |
 * | `dspy.Tool` | `{name, description?, parameters?: JSON schema}`: a tool the model may call |
 * | `dspy.ToolCalls` | `{tool_calls: [{name, args: {…}}, …]}` |
 * | `dspy.Code`, `dspy.Code['lang']` | the code, a string |
 * | `dspy.Reasoning` | the reasoning text, a string |
 */
import { z } from 'zod';
import type { DspyTypeName } from './types.js';

/** Longest URL of a `dspy.Image`. */
export const MAX_MEDIA_URL_LENGTH = 8192;
/**
 * Longest data URI (`dspy.Image`, `dspy.Audio`, `dspy.File.file_data`), in characters: NATS's
 * largest payload. A request must also fit the node's body limit (`maxPayloadBytes`, 1 MiB by default).
 */
export const MAX_DATA_URI_LENGTH = 8 * 1024 * 1024;
/** Longest `file_id`, `filename`, tool name or tool call name. */
export const MAX_NAME_LENGTH = 256;

const BASE64 = String.raw`(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?`;
const MIME_PART = String.raw`[A-Za-z0-9.+-]+`;
/** The same patterns are in the worker (`dspy_values.py`); ASCII only, so both engines agree. */
export const MEDIA_PATTERNS = {
  url: String.raw`^(?:https?|gs)://[^\x00-\x20\x7f/?#]+[^\x00-\x20\x7f]*$`,
  image: String.raw`^data:image/${MIME_PART};base64,${BASE64}$`,
  audio: String.raw`^data:audio/${MIME_PART};base64,${BASE64}$`,
  file: String.raw`^data:${MIME_PART}/${MIME_PART};base64,${BASE64}$`,
} as const;

const url = new RegExp(MEDIA_PATTERNS.url);
const imageData = new RegExp(MEDIA_PATTERNS.image);
const audioData = new RegExp(MEDIA_PATTERNS.audio);
const fileData = new RegExp(MEDIA_PATTERNS.file);

/** `dspy.Image`: a URL (`https`, `http`, `gs`) or a base64 `data:image/…` URI. */
export const ImageSchema = z
  .string()
  .refine(
    (s) =>
      (s.length <= MAX_MEDIA_URL_LENGTH && url.test(s)) ||
      (s.length <= MAX_DATA_URI_LENGTH && imageData.test(s)),
    {
      message: `expected an image: an http(s) or gs URL of at most ${MAX_MEDIA_URL_LENGTH} characters, or a data:image/<type>;base64 URI of at most ${MAX_DATA_URI_LENGTH}`,
    },
  );
export type ImageValue = string;

/** `dspy.Audio`: a base64 `data:audio/<format>` URI. */
export const AudioSchema = z.string().refine((s) => s.length <= MAX_DATA_URI_LENGTH && audioData.test(s), {
  message: `expected audio: a data:audio/<format>;base64 URI of at most ${MAX_DATA_URI_LENGTH} characters`,
});
export type AudioValue = string;

/** `dspy.File`: DSPy's own JSON form; `file_data` (a base64 data URI) or `file_id` must be there. */
export const FileSchema = z
  .strictObject({
    file_data: z
      .string()
      .max(MAX_DATA_URI_LENGTH)
      .regex(fileData, 'expected a data:<mime type>;base64 URI')
      .optional(),
    file_id: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
    filename: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
  })
  .refine((f) => f.file_data !== undefined || f.file_id !== undefined, {
    message: 'expected file_data or file_id',
  });
export interface FileValue {
  file_data?: string;
  file_id?: string;
  filename?: string;
}

/** `dspy.History`: earlier turns, each a map of the signature's input and output fields. */
export const HistorySchema = z.strictObject({ messages: z.array(z.record(z.string(), z.unknown())) });
export interface HistoryValue {
  messages: Array<Record<string, unknown>>;
}

/** `dspy.Tool`: a tool the model may call, as a predict request's `tools` names one. */
export const ToolSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'expected 1-64 letters, digits, "_" or "-"'),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export interface ToolValue {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

/** `dspy.ToolCalls`: the calls a model asks for. */
export const ToolCallsSchema = z.strictObject({
  tool_calls: z.array(
    z.strictObject({ name: z.string().min(1).max(MAX_NAME_LENGTH), args: z.record(z.string(), z.unknown()) }),
  ),
});
export interface ToolCallsValue {
  tool_calls: Array<{ name: string; args: Record<string, unknown> }>;
}

/** The TypeScript type of each DSPy type's wire form. */
export interface DspyValues {
  Image: ImageValue;
  Audio: AudioValue;
  File: FileValue;
  History: HistoryValue;
  Tool: ToolValue;
  ToolCalls: ToolCallsValue;
  Code: string;
  Reasoning: string;
}

/** The zod schema of each DSPy type's wire form. */
export const DSPY_SCHEMAS: Readonly<Record<DspyTypeName, z.ZodType>> = {
  Image: ImageSchema,
  Audio: AudioSchema,
  File: FileSchema,
  History: HistorySchema,
  Tool: ToolSchema,
  ToolCalls: ToolCallsSchema,
  Code: z.string(),
  Reasoning: z.string(),
};

/** What a mismatch message says a DSPy type expects. */
export const DSPY_DESCRIPTIONS: Readonly<Record<DspyTypeName, string>> = {
  Image: 'image (URL or data:image URI)',
  Audio: 'audio (data:audio URI)',
  File: 'file ({file_data | file_id, filename?})',
  History: 'history ({messages: [...]})',
  Tool: 'tool ({name, description?, parameters?})',
  ToolCalls: 'tool calls ({tool_calls: [{name, args}]})',
  Code: 'string',
  Reasoning: 'string',
};
