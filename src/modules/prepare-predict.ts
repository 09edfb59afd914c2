import { randomUUID } from 'node:crypto';
import { DspexError, ErrorCode } from '../errors.js';
import { isModuleName, moduleNames } from '../protocol/modules.js';
import { preview } from '../protocol/names.js';
import type { PredictRequest, WorkerPredictRequest } from '../protocol/schemas.js';
import { signature } from '../signature/index.js';
import { checkModuleFields } from './module-options.js';

/**
 * Checks a predict request before it leaves the node (unknown module 404, malformed signature 400
 * with its column, module options that do not fit the module 400 naming the field, inputs that do not match the signature 422 naming the field) and turns it into
 * the worker's request. The signature is parsed once per distinct string (memoised) and sent in its
 * canonical text, which the worker's grammar reads to the same fields (docs/signatures.md).
 */
export function preparePredict(body: PredictRequest): WorkerPredictRequest {
  if (!isModuleName(body.module)) {
    throw new DspexError(
      ErrorCode.NotFound,
      `module "${preview(body.module)}" is unknown; expected one of ${moduleNames.join(', ')}`,
      {
        details: { field: 'module', expected: moduleNames },
      },
    );
  }
  const sig = signature(body.signature);
  checkModuleFields(body.module, body, sig);
  sig.validateInputs(body.inputs);
  const request: WorkerPredictRequest = {
    op: 'predict',
    id: randomUUID(),
    module: body.module,
    signature: sig.toString(),
    inputs: body.inputs,
  };
  if (body.config !== undefined) request.config = body.config;
  if (body.demos !== undefined) request.demos = body.demos;
  if (body.instructions !== undefined) request.instructions = body.instructions;
  if (body.options !== undefined) request.options = body.options;
  if (body.tools !== undefined) request.tools = body.tools;
  if (body.completions !== undefined) request.completions = body.completions;
  if (body.state !== undefined) request.state = body.state;
  return request;
}
