import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import { poolMachine, type PoolInput } from '../actors/pool-machine.js';
import { workerMachine, type WorkerContext, type WorkerUpdate } from '../actors/worker-machine.js';
import { DspexError, ErrorCode, errorStatus } from '../errors.js';
import { PythonBridge } from '../llm/python-bridge.js';
import { LlmRouter, type LlmLayer, type RunOutcome } from '../llm/router.js';
import type { LlmAdapter } from '../llm/types.js';
import { decode, encode, Encoding } from '../protocol/codec.js';
import {
  PredictRequestSchema,
  StatusRequestSchema,
  WorkerHeartbeatSchema,
  type PredictReply,
  type PredictRequest,
  type StatusReply,
} from '../protocol/schemas.js';
import { subjects as makeSubjects, type Subjects } from '../protocol/subjects.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import type { ChildSpec } from '../supervisors/types.js';
import { createMetrics, type RuntimeMetrics } from '../telemetry/metrics.js';
import { guarded } from '../telemetry/guard.js';
import { NodeTelemetry } from '../telemetry/node-telemetry.js';
import {
  configFromEnv,
  resolveConfig,
  type ResolvedPoolOptions,
  type ResolvedRuntimeConfig,
  type RuntimeConfig,
} from './config.js';
import { Orchestrator, type PoolView } from '../orchestrator/orchestrator.js';
import { Dispatcher } from '../pools/dispatcher.js';
import { natsWorkerSend } from '../pools/worker-call.js';
import { JoinGate } from '../pools/join-gate.js';
import { startNatsServer, type NatsServer } from '../nats/nats-server.js';
import { NodeRegistry } from './node-registry.js';
import { preparePredict } from '../modules/prepare-predict.js';
import { startService, type Refusal, type RequestContext } from '../nats/service.js';
import { InflightGate } from '../pools/admission.js';
import { installLastResort } from './last-resort.js';
import { buildStatus } from './status.js';
import { NatsToolRegistry, type ToolRegistry } from '../modules/tool-registry.js';
import { VERSION } from '../version.js';
import { DirectLauncher, ZygoteLauncher, type WorkerLauncher } from '../workers/launcher.js';
import { workerProcessLogic } from '../workers/process.js';
import { resolveWorkerCommand, WORKER_CRASH_FIX } from '../workers/preflight.js';
import { explainConnectError, requireJetStream } from '../nats/first-run.js';
import { resolveReplicas } from '../nats/replicas.js';
import {
  DEFAULT_INBOX_PREFIX,
  natsConnectionOptions,
  NatsRole,
  type NatsAuth,
} from '../nats/nats-connect.js';
import { resolveWorkerConnection } from '../workers/connection.js';
import { workerEnvironment } from '../workers/env.js';
import { loadWorkerSecrets, WorkerIdentity } from '../workers/identity.js';
import { WorkerRequests } from '../workers/requests.js';
import { variableEndpoints } from '../variables/endpoints.js';
import { Optimizer } from '../optimize/compile.js';
import { optimizeEndpoints } from '../optimize/endpoints.js';
import { createVariableStore, type VariableStore } from '../variables/store.js';
import { createPipelineEngine, type PipelineEngine } from '../pipelines/engine.js';
import { pipelineEndpoints } from '../pipelines/endpoints.js';
import { createSessionStore, type SessionStore } from '../sessions/store.js';
import { sessionEndpoints } from '../sessions/endpoints.js';

/** Options of {@link createRuntime}: the validated config plus injected dependencies. */
export interface RuntimeOptions extends RuntimeConfig {
  /** Where logs go. @default pino to stderr at `DSPEX_LOG_LEVEL` (info) */
  logger?: Logger;
  /** Registry for the runtime's Prometheus metrics. @default a new registry */
  registry?: Registry;
  /** A scripted LM ({@link createMockLm}): every call it can answer goes to it (users' tests). */
  mock?: LlmAdapter;
  /**
   * Install process-wide `unhandledRejection` / `uncaughtException` listeners that log, count
   * (`dspex_unhandled_errors_total`) and keep the process serving, instead of Node's default exit.
   * Off by default because it changes how the whole host process treats failures, which is the
   * embedding application's decision; `dspex node` turns it on. Removed when the runtime stops.
   * @default false
   */
  lastResort?: boolean;
}

