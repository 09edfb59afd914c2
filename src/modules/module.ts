import { DspexError, ErrorCode } from '../errors.js';
import type { CallConfig, PredictReply, PredictRequest } from '../protocol/schemas.js';
import type { ModuleName } from '../protocol/modules.js';
import type { Signature } from '../signature/index.js';

/** Anything that can run a predict request: an embedded {@link Runtime} or a remote {@link Client}. */
export interface Executor {
  predict(request: PredictRequest, options?: { deadline?: number; trace?: string }): Promise<PredictReply>;
}

/** Options fixed when a module is built. */
export interface ModuleOptions {
  /** Where calls run; may also be given per call. */
  executor?: Executor;
  /** Per-call LM configuration (temperature, max_tokens, lm, …). */
  config?: CallConfig;
  /** Few-shot demos: maps with the signature's input and output fields. */
  demos?: Array<Record<string, unknown>>;
  /** @default 'general' */
  pool?: string;
}

/** Options of one call. */
export interface ModuleCallOptions {
  executor?: Executor;
  /** Overrides merged over the module's config. */
  config?: CallConfig;
  /** Calls of one session go to the same live worker. */
  session?: string;
  /** Absolute deadline, unix ms. */
  deadline?: number;
  trace?: string;
}

/** The result of a call: the typed outputs and where and how fast they were produced. */
export interface Prediction<O> {
  outputs: O;
  worker: string;
  latencyMs: number;
  usage: Record<string, unknown> | undefined;
}

/**
 * A DSPy module run by a Python worker. Inputs are validated against the signature before they
 * leave this process; outputs are validated and coerced to the signature's types on return.
 */
export abstract class RemoteModule<I, O> {
  protected constructor(
    readonly module: ModuleName,
    /** The signature the caller gave (without module-added fields). */
    readonly signature: Signature<I, unknown>,
    /** The signature of the outputs as this module returns them. */
    protected readonly outputSignature: Signature<I, O>,
    protected readonly options: ModuleOptions,
  ) {}

  /** Runs the module and returns its outputs, typed. */
  async call(inputs: I, options: ModuleCallOptions = {}): Promise<O> {
    return (await this.run(inputs, options)).outputs;
  }

  /** Runs the module and returns outputs with the worker, latency and token usage. */
  async run(inputs: I, options: ModuleCallOptions = {}): Promise<Prediction<O>> {
    const executor = options.executor ?? this.options.executor;
    if (executor === undefined) {
      throw new DspexError(
        ErrorCode.BadRequest,
        `${this.module}: no executor; pass { executor: runtime } when building or calling it`,
      );
    }
    const validated = this.signature.validateInputs(inputs) as Record<string, unknown>;
    const request: PredictRequest = {
      module: this.module,
      signature: this.signature.toString(),
      inputs: validated,
    };
    if (this.signature.instructions !== undefined) request.instructions = this.signature.instructions;
    const config = { ...this.options.config, ...options.config };
    if (Object.keys(config).length > 0) request.config = config;
    if (this.options.demos !== undefined) request.demos = this.options.demos;
    if (this.options.pool !== undefined) request.pool = this.options.pool;
    if (options.session !== undefined) request.session = options.session;
    const callOptions: { deadline?: number; trace?: string } = {};
    if (options.deadline !== undefined) callOptions.deadline = options.deadline;
    if (options.trace !== undefined) callOptions.trace = options.trace;
    const reply = await executor.predict(request, callOptions);
    return {
      outputs: this.outputSignature.parseOutputs(reply.outputs),
      worker: reply.worker,
      latencyMs: reply.latency_ms,
      usage: reply.usage,
    };
  }
}
