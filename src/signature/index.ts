/**
 * The native signature engine: DSPy signature strings parsed once (memoised), typed at compile
 * time, validated and coerced at run time, and printed back in a form DSPy parses identically.
 */
export { parseSignature, clearSignatureMemo, SIGNATURE_MEMO_SIZE } from './memo.js';
export { parseTypeText } from './parser.js';
export { signature, withReasoning } from './signature.js';
export type {
  FieldDefinition,
  InferFieldDefinition,
  InferInputs,
  InferOutputs,
  Signature,
  SignatureDefinition,
  SignatureJSON,
} from './signature.js';
export type {
  CheckedSignature,
  ParseSignatureString,
  ParseTypeString,
  SignatureTypeError,
} from './type-level.js';
export { formatSignature, formatType } from './format.js';
export { Refusal } from './refusals.js';
export { DSPY_TYPES } from './types.js';
export type { DspyTypeName, FieldSpec, LiteralValue, ParsedSignature, TypeKind, TypeNode } from './types.js';
export {
  AudioSchema,
  FileSchema,
  HistorySchema,
  ImageSchema,
  ToolCallsSchema,
  ToolSchema,
  MAX_DATA_URI_LENGTH,
  MAX_MEDIA_URL_LENGTH,
} from './dspy-types.js';
export type {
  AudioValue,
  DspyValues,
  FileValue,
  HistoryValue,
  ImageValue,
  ToolCallsValue,
  ToolValue,
} from './dspy-types.js';
export { typeToZod } from './zod.js';