/** Per-call options of {@link Runtime.predict}. */
export interface CallOptions {
  /** Absolute deadline, unix ms. @default now + `callTimeoutMs` */
  deadline?: number;
  trace?: string;
}

/** Options of {@link Runtime.waitForWorkers}. */
export interface WaitOptions {
  /** Count only this node's own workers (not other hosts' in the same pool). @default false */
  local?: boolean;
}

/** A running dspex node embedded in this process. */
export interface Runtime extends AsyncDisposable {
  readonly nodeId: string;
  /** The NATS URL(s) this node uses (the private server's when it started one). */
  readonly servers: string[];
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly metrics: RuntimeMetrics;
  /** Tools (and reward functions) this node serves to workers on `<prefix>.tool.<name>` (docs/modules.md). */
  readonly tools: ToolRegistry;
  /** The LLM layer: adapters, selection, health and the result cache (docs/llm.md). */
  readonly llm: LlmLayer;
  /** Cluster-wide variables over JetStream KV (docs/variables.md); 503 when `variables.enabled` is false. */
  readonly variables: VariableStore;
  /** DSPy optimizers in the optimizer pool and distributed searches over variables (docs/optimization.md). */
  readonly optimizer: Optimizer;
  /** Task analysis, strategies, batch runs, latency predictions and the shared pattern store. */
  readonly orchestrator: Orchestrator;
  /** Pipelines: run, stream events, durable runs on the work queue (docs/pipelines.md); 503 when disabled. */
  readonly pipelines: PipelineEngine;
  /** Sessions persisted in KV (docs/sessions.md); 503 when `sessions.enabled` is false. */
  readonly sessions: SessionStore;
  /** Runs a DSPy module on a worker; the same contract as `dspex.rpc.predict`. */
  predict(request: PredictRequest, options?: CallOptions): Promise<PredictReply>;
  /** `http://host:port` of the `/metrics` `/healthz` `/readyz` server, when `metrics.port` is set. */
  readonly metricsUrl: string | undefined;
  /** Nodes, pools and workers as this node sees them. */
  status(): StatusReply;
  /**
   * Resolves once `count` workers of `pool` are ready: any the node routes to, or with `local` only
   * the ones it started itself. Rejects after `timeoutMs`, or at once with {@link failed}'s error
   * when the node fails.
   */
  waitForWorkers(pool?: string, count?: number, timeoutMs?: number, options?: WaitOptions): Promise<void>;
  /**
   * Settles if the node fails for good: its pools supervisor exceeded its own restart intensity
   * (pools kept crashing), so it serves no local workers. Never settles otherwise. A process
   * manager should restart the node (the CLI exits 1).
   */
  readonly failed: Promise<DspexError>;
  /** Drains calls, stops workers, closes the connection and the private server. */
  stop(): Promise<void>;
}

