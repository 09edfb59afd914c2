/**
 * dspex: a TypeScript actor runtime that orchestrates Python DSPy over NATS.
 * This module names every public export.
 */
export { createRuntime } from './runtime/runtime.js';
export type { Runtime, RuntimeOptions, CallOptions, WaitOptions } from './runtime/runtime.js';
export type { PoolOptions, RuntimeConfig } from './runtime/config.js';
export { createClient } from './runtime/client.js';
export type { Client, ClientOptions, ClientCallOptions } from './runtime/client.js';
export { DEFAULT_INBOX_PREFIX, NatsRole } from './nats/nats-connect.js';
export type { NatsAuth, NatsTls } from './nats/nats-connect.js';
export { startNatsServer } from './nats/nats-server.js';
export type { NatsServer, NatsServerOptions } from './nats/nats-server.js';

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

export {
  signature,
  withReasoning,
  parseSignature,
  Refusal,
  DSPY_TYPES,
  ImageSchema,
  AudioSchema,
  FileSchema,
  HistorySchema,
  ToolSchema,
  ToolCallsSchema,
} from './signature/index.js';
export type {
  Signature,
  SignatureDefinition,
  SignatureJSON,
  InferInputs,
  InferOutputs,
  FieldSpec,
  ParsedSignature,
  TypeNode,
  DspyTypeName,
  DspyValues,
  ImageValue,
  AudioValue,
  FileValue,
  HistoryValue,
  ToolValue,
  ToolCallsValue,
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
export { metricsHandler, startObservabilityServer, enableProcessMetrics } from './telemetry/http.js';
export type {
  ObservabilityServer,
  ObservabilityServerOptions,
  Readiness,
  ReadinessCheck,
} from './telemetry/http.js';
export { nodeReadiness } from './telemetry/readiness.js';
export type { ReadinessSource } from './telemetry/readiness.js';
export { startTracing } from './telemetry/tracing.js';
export type { Tracing, TracingOptions } from './telemetry/tracing.js';
export { parseTraceparent, formatTraceparent } from './telemetry/traceparent.js';
export type { TraceParent } from './telemetry/traceparent.js';
export { resolvePolicies } from './telemetry/policy-config.js';
export type { PoliciesOptions, Policy, PolicyAction } from './telemetry/policy-config.js';
export type { Actuator, ActResult } from './telemetry/actuator.js';
export type { AnalysisOptions } from './telemetry/detectors.js';
export {
  CallBatchSchema,
  CallRecordSchema,
  AnomalyEventSchema,
  AdaptationEventSchema,
  AnomalyKind,
  EventKind,
} from './protocol/events.js';
export type {
  CallBatch,
  CallRecord,
  AnomalyEvent,
  AdaptationEvent,
  ActuatorCall,
  Evidence,
  SeriesKey,
} from './protocol/events.js';

export { createVariableStore, VariableStore } from './variables/store.js';
export type {
  Variable,
  VariableDefinition,
  VariableStoreOptions,
  SetOptions,
  WatchOptions,
  VarObserverFn,
} from './variables/store.js';
export { isLeaseHeld } from './variables/leases.js';
export type { Lease, AcquireOptions, LeaseEnd } from './variables/leases.js';
export { varRef, isVarRef, resolveRefs, createBinding } from './variables/binding.js';
export type {
  VarRef,
  Bindable,
  BindingSpec,
  RequestBinding,
  VariableBinding,
  Consistency,
  RecordReader,
} from './variables/binding.js';
export type { VarPredicate } from './variables/constraints.js';
export type { VariablesOptions } from './variables/options.js';
export {
  VarRecordSchema,
  VarSpecSchema,
  VarHistoryEntrySchema,
  VarSetRequestSchema,
  VarGetRequestSchema,
} from './protocol/variables.js';
export type {
  VarRecord,
  VarSpec,
  VarConstraints,
  VarHistoryEntry,
  VarLease,
  VarObserver,
  VarDescription,
  VarSetRequest,
  VarGetRequest,
} from './protocol/variables.js';

export { Optimizer, DEFAULT_COMPILE_MS } from './optimize/compile.js';
export type { CompileOptions } from './optimize/compile.js';
export { devsetObjective } from './optimize/objective.js';
export type { Objective, DevsetObjectiveOptions } from './optimize/objective.js';
export type { SearchOptions, SearchResult } from './optimize/search.js';
export type { SearchSpace, ParamSpec, Candidate } from './optimize/space.js';
export { candidateKey } from './optimize/space.js';
export type { Trial } from './optimize/ledger.js';
export {
  CompileRequestSchema,
  CompileReplySchema,
  OptimizeEventSchema,
  DspyOptimizer,
  RunStatus,
} from './protocol/optimize.js';
export type {
  CompileRequest,
  CompileReply,
  OptimizeEvent,
  MetricSpec,
  CancelReply,
} from './protocol/optimize.js';

export { createMockLm } from './llm/mock.js';
export type { MockLm, MockLmOptions, MockAnswer } from './llm/mock.js';
export { HttpChatModel } from './llm/http-chat.js';
export { resolveModel } from './llm/model-name.js';
export type { ResolvedModel } from './llm/model-name.js';
export type { LlmLayer } from './llm/router.js';
export type { LlmOptions } from './llm/options.js';
export type { Selection, SelectionReason, AdapterHealth } from './llm/selection.js';
export { AdapterName } from './llm/types.js';
export type {
  LlmAdapter,
  AdapterContext,
  ChatMessage,
  ChatRequest,
  ChatResult,
  ChatDelta,
  ToolCall,
  ToolDefinition,
  TokenUsage,
} from './llm/types.js';
export { Predict } from './modules/predict.js';
export { ChainOfThought } from './modules/chain-of-thought.js';
export { RemoteModule } from './modules/module.js';
export type { Executor, ModuleOptions, ModuleCallOptions, Prediction } from './modules/module.js';
export { ReAct } from './modules/react.js';
export type { ReActOptions, Trajectory } from './modules/react.js';
export { MultiChainComparison } from './modules/multi-chain-comparison.js';
export type { MultiChainComparisonOptions, MultiChainCallOptions } from './modules/multi-chain-comparison.js';
export { BestOfN, Refine } from './modules/best-of-n.js';
export type { RewardModuleOptions, Wrappable } from './modules/best-of-n.js';
export { reward, Rewards } from './modules/reward.js';
export type { Reward, RewardTool, RewardSpec } from './modules/reward.js';
export { tool } from './modules/tool.js';
export type { Tool, AnyTool, ToolConfig, ToolContext } from './modules/tool.js';
export { Module } from './modules/composed.js';
export type { BatchOptions } from './modules/batch.js';
export type { ModuleState, PredictorState } from './modules/state.js';
export type { ToolRegistry } from './modules/tool-registry.js';
export { ToolRequestSchema, ToolReplySchema, ToolSpecSchema } from './protocol/schemas.js';
export type { ToolSpec, ToolRequest, ToolReply } from './protocol/schemas.js';

export { pipeline, Pipeline, predict, llm, fn, transform, input, from, value } from './pipelines/dsl.js';
export type { StageWork, StageOptions } from './pipelines/dsl.js';
export type { PipelineEngine, PipelineRun, RunOptions } from './pipelines/engine.js';
export type { StageFunction, StageFunctionContext } from './pipelines/stage-executor.js';
export { analysePipeline } from './pipelines/graph.js';
export type { PipelineGraph, StageNode } from './pipelines/graph.js';
export type { PipelinesOptions } from './pipelines/options.js';
export {
  PipelineSpecSchema,
  PipelineRunRequestSchema,
  PipelineEventSchema,
  RunRecordSchema,
  FailurePolicy,
  TransformOp,
  RunStatus as PipelineRunStatus,
  pipelineEventsSubject,
} from './protocol/pipelines.js';
export type {
  PipelineSpec,
  PipelineSpecInput,
  StageSpec,
  InputRef,
  PipelineEvent,
  RunRecord,
  StageFailure,
  PipelineRunRequest,
  PipelineRunReply,
} from './protocol/pipelines.js';
export type { SessionStore, OpenSessionOptions } from './sessions/store.js';
export type { SessionsOptions } from './sessions/options.js';
export { SessionRecordSchema, SessionOpenRequestSchema } from './protocol/sessions.js';
export type {
  SessionRecord,
  SessionHistoryEntry,
  SessionMetrics,
  SessionOpenRequest,
} from './protocol/sessions.js';

export { Orchestrator } from './orchestrator/orchestrator.js';
export type { BatchRequest, BatchResult, CallEstimate, PoolView } from './orchestrator/orchestrator.js';
export { planBatch } from './orchestrator/strategy.js';
export type { Strategy, TaskAnalysis } from './orchestrator/strategy.js';
export type { LatencyEstimate } from './orchestrator/pattern-store.js';
export type { BatchProgress, ItemResult } from './actors/batch-machine.js';
export { RoutingStrategy } from './pools/routing.js';
