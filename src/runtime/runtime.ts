import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import { pino, type Logger } from 'pino';
import { DspexError, ErrorCode } from '../errors.js';
import { PythonBridge } from '../llm/python-bridge.js';
import { LlmRouter, type LlmLayer, type RunOutcome } from '../llm/router.js';
import type { LlmAdapter } from '../llm/types.js';
import { preparePredict } from '../modules/prepare-predict.js';
import { NatsToolRegistry } from '../modules/tool-registry.js';
import { DEFAULT_INBOX_PREFIX, type NatsAuth } from '../nats/nats-connect.js';
import type { NatsServer } from '../nats/nats-server.js';
import { connectNode, type NodeConnection } from '../nats/node-connection.js';
import { NodeRegistry } from '../nats/node-registry.js';
import { startService, type RequestContext } from '../nats/service.js';
import { Optimizer } from '../optimize/compile.js';
import { optimizeEndpoints } from '../optimize/endpoints.js';
import { Orchestrator } from '../orchestrator/orchestrator.js';
import { createPipelineEngine, type PipelineEngine } from '../pipelines/engine.js';
import { pipelineEndpoints } from '../pipelines/endpoints.js';
import { InflightGate } from '../nats/inflight-gate.js';
import { NodePools } from '../pools/node-pools.js';
import { admitPredict } from '../pools/predict-admission.js';
import { AffinitySeeder } from '../pools/affinity-seeder.js';
import { natsWorkerSend } from '../pools/worker-call.js';
import { JoinGate } from '../pools/join-gate.js';
import { encode, Encoding } from '../protocol/codec.js';
import { NodeTelemetry } from '../telemetry/node-telemetry.js';
import { resolveWorkerCommand } from '../workers/preflight.js';
import { requireJetStream } from '../nats/first-run.js';
import { resolveReplicas } from '../nats/replicas.js';
import {
  PredictRequestSchema,
  StatusRequestSchema,
  type PredictReply,
  type PredictRequest,
  type StatusReply,
} from '../protocol/schemas.js';
import { subjects as makeSubjects, type Subjects } from '../protocol/subjects.js';
import { sessionEndpoints } from '../sessions/endpoints.js';
import { createSessionStore, type SessionStore } from '../sessions/store.js';
import { createMetrics, type RuntimeMetrics } from '../telemetry/metrics.js';
import { variableEndpoints } from '../variables/endpoints.js';
import { createVariableStore, type VariableStore } from '../variables/store.js';
import { VERSION } from '../version.js';
import { subscribeWorkerHeartbeats } from '../workers/heartbeats.js';
import { loadWorkerSecrets, WorkerIdentity } from '../workers/identity.js';
import { createPoolLaunchers } from '../workers/pool-launchers.js';
import { WorkerRequests } from '../workers/requests.js';
import { configFromEnv, resolveConfig, type ResolvedRuntimeConfig } from './config.js';
import { installLastResort } from './last-resort.js';
import type { CallOptions, Runtime, RuntimeOptions, WaitOptions } from './api.js';
import { buildStatus } from './status.js';

