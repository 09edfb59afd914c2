import { DspexError, ErrorCode } from '../errors.js';
import type { CallConfig, PredictReply, PredictRequest } from '../protocol/schemas.js';
import type { ModuleName } from '../protocol/modules.js';
import type { Signature } from '../signature/index.js';
import type { RequestBinding } from '../variables/binding.js';
import { runBatch, type BatchOptions } from './batch.js';
import type { AnyTool } from './tool.js';
import { isPredictorState, parseState, type ModuleState, type PredictorState } from './state.js';

/** Anything that can run a predict request: an embedded {@link Runtime} or a remote {@link Client}. */
export interface Executor {
  predict(request: PredictRequest, options?: { deadline?: number; trace?: string }): Promise<PredictReply>;
  /** Where tools are served (a {@link Runtime} has one; a remote client relies on tools served by some node). */
  readonly tools?: { register(tool: AnyTool): void };
}

/** Options fixed when a module is built. */
export interface ModuleOptions {
  /** Where calls run; may also be given per call. */
  executor?: Executor;
  /** Per-call LM configuration (temperature, max_tokens, lm, …). */
  config?: CallConfig;
  /** Few-shot demos: maps with the signature's input and output fields. Part of the module's state. */
  demos?: Array<Record<string, unknown>>;
  /** Program state in DSPy's JSON form (`dump_state()` / a `save()` file's content), as {@link RemoteModule.loadState}. */
  state?: ModuleState;
  /** @default 'general' */
  pool?: string;
  /** Parameters bound to cluster variables (`rt.variables.bind({...})`), applied to every request. */
  binding?: RequestBinding;
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
 *
 * Its state (demos, instructions, field labels) is DSPy's JSON state of the module as the worker
 * builds it; {@link RemoteModule.dumpState} and {@link RemoteModule.loadState} exchange it with Python DSPy.
 */
export abstract class RemoteModule<I, O, C extends ModuleCallOptions = ModuleCallOptions> {
  private loaded: ModuleState | undefined;
  private demoList: Array<Record<string, unknown>> | undefined;

  protected constructor(
    readonly module: ModuleName,
    /** The signature the caller gave (without module-added fields). */
    readonly signature: Signature<I, unknown>,
    /** The signature of the outputs as this module returns them. */
    protected readonly outputSignature: Signature<I, O>,
    protected readonly options: ModuleOptions,
  ) {
    this.demoList = options.demos;
    if (options.state !== undefined) this.loadState(options.state);
  }

  /**
   * DSPy's names of the predictors inside this module as the worker builds it (the keys of its
   * state; `self` for a bare Predict, whose state is the predictor's own map).
   */
  abstract get predictorNames(): readonly string[];

  /** The predictor the module's `demos` belong to (undefined when there is no single one: ReAct). */
  protected get demoPredictor(): string | undefined {
    return this.predictorNames[0];
  }

  /** Module-specific request fields (`options`, `tools`, …). */
  protected requestFields(_options: C): Partial<PredictRequest> {
    return {};
  }

  /** Called before each call with the executor that will run it (ReAct registers its tools). */
  protected beforeCall(_executor: Executor): void {}

  /** Runs the module and returns its outputs, typed. */
  async call(inputs: I, options: C = {} as C): Promise<O> {
    return (await this.run(inputs, options)).outputs;
  }

  /**
   * Runs the module over many inputs, at most `concurrency` at once. One entry per input, in order:
   * the outputs, or the {@link DspexError} that call failed with.
   */
  batch(
    inputs: readonly I[],
    options: C & BatchOptions = {} as C & BatchOptions,
  ): Promise<Array<O | DspexError>> {
    return runBatch(inputs, (item) => this.call(item, options), options);
  }

  /** Runs the module and returns outputs with the worker, latency and token usage. */
  async run(inputs: I, options: C = {} as C): Promise<Prediction<O>> {
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
      ...this.requestFields(options),
    };
    if (this.signature.instructions !== undefined) request.instructions = this.signature.instructions;
    const config = { ...this.options.config, ...options.config };
    if (Object.keys(config).length > 0) request.config = config;
    if (this.loaded !== undefined) request.state = this.loaded;
    else if (this.demoList !== undefined && this.demoList.length > 0) request.demos = this.demoList;
    if (this.options.pool !== undefined) request.pool = this.options.pool;
    if (options.session !== undefined) request.session = options.session;
    const callOptions: { deadline?: number; trace?: string } = {};
    if (options.deadline !== undefined) callOptions.deadline = options.deadline;
    if (options.trace !== undefined) callOptions.trace = options.trace;
    this.beforeCall(executor);
    const reply = await executor.predict(
      (await this.options.binding?.apply(request)) ?? request,
      callOptions,
    );
    return {
      outputs: this.outputSignature.parseOutputs(reply.outputs),
      worker: reply.worker,
      latencyMs: reply.latency_ms,
      usage: reply.usage,
    };
  }

  /** Few-shot demos of the module's main predictor. */
  get demos(): Array<Record<string, unknown>> {
    const name = this.demoPredictor;
    if (this.loaded !== undefined && name !== undefined) return this.predictorState(name).demos;
    return this.demoList ?? [];
  }

  set demos(demos: Array<Record<string, unknown>>) {
    const name = this.demoPredictor;
    if (this.loaded === undefined) {
      this.demoList = demos;
      return;
    }
    if (name === undefined) {
      throw new DspexError(
        ErrorCode.BadRequest,
        `${this.module}: demos belong to one of its predictors; set them in its state`,
      );
    }
    this.predictorState(name).demos = demos;
  }

  /** This module's state as DSPy's `dump_state()` gives it (a deep copy). */
  dumpState(): ModuleState {
    if (this.loaded !== undefined) return structuredClone(this.loaded);
    return this.defaultState(this.demoList ?? []);
  }

  /**
   * Loads a DSPy state (`dump_state()`, or a `save("x.json")` file's content as text or value). It is
   * sent with every call and applied by the worker with DSPy's `load_state`. Its predictor names must
   * be this module's ({@link RemoteModule.predictorNames}).
   */
  loadState(state: ModuleState | string): this {
    const parsed = parseState(state);
    const names = this.predictorNames;
    if (names.length === 1 && names[0] === 'self') {
      if (!isPredictorState(parsed)) throw this.stateError('a predictor state ({demos, signature, …})');
    } else {
      for (const name of names) {
        if (!isPredictorState((parsed as Record<string, unknown>)[name])) {
          throw this.stateError(
            `an entry "${name}" ({demos, signature, …}); predictors: ${names.join(', ')}`,
          );
        }
      }
    }
    this.loaded = parsed;
    this.demoList = undefined;
    return this;
  }

  /** The state given to {@link RemoteModule.loadState}, if any. */
  protected get loadedState(): ModuleState | undefined {
    return this.loaded;
  }

  /** The state of a freshly built module with `demos` on its main predictor. */
  protected abstract defaultState(demos: Array<Record<string, unknown>>): ModuleState;

  private predictorState(name: string): PredictorState {
    const state = this.loaded!;
    return (name === 'self' ? state : (state as Record<string, PredictorState>)[name]) as PredictorState;
  }

  private stateError(expected: string): DspexError {
    return new DspexError(ErrorCode.BadRequest, `${this.module} state: expected ${expected}`, {
      details: { field: 'state' },
    });
  }
}