/**
 * Starts a runtime node: connects to NATS (or starts a private `nats-server`), starts the
 * configured worker pools under supervision, and serves the public `dspex` service.
 *
 * @example
 * ```ts
 * await using rt = await createRuntime({ pools: { general: { size: 2 } } });
 * const { outputs } = await rt.predict({ module: 'Predict', signature: 'question -> answer', inputs: { question: 'Hi?' } });
 * ```
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const { logger: givenLogger, registry, mock, lastResort, ...rest } = options;
  const config = resolveConfig({ ...configFromEnv(), ...rest });
  const nodeId = config.nodeId ?? `n-${randomBytes(4).toString('hex')}`;
  const logger = (
    givenLogger ?? pino({ level: process.env.DSPEX_LOG_LEVEL ?? 'info' }, pino.destination(2))
  ).child({
    node: nodeId,
  });
  const metrics = createMetrics(registry);
  const secrets = loadWorkerSecrets(config.worker.secret, config.worker.secretFile);
  // A missing Python worker is one error now rather than a crash loop of every pool.
  const hostsWorkers = Object.values(config.pools).some((p) => p.size > 0 || (p.maxSize ?? 0) > 0);
  const workerCommand = hostsWorkers ? resolveWorkerCommand(config.worker.command) : [];
  let server: NatsServer | undefined;
  if (config.nats === undefined) {
    server = await startNatsServer();
    logger.info({ url: server.url }, 'started a private nats-server');
  }
  const { servers: given, ...auth } = config.nats ?? { servers: [] };
  const servers = server !== undefined ? [server.url] : [given].flat();
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsConnectionOptions(servers, auth, NatsRole.Node, `dspex-node-${nodeId}`),
      maxReconnectAttempts: -1,
    });
  } catch (error) {
    await server?.stop();
    throw explainConnectError(error, servers, auth, 'node');
  }
  const needJetStream = (['variables', 'sessions', 'pipelines'] as const).filter((f) => config[f].enabled);
  if (needJetStream.length > 0) {
    try {
      await requireJetStream(nc, servers, needJetStream);
    } catch (error) {
      await nc.close();
      await server?.stop();
      throw error;
    }
  }
  // Sections that name no replicas get the cluster's (their schemas' default of 1 is not a choice).
  const replicas = resolveReplicas(config.replicas, nc.info);
  for (const section of ['variables', 'sessions', 'pipelines'] as const) {
    const given = (rest[section] as { replicas?: unknown } | undefined)?.replicas;
    if (given === undefined) config[section].replicas = replicas;
  }
  logger.debug({ replicas, cluster: nc.info?.cluster }, 'JetStream replicas');
  const identity = new WorkerIdentity({ secrets, logger, rejected: metrics.workerIdentityRejected });
  if (!identity.enforced && nc.info?.auth_required === true) {
    logger.warn(
      'no worker secret (worker.secretFile): worker identity is not checked, so anyone with the worker ' +
        'credentials can forge heartbeats and replies (open mode, docs/security.md)',
    );
  }
  const node = new RuntimeNode(
    { ...config, worker: { ...config.worker, command: workerCommand } },
    nodeId,
    servers,
    auth,
    nc,
    server,
    logger,
    metrics,
    identity,
    mock,
  );
  if (lastResort === true) node.onStopped(installLastResort({ logger, metrics }));
  try {
    await node.start();
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}

class RuntimeNode implements Runtime {
  private readonly subjects: Subjects;
  private readonly dispatcher: Dispatcher;
  private readonly joining: JoinGate;
  private readonly launchers = new Map<string, WorkerLauncher>();
  private readonly pools = new Map<string, ResolvedPoolOptions>();
  /** Sessions whose affinity this node already looked up. */
  private readonly sessionsSeen = new Set<string>();
  /** Local sizes the orchestrator set, where they differ from the configured ones. */
  private readonly sizes = new Map<string, number>();
  private readonly registry: NodeRegistry;
  private readonly telemetry: NodeTelemetry;
  readonly tools: NatsToolRegistry;
  private readonly router: LlmRouter;
  private vars: VariableStore | undefined;
  private pipes: PipelineEngine | undefined;
  private sess: SessionStore | undefined;
  readonly optimizer: Optimizer;
  readonly orchestrator: Orchestrator;
  private root: Actor<typeof supervisorMachine> | undefined;
  private service: Service | undefined;
  private hbSub: Subscription | undefined;
  private readonly requests: WorkerRequests;
  private inflight = 0;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private readonly stopHooks: Array<() => void> = [];
  private fail: ((error: DspexError) => void) | undefined;
  readonly failed = new Promise<DspexError>((resolve) => (this.fail = resolve));
  /** Set with {@link failed}: waiting for workers ends at once. */
  private failure: DspexError | undefined;
  /** The last crash of a local worker, named in the node's failure. */
  private lastCrash: { pool: string; worker: string; reason: string } | undefined;

  constructor(
    private readonly config: ResolvedRuntimeConfig,
    readonly nodeId: string,
    readonly servers: string[],
    private readonly auth: NatsAuth,
    readonly nc: NatsConnection,
    private readonly server: NatsServer | undefined,
    readonly logger: Logger,
    readonly metrics: RuntimeMetrics,
    private readonly identity: WorkerIdentity,
    mock?: LlmAdapter,
  ) {
    this.subjects = makeSubjects(config.prefix);
    this.requests = new WorkerRequests(nc, identity, auth.inboxPrefix ?? DEFAULT_INBOX_PREFIX.node);
    for (const [name, pool] of Object.entries(config.pools)) this.pools.set(name, pool);
    this.dispatcher = new Dispatcher({
      send: natsWorkerSend(this.requests, this.subjects),
      logger,
      metrics,
      maxAttempts: config.maxAttempts,
      limits: (pool) => {
        const p = this.pools.get(pool);
        return {
          queueLimit: p?.queueLimit ?? 1000,
          recycleAfterCalls: p?.recycleAfterCalls,
          strategy: p?.routing ?? 'adaptive',
          hedging: p?.hedging ?? true,
          breaker: p?.breaker ?? {},
        };
      },
      onAttempt: (result) => {
        this.orchestrator.observe(result);
        this.telemetry.onAttempt(result);
      },
      onRecycle: (pool, worker) => {
        logger.info({ pool, worker }, 'recycling worker after its call budget');
        this.telemetry.onRecycle(pool, 'call budget');
        this.poolRef(pool)?.send({ type: 'recycle', id: worker, reason: 'call budget' });
      },
    });
    this.telemetry = new NodeTelemetry({
      nodeId,
      metrics,
      logger,
      options: config.metrics,
      workers: () => [...this.pools.keys()].flatMap((p) => this.dispatcher.poolWorkers(p)),
      publishCalls: (batch) => nc.publish(this.subjects.event('call'), encode(batch, Encoding.Msgpack)),
    });
    this.joining = new JoinGate({
      graceMs: 3 * Math.max(config.heartbeatMs, ...Object.values(config.pools).map((p) => p.heartbeatMs)),
      servable: (pool) =>
        this.dispatcher
          .poolWorkers(pool)
          .some((w) => w.state === 'ready' || w.state === 'busy' || w.state === 'starting'),
    });
    this.router = new LlmRouter({
      nodeId,
      options: config.llm,
      mock,
      metrics,
      logger,
      lmOfPool: (pool) => this.pools.get(pool)?.lm ?? config.worker.lm ?? 'dummy',
      python: new PythonBridge({
        prepare: preparePredict,
        dispatch: async (pool, request, ctx) => {
          await this.joining.wait(pool, ctx.deadline);
          return this.dispatcher.call(pool, request, {
            deadline: ctx.deadline,
            trace: ctx.trace,
            session: ctx.session,
          });
        },
      }),
    });
    this.tools = new NatsToolRegistry({
      nc,
      prefix: config.prefix,
      logger,
      defaultTimeoutMs: config.callTimeoutMs,
    });
    this.orchestrator = new Orchestrator({
      nodeId,
      prefix: config.prefix,
      logger,
      predict: (request, options) => this.predict(request, options),
      pool: (name) => this.poolView(name),
      resize: (pool, size) => this.resizePool(pool, size),
    });
    this.optimizer = new Optimizer({
      nc,
      requests: this.requests,
      subjects: this.subjects,
      logger: logger.child({ component: 'optimize' }),
      variables: () => this.variables,
      nodeId,
      ledger: {
        bucket: `${config.prefix}_opt_trials`,
        storage: config.variables.storage,
        replicas: config.variables.replicas,
      },
    });
    this.registry = new NodeRegistry({
      nc,
      subjects: this.subjects,
      nodeId,
      heartbeatMs: config.heartbeatMs,
      pools: () => [...this.pools.keys()],
      logger,
      metrics,
    });
  }

  async start(): Promise<void> {
    const command = this.config.worker.command ?? [];
    const worker = this.config.worker;
    const connection = resolveWorkerConnection(
      this.servers,
      this.auth,
      worker.natsUrl,
      worker.nats,
      this.logger,
    );
    const keyOf = this.identity.enforced ? (id: string) => this.identity.keyOf(id) : undefined;
    for (const [name, pool] of this.pools) {
      if (pool.size === 0 && (pool.maxSize ?? 0) === 0) continue;
      const launchOptions = {
        command,
        servers: connection.servers,
        auth: connection.auth,
        keyOf,
        prefix: this.config.prefix,
        pool: name,
        nodeId: this.nodeId,
        concurrency: pool.concurrency,
        heartbeatMs: pool.heartbeatMs,
        lm: pool.lm ?? this.config.worker.lm,
        env: workerEnvironment(process.env, worker.passEnv, worker.env, pool.env),
        devices: pool.devices,
        logger: this.logger,
      };
      this.launchers.set(
        name,
        this.config.worker.launcher === 'zygote'
          ? new ZygoteLauncher(launchOptions)
          : new DirectLauncher(launchOptions),
      );
    }
    this.hbSub = this.nc.subscribe(this.subjects.workerHeartbeats, {
      callback: guarded('worker heartbeat', this.logger, this.metrics, (err, msg) => {
        if (err === null) this.onWorkerHeartbeat(msg);
      }),
    });
    this.registry.start();
    await this.orchestrator.start(this.nc, () => [...this.pools.keys()]);
    this.root = createActor(supervisorMachine, {
      input: {
        id: `${this.nodeId}.pools`,
        strategy: 'one_for_one',
        intensity: { maxRestarts: 5, periodMs: 60_000 },
        children: [...this.pools.entries()].map(([name, pool]) => this.poolSpec(name, pool)),
      },
    });
    this.root.on('*', (event: { type: string; id?: string }) => {
      this.metrics.supervisorEvents.inc({ supervisor: 'pools', event: event.type });
      this.logger.info({ event }, 'pool supervisor event');
    });
    this.root.subscribe({
      complete: () => {
        const output = this.root?.getSnapshot().output;
        if (output?.status !== 'crashed' || this.stopping !== undefined) return;
        const crash = this.lastCrash;
        const error = new DspexError(
          ErrorCode.Unavailable,
          `node ${this.nodeId}: its pools kept crashing (${output.reason})` +
            (crash === undefined
              ? ''
              : `; last worker failure, pool ${crash.pool}: ${crash.reason}. Fix: ${WORKER_CRASH_FIX}`),
          {
            retryable: false,
            details: { lastFailure: output.lastFailure, lastWorkerFailure: crash, fix: WORKER_CRASH_FIX },
          },
        );
        this.failure = error;
        this.logger.fatal({ err: error }, 'pools supervisor gave up');
        this.metrics.supervisorEvents.inc({ supervisor: 'pools', event: 'node.failed' });
        this.fail?.(error);
      },
    });
    this.root.start();
    await this.router.start(this.nc);
    if (this.config.variables.enabled) {
      this.vars = await createVariableStore({
        nc: this.nc,
        nodeId: this.nodeId,
        prefix: this.config.prefix,
        options: this.config.variables,
        logger: this.logger.child({ component: 'variables' }),
      });
    }
    if (this.config.sessions.enabled) {
      this.sess = await createSessionStore({
        nc: this.nc,
        nodeId: this.nodeId,
        prefix: this.config.prefix,
        options: this.config.sessions,
        logger: this.logger.child({ component: 'sessions' }),
      });
    }
    if (this.config.pipelines.enabled) {
      this.pipes = await createPipelineEngine({
        nc: this.nc,
        nodeId: this.nodeId,
        prefix: this.config.prefix,
        options: this.config.pipelines,
        predict: (request, options) => this.predict(request, options),
        logger: this.logger.child({ component: 'pipelines' }),
      });
    }
    await this.nc.flush();
    if (this.config.serve) this.service = await this.startService();
    await this.telemetry.start(this);
  }

  /** `http://host:port` of the node's `/metrics` server, when `metrics.port` is set. */
  get metricsUrl(): string | undefined {
    return this.telemetry.url;
  }

  private workerLogic = workerMachine.provide({
    actors: { process: workerProcessLogic((pool) => this.launchers.get(pool)) },
    actions: {
      notify: ({ context }: { context: WorkerContext }, params: { state: WorkerUpdate['state'] }) => {
        this.dispatcher.update({
          id: context.id,
          pool: context.pool,
          managed: context.managed,
          state: params.state,
          heartbeat: context.heartbeat,
          reason: context.reason,
        });
        this.joining.changed(context.pool);
        if (params.state === 'crashed' || params.state === 'stopped') {
          this.metrics.workerExits.inc({ pool: context.pool, outcome: params.state });
        }
        if (params.state === 'crashed' && context.managed) {
          this.lastCrash = { pool: context.pool, worker: context.id, reason: context.reason ?? 'crashed' };
        }
        if (params.state !== 'ready' && params.state !== 'busy') {
          this.logger.info(
            { worker: context.id, pool: context.pool, state: params.state, reason: context.reason },
            'worker state',
          );
        }
      },
    },
  });

  private poolSpec(name: string, pool: ResolvedPoolOptions): ChildSpec {
    const input: PoolInput = {
      name,
      nodeId: this.nodeId,
      size: pool.size,
      intensity: pool.intensity,
      workerLogic: this.workerLogic,
      timings: {
        heartbeatTimeoutMs: pool.heartbeatMs * 3,
        startTimeoutMs: pool.startTimeoutMs,
        drainTimeoutMs: pool.drainTimeoutMs,
      },
      maxRssBytes: pool.maxRssMb === undefined ? undefined : pool.maxRssMb * 1024 * 1024,
    };
    return { id: name, logic: poolMachine, input, restart: 'permanent' };
  }

  private poolRef(pool: string): AnyActorRef | undefined {
    return (this.root?.getSnapshot().children as Record<string, AnyActorRef | undefined> | undefined)?.[pool];
  }

  private onWorkerHeartbeat(msg: Msg): void {
    const forged = this.identity.checkHeartbeatSignature(msg.subject, msg.data, msg.headers);
    if (forged !== undefined) {
      this.identity.rejected('heartbeat', forged, msg.subject);
      return;
    }
    let body: unknown;
    try {
      body = decode(msg.data, Encoding.Msgpack);
    } catch {
      this.metrics.invalidMessages.inc({ subject: 'hb.worker' });
      return;
    }
    const parsed = WorkerHeartbeatSchema.safeParse(body);
    if (!parsed.success) {
      this.metrics.invalidMessages.inc({ subject: 'hb.worker' });
      return;
    }
    const stale = this.identity.checkHeartbeatBody(msg.subject, parsed.data);
    if (stale !== undefined) {
      this.identity.rejected('heartbeat', stale, msg.subject, parsed.data.id);
      return;
    }
    const hb = parsed.data;
    if (!this.pools.has(hb.pool)) {
      if (hb.state === 'stopped' || this.stopping !== undefined) return;
      // A pool this node does not host: route to the workers other hosts run for it.
      const pool: ResolvedPoolOptions = resolveConfig({ pools: { [hb.pool]: { size: 0 } } }).pools[hb.pool]!;
      this.pools.set(hb.pool, pool);
      this.root?.send({ type: 'supervisor.start_child', spec: this.poolSpec(hb.pool, pool) });
    }
    this.poolRef(hb.pool)?.send({ type: 'heartbeat', heartbeat: hb });
  }

  private startService(): Promise<Service> {
    return startService({
      nc: this.nc,
      subjects: this.subjects,
      nodeId: this.nodeId,
      version: VERSION,
      maxPayloadBytes: this.config.maxPayloadBytes,
      callTimeoutMs: this.config.callTimeoutMs,
      logger: this.logger,
      metrics: this.metrics,
      admission: new InflightGate(() => this.config.maxInflight),
      endpoints: [
        {
          name: 'predict',
          schema: PredictRequestSchema,
          handle: (body: PredictRequest, ctx: RequestContext) =>
            this.run(body, ctx.deadline, ctx.trace, body.session ?? ctx.session, ctx),
          admit: (raw: unknown, ctx: RequestContext) => this.admitPredict(raw, ctx.deadline),
          replies: this.router.front,
        },
        { name: 'status', schema: StatusRequestSchema, handle: () => Promise.resolve(this.status()) },
        ...(this.vars === undefined ? [] : variableEndpoints(this.vars)),
        ...(this.pipes === undefined ? [] : pipelineEndpoints(this.pipes)),
        ...(this.sess === undefined ? [] : sessionEndpoints(this.sess)),
        ...optimizeEndpoints(this.optimizer),
      ],
    });
  }

  /**
   * Admission of a predict before it is validated: the pool it names (read from the raw body; a
   * malformed or unknown one is left to validation) would refuse it anyway, because its queue is
   * full or the call would finish after its deadline. Refusing here costs a decode instead of
   * validation, the signature, the cache key and an exception. A call the result cache could have
   * answered is refused too while its pool is overloaded (docs/security.md, "Overload").
   */
  private admitPredict(raw: unknown, deadline: number): Refusal | undefined {
    if (typeof raw !== 'object' || raw === null) return undefined;
    const { pool: named, config } = raw as { pool?: unknown; config?: { adapter?: unknown } };
    // A call for the direct HTTP adapter or a mock LM never waits for the pool.
    const adapter = typeof config === 'object' && config !== null ? config.adapter : undefined;
    if (adapter === 'direct' || adapter === 'mock') return undefined;
    const pool = named === undefined ? 'general' : named;
    if (typeof pool !== 'string' || !this.pools.has(pool)) return undefined;
    const verdict = this.dispatcher.admission(pool, deadline);
    if (verdict.admit) return undefined;
    this.metrics.calls.inc({ pool, outcome: ErrorCode.Overloaded });
    return {
      status: errorStatus[ErrorCode.Overloaded],
      error: {
        code: ErrorCode.Overloaded,
        message: verdict.message,
        retryable: true,
        details: verdict.details,
      },
      key: `predict:${pool}:${verdict.reason}`,
    };
  }

  predict(request: PredictRequest, options: CallOptions = {}): Promise<PredictReply> {
    const body = PredictRequestSchema.parse(request);
    return this.run(
      body,
      options.deadline ?? Date.now() + this.config.callTimeoutMs,
      options.trace,
      body.session,
    );
  }

  private async run(
    body: PredictRequest,
    deadline: number,
    trace: string | undefined,
    session: string | undefined,
    outcome?: RunOutcome,
  ): Promise<PredictReply> {
    if (this.stopping !== undefined) throw new DspexError(ErrorCode.Unavailable, 'node is shutting down');
    const pool = body.pool ?? 'general';
    // A pool this node has not heard of yet may be announced by the next heartbeat.
    if (!this.pools.has(pool)) await this.joining.wait(pool, deadline);
    if (!this.pools.has(pool)) {
      throw new DspexError(ErrorCode.NotFound, `pool "${pool}" is unknown on this node`, {
        details: { field: 'pool' },
      });
    }
    this.inflight++;
    try {
      if (session !== undefined) await this.seedAffinity(session, pool);
      const call = this.router.run(body, { deadline, trace, session, pool }, outcome);
      if (session !== undefined) this.sess?.observe(session, body, pool, call, trace);
      return await call;
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.idle?.();
    }
  }

  get pipelines(): PipelineEngine {
    if (this.pipes === undefined) {
      throw new DspexError(
        ErrorCode.Unavailable,
        'pipelines are disabled on this node (pipelines.enabled: false)',
      );
    }
    return this.pipes;
  }

  get sessions(): SessionStore {
    if (this.sess === undefined) {
      throw new DspexError(
        ErrorCode.Unavailable,
        'sessions are disabled on this node (sessions.enabled: false)',
      );
    }
    return this.sess;
  }

  get variables(): VariableStore {
    if (this.vars === undefined) {
      throw new DspexError(
        ErrorCode.Unavailable,
        'variables are disabled on this node (variables.enabled: false)',
      );
    }
    return this.vars;
  }

  get llm(): LlmLayer {
    return this.router;
  }

  /**
   * The first time this node sees a session, it continues on the worker the session record names
   * (chosen by whichever node served it before). One KV read per session and node, bounded.
   */
  private async seedAffinity(session: string, pool: string): Promise<void> {
    if (this.sess === undefined || this.sessionsSeen.has(session) || this.dispatcher.hasAffinity(session))
      return;
    this.sessionsSeen.add(session);
    if (this.sessionsSeen.size > 10_000) this.sessionsSeen.delete(this.sessionsSeen.values().next().value!);
    const record = await this.sess.get(session).catch(() => undefined);
    const affinity = record?.affinity;
    if (affinity !== undefined && affinity !== null && affinity.pool === pool) {
      this.dispatcher.seedAffinity(session, affinity.worker);
    }
  }

  /** The orchestrator's view of a pool: capacity, queue, sizes. */
  private poolView(name: string): PoolView | undefined {
    const pool = this.pools.get(name);
    if (pool === undefined) return undefined;
    const live = this.dispatcher.poolWorkers(name).filter((w) => w.state === 'ready' || w.state === 'busy');
    return {
      capacity: live.reduce((n, w) => n + w.concurrency, 0),
      queued: this.dispatcher.queueLength(name),
      inflight: live.reduce((n, w) => n + w.inflight, 0),
      size: this.sizes.get(name) ?? pool.size,
      baseSize: pool.size,
      maxSize: Math.max(pool.size, pool.maxSize ?? pool.size),
      concurrency: pool.concurrency,
    };
  }

  /** Grows or shrinks a pool's local workers within [0, maxSize] (pools with a launcher only). */
  private resizePool(name: string, size: number): void {
    const pool = this.pools.get(name);
    if (pool === undefined || !this.launchers.has(name)) return;
    const target = Math.max(0, Math.min(size, Math.max(pool.size, pool.maxSize ?? pool.size)));
    if (target === (this.sizes.get(name) ?? pool.size)) return;
    this.sizes.set(name, target);
    this.logger.info({ pool: name, size: target }, 'resizing pool');
    this.poolRef(name)?.send({ type: 'resize', size: target });
  }

  status(): StatusReply {
    return buildStatus({
      nodes: this.registry.list(),
      pools: [...this.pools.entries()].map(([name, pool]) => ({
        name,
        options: { ...pool, size: this.sizes.get(name) ?? pool.size },
        queueLength: this.dispatcher.queueLength(name),
        workers: this.dispatcher.poolWorkers(name),
      })),
      nodeId: this.nodeId,
    });
  }

  async waitForWorkers(
    pool = 'general',
    count?: number,
    timeoutMs = 120_000,
    options: WaitOptions = {},
  ): Promise<void> {
    const want = count ?? this.pools.get(pool)?.size ?? 1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = this.dispatcher
        .poolWorkers(pool)
        .filter(
          (w) => (w.state === 'ready' || w.state === 'busy') && (options.local !== true || w.managed),
        ).length;
      if (ready >= want) return;
      if (this.failure !== undefined) throw this.failure;
      if (Date.now() > deadline) {
        throw new DspexError(
          ErrorCode.Unavailable,
          `pool ${pool}: ${ready} of ${want} workers ready after ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Runs `hook` once the node has stopped. */
  onStopped(hook: () => void): void {
    this.stopHooks.push(hook);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.logger.info('stopping node');
    await this.service?.stop().catch(() => undefined);
    // Runs in progress here go back to the work queue (resumed elsewhere from their checkpoints).
    await this.pipes?.stop().catch(() => undefined);
    this.joining.close();
    this.dispatcher.close();
    if (this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.idle = resolve)),
        new Promise((r) => (timer = setTimeout(r, this.config.callTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    await this.drainWorkers();
    await this.tools.close();
    this.root?.send({ type: 'supervisor.stop' });
    await Promise.all([...this.launchers.values()].map((l) => l.close()));
    this.root?.stop();
    this.registry.stop();
    await this.vars?.close().catch(() => undefined);
    await this.sess?.stop().catch(() => undefined);
    this.hbSub?.unsubscribe();
    await this.orchestrator.stop().catch(() => undefined);
    await this.telemetry.stop().catch(() => undefined); // its last events.call batch goes out first
    await this.nc.drain().catch(() => undefined);
    await this.server?.stop();
    for (const hook of this.stopHooks) hook();
    this.logger.info('node stopped');
  }

  /** Asks every local worker to finish its calls and stop, and waits for them (bounded). */
  private async drainWorkers(): Promise<void> {
    for (const pool of this.pools.keys()) this.poolRef(pool)?.send({ type: 'drain' });
    const limit = Date.now() + Math.max(...[...this.pools.values()].map((p) => p.drainTimeoutMs), 1000);
    const localLeft = (): number =>
      [...this.pools.keys()].flatMap((p) => this.dispatcher.poolWorkers(p)).filter((w) => w.managed).length;
    while (localLeft() > 0 && Date.now() < limit) await new Promise((r) => setTimeout(r, 25));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