export type { CallOptions, Runtime, RuntimeOptions, WaitOptions } from './api.js';

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
  const connection = await connectNode(config.nats, nodeId, logger);
  const { nc, servers } = connection;
  const needJetStream = (['variables', 'sessions', 'pipelines'] as const).filter((f) => config[f].enabled);
  if (needJetStream.length > 0) {
    try {
      await requireJetStream(nc, servers, needJetStream);
    } catch (error) {
      await nc.close();
      await connection.server?.stop();
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
    connection,
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
  readonly nc: NatsConnection;
  readonly servers: string[];
  private readonly server: NatsServer | undefined;
  private readonly auth: NatsAuth;
  private readonly subjects: Subjects;
  private readonly pools: NodePools;
  private readonly affinity: AffinitySeeder;
  private readonly joining: JoinGate;
  private readonly telemetry: NodeTelemetry;
  private readonly registry: NodeRegistry;
  readonly tools: NatsToolRegistry;
  private readonly router: LlmRouter;
  private vars: VariableStore | undefined;
  private pipes: PipelineEngine | undefined;
  private sess: SessionStore | undefined;
  readonly optimizer: Optimizer;
  readonly orchestrator: Orchestrator;
  private service: Service | undefined;
  private hbSub: Subscription | undefined;
  private readonly requests: WorkerRequests;
  private inflight = 0;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private readonly stopHooks: Array<() => void> = [];
  private fail: ((error: DspexError) => void) | undefined;
  readonly failed = new Promise<DspexError>((resolve) => (this.fail = resolve));

  constructor(
    private readonly config: ResolvedRuntimeConfig,
    readonly nodeId: string,
    connection: NodeConnection,
    readonly logger: Logger,
    readonly metrics: RuntimeMetrics,
    private readonly identity: WorkerIdentity,
    mock?: LlmAdapter,
  ) {
    const { nc, servers } = connection;
    this.auth = connection.auth;
    this.nc = nc;
    this.servers = servers;
    this.server = connection.server;
    this.subjects = makeSubjects(config.prefix);
    this.requests = new WorkerRequests(nc, identity, this.auth.inboxPrefix ?? DEFAULT_INBOX_PREFIX.node);
    this.pools = new NodePools({
      nodeId,
      pools: config.pools,
      send: natsWorkerSend(this.requests, this.subjects),
      maxAttempts: config.maxAttempts,
      logger,
      metrics,
      onAttempt: (result) => {
        this.orchestrator.observe(result);
        this.telemetry.onAttempt(result);
      },
      onRecycle: (pool) => this.telemetry.onRecycle(pool, 'call budget'),
      onWorkerState: (pool) => this.joining.changed(pool),
      onFailed: (error) => this.fail?.(error),
      stopping: () => this.stopping !== undefined,
    });
    this.telemetry = new NodeTelemetry({
      nodeId,
      metrics,
      logger,
      options: config.metrics,
      workers: () => this.pools.names().flatMap((p) => this.pools.dispatcher.poolWorkers(p)),
      publishCalls: (batch) => nc.publish(this.subjects.event('call'), encode(batch, Encoding.Msgpack)),
    });
    this.joining = new JoinGate({
      graceMs: 3 * Math.max(config.heartbeatMs, ...Object.values(config.pools).map((p) => p.heartbeatMs)),
      servable: (pool) =>
        this.pools.dispatcher
          .poolWorkers(pool)
          .some((w) => w.state === 'ready' || w.state === 'busy' || w.state === 'starting'),
    });
    this.affinity = new AffinitySeeder(this.pools.dispatcher, async (session) =>
      this.sess === undefined ? undefined : (await this.sess.get(session)).affinity,
    );
    this.router = new LlmRouter({
      nodeId,
      options: config.llm,
      mock,
      metrics,
      logger,
      lmOfPool: (pool) => this.pools.options(pool)?.lm ?? config.worker.lm ?? 'dummy',
      python: new PythonBridge({
        prepare: preparePredict,
        dispatch: async (pool, request, ctx) => {
          await this.joining.wait(pool, ctx.deadline);
          return this.pools.dispatcher.call(pool, request, {
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
      pool: (name) => this.pools.snapshot(name),
      resize: (pool, size) => this.pools.resize(pool, size),
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
      pools: () => this.pools.names(),
      logger,
      metrics,
    });
  }

  async start(): Promise<void> {
    const launchers = createPoolLaunchers({
      worker: this.config.worker,
      pools: new Map(Object.entries(this.config.pools)),
      servers: this.servers,
      auth: this.auth,
      identity: this.identity,
      prefix: this.config.prefix,
      nodeId: this.nodeId,
      logger: this.logger,
    });
    this.hbSub = subscribeWorkerHeartbeats({
      nc: this.nc,
      subject: this.subjects.workerHeartbeats,
      identity: this.identity,
      logger: this.logger,
      metrics: this.metrics,
      onHeartbeat: (hb) => this.pools.heartbeat(hb),
    });
    this.registry.start();
    await this.orchestrator.start(this.nc, () => this.pools.names());
    this.pools.start(launchers);
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

  private startService(): Promise<Service> {
    const pools = {
      has: (pool: string) => this.pools.has(pool),
      admission: (pool: string, deadline: number) => this.pools.dispatcher.admission(pool, deadline),
      metrics: this.metrics,
    };
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
          admit: (raw: unknown, ctx: RequestContext) => admitPredict(pools, raw, ctx.deadline),
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
      if (session !== undefined && this.sess !== undefined) await this.affinity.seed(session, pool);
      const call = this.router.run(body, { deadline, trace, session, pool }, outcome);
      if (session !== undefined) this.sess?.observe(session, body, pool, call, trace);
      return await call;
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.idle?.();
    }
  }

  get pipelines(): PipelineEngine {
    return enabled('pipelines', this.pipes);
  }

  get sessions(): SessionStore {
    return enabled('sessions', this.sess);
  }

  get variables(): VariableStore {
    return enabled('variables', this.vars);
  }

  get llm(): LlmLayer {
    return this.router;
  }

  status(): StatusReply {
    return buildStatus({ nodes: this.registry.list(), pools: this.pools.status(), nodeId: this.nodeId });
  }

  waitForWorkers(
    pool = 'general',
    count?: number,
    timeoutMs = 120_000,
    options: WaitOptions = {},
  ): Promise<void> {
    return this.pools.waitForWorkers(pool, count, timeoutMs, options);
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
    this.pools.dispatcher.close();
    if (this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.idle = resolve)),
        new Promise((r) => (timer = setTimeout(r, this.config.callTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    await this.pools.drain();
    await this.tools.close();
    await this.pools.stop();
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

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** A feature's store, or 503 when the feature is disabled in the config. */
function enabled<T>(feature: 'pipelines' | 'sessions' | 'variables', store: T | undefined): T {
  if (store === undefined) {
    throw new DspexError(
      ErrorCode.Unavailable,
      `${feature} are disabled on this node (${feature}.enabled: false)`,
    );
  }
  return store;
}
