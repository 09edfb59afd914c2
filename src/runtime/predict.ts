import { randomUUID } from 'node:crypto';
import { DspexError, ErrorCode } from '../errors.js';
import { isModuleName, moduleNames } from '../protocol/modules.js';
import type { PredictRequest, WorkerPredictRequest } from '../protocol/schemas.js';
import { signature } from '../signature/index.js';

/**
 * Checks a predict request before it leaves the node (unknown module 404, malformed signature 400
 * with its column, inputs that do not match the signature 422 naming the field) and turns it into
 * the worker's request. The signature is parsed once per distinct string (memoised).
 */
export function preparePredict(body: PredictRequest): WorkerPredictRequest {
  if (!isModuleName(body.module)) {
    throw new DspexError(
      ErrorCode.NotFound,
      `module "${body.module}" is unknown; expected one of ${moduleNames.join(', ')}`,
      {
        details: { field: 'module', expected: moduleNames },
      },
    );
  }
  const sig = signature(body.signature as string);
  sig.validateInputs(body.inputs);
  const request: WorkerPredictRequest = {
    op: 'predict',
    id: randomUUID(),
    module: body.module,
    signature: body.signature,
    inputs: body.inputs,
  };
  if (body.config !== undefined) request.config = body.config;
  if (body.demos !== undefined) request.demos = body.demos;
  if (body.instructions !== undefined) request.instructions = body.instructions;
  return request;
}
