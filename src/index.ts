/**
 * dspex: a TypeScript actor runtime that orchestrates Python DSPy over NATS.
 * This module names every public export.
 */
export { createRuntime } from './runtime/runtime.js';
export type { Runtime, RuntimeOptions, CallOptions } from './runtime/runtime.js';
export type { PoolOptions, RuntimeConfig } from './runtime/config.js';
export { createClient } from './runtime/client.js';
export type { Client, ClientOptions, ClientCallOptions } from './runtime/client.js';
export { startNatsServer } from './runtime/nats-server.js';
export type { NatsServer, NatsServerOptions } from './runtime/nats-server.js';

export {
  DspexError,
  ValidationError,
  SignatureParseError,
  ErrorCode,
  errorStatus,
  isDspexError,
  isValidationError,
  isSignatureParseError,
  isRetryable,
} from './errors.js';
export type { WireError, DspexErrorOptions } from './errors.js';

export { signature, withReasoning, parseSignature } from './signature/index.js';
export type {
  Signature,
  SignatureDefinition,
  SignatureJSON,
  InferInputs,
  InferOutputs,
  FieldSpec,
  ParsedSignature,
  TypeNode,
} from './signature/index.js';

export { supervisorMachine, selectChildren, selectChildRef } from './supervisors/supervisor-machine.js';
export { resolveSupervisorOptions } from './supervisors/options.js';
export { RestartStrategy, RestartType, INTENSITY_EXCEEDED } from './supervisors/types.js';
export type { ChildSpec, ChildExit, SupervisorExit, ChildInfo } from './supervisors/types.js';
export type { SupervisorOptions, RestartIntensity } from './supervisors/options.js';

export { workerMachine } from './actors/worker-machine.js';
export type { WorkerInput, WorkerExit, WorkerUpdate } from './actors/worker-machine.js';
export { poolMachine } from './actors/pool-machine.js';
export type { PoolInput, PoolExit } from './actors/pool-machine.js';

export { Encoding } from './protocol/codec.js';
export { Header } from './protocol/headers.js';
export { ModuleName } from './protocol/modules.js';
export {
  PredictRequestSchema,
  PredictReplySchema,
  ErrorReplySchema,
  StatusReplySchema,
  WorkerHeartbeatSchema,
  NodeHeartbeatSchema,
} from './protocol/schemas.js';
export type {
  PredictRequest,
  PredictReply,
  ErrorReply,
  StatusReply,
  WorkerHeartbeat,
  NodeHeartbeat,
  CallConfig,
} from './protocol/schemas.js';
export { subjects } from './protocol/subjects.js';
export type { Subjects } from './protocol/subjects.js';
export { createMetrics } from './telemetry/metrics.js';
export type { RuntimeMetrics } from './telemetry/metrics.js';

export { Predict } from './modules/predict.js';
export { ChainOfThought } from './modules/chain-of-thought.js';
export { RemoteModule } from './modules/module.js';
export type { Executor, ModuleOptions, ModuleCallOptions, Prediction } from './modules/module.js';
