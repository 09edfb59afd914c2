/**
 * The node's LLM layer: every predict passes here. It looks the call up in the result cache,
 * chooses an adapter (direct HTTP, Python bridge, mock), runs it, and records the outcome in the
 * EWMAs that steer later choices and in the `dspex_llm_*` metrics.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { isDspexError } from '../errors.js';
import type { PredictReply, PredictRequest } from '../protocol/schemas.js';
import { BoundChildren, type RuntimeMetrics } from '../telemetry/metrics.js';
import { predictCacheKey } from './cache-key.js';
import { openKvTier, ResultCache, type SharedTier } from './cache.js';
import { DirectAdapter } from './direct-adapter.js';
import { FRONT_MAX_REQUEST_BYTES, FrontCache } from './front-cache.js';
import { HttpChatModel } from './http-chat.js';
import { resolveModel } from './model-name.js';
import type { ResolvedLlmOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';
import {
  AdapterStats,
  selectAdapter,
  type AdapterHealth,
  type Selection,
  type SelectionReason,
} from './selection.js';
import { AdapterName, type AdapterContext, type ChatResult, type LlmAdapter } from './types.js';

export interface LlmRouterOptions {
  nodeId: string;
  options: ResolvedLlmOptions;
  python: LlmAdapter;
  mock?: LlmAdapter | undefined;
  /** The LM name a pool's workers run (part of the Python bridge's cache key). */
  lmOfPool(pool: string): string;
  metrics: RuntimeMetrics;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

/** What `rt.llm` shows of the LLM layer. */
export interface LlmLayer {
  /** The direct adapter's chat model (completions, streaming, tools), when one is configured. */
  readonly chat: HttpChatModel | undefined;
  /** Adapters this node offers. */
  readonly adapters: readonly AdapterName[];
  /** The choice the node would make for a request now (no call is made). */
  select(request: PredictRequest): Selection;
  /** Latency and error-rate EWMAs per adapter. */
  health(): Partial<Record<AdapterName, AdapterHealth>>;
  /** Entries in the in-memory predict cache. */
  cacheSize(): number;
  /** Entries in the front cache (encoded replies by request bytes). */
  frontCacheSize(): number;
  /**
   * Empties the in-memory caches and the front cache (the shared KV tier keeps its entries until
   * its TTL).
   */
  clearCache(): void;
}

/** What {@link LlmRouter.run} tells its caller about the reply besides the reply. */
export interface RunOutcome {
  /**
   * Set when the reply came from the predict cache for a request whose answer depends on nothing
   * but its content: no session, an adapter chosen by the request and the configuration alone (not
   * by health, which changes). The same request bytes may then be answered with the same bytes.
   */
  reusable?: boolean;
}

/** Selections that depend only on the request and the node's configuration, never on health. */
const STABLE_REASONS: ReadonlySet<SelectionReason> = new Set<SelectionReason>([
  'requested',
  'no_http_lm',
  'module',
  'types',
  'demos',
  'lm',
  'pool',
]);

/** Retryable failures and LM errors are the adapter's fault; 4xx about the request are not. */
function countsAsFailure(error: unknown): boolean {
  if (!isDspexError(error)) return true;
  return error.retryable || error.code === 'lm_error' || error.code === 'internal';
}

function isReply(value: unknown): value is PredictReply {
  return typeof value === 'object' && value !== null && 'outputs' in value && 'worker' in value;
}

function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) freeze(member);
    Object.freeze(value);
  }
  return value;
}

export class LlmRouter implements LlmLayer {
  readonly chat: HttpChatModel | undefined;
  readonly adapters: AdapterName[];
  private readonly direct: DirectAdapter | undefined;
  private readonly stats: AdapterStats;
  private readonly predictCache: ResultCache<PredictReply> | undefined;
  private readonly lmCache: ResultCache<ChatResult> | undefined;
  /** Encoded predict replies by request bytes, for the service edge; undefined when off. */
  readonly front: FrontCache | undefined;
  private readonly pending = new Map<string, Promise<PredictReply>>();
  private tick = 0;
  private readonly selections;
  private readonly calls;
  private readonly durations;

  constructor(private readonly o: LlmRouterOptions) {
    const opts = o.options;
    this.stats = new AdapterStats(opts.selection.alpha);
    const m = o.metrics;
    this.selections = new BoundChildren((adapter, reason) => m.llmSelections.labels({ adapter, reason }));
    this.calls = new BoundChildren((adapter, outcome) => m.llmCalls.labels({ adapter, outcome }));
    this.durations = new BoundChildren((adapter) => m.llmDuration.labels({ adapter }));
    if (opts.cache.enabled) {
      const common = { entries: opts.cache.entries, lookups: o.metrics.llmCache, logger: o.logger };
      this.predictCache = new ResultCache({ ...common, name: 'predict' });
      this.lmCache = new ResultCache({ ...common, name: 'lm' });
    }
    if (opts.cache.enabled && opts.cache.front.enabled && opts.cache.entries > 0) {
      this.front = new FrontCache({
        entries: opts.cache.entries,
        maxBytes: opts.cache.front.maxBytes,
        maxRequestBytes: FRONT_MAX_REQUEST_BYTES,
        lookups: o.metrics.llmCache,
      });
    }
    if (opts.model !== undefined) {
      const model = resolveModel(opts.model, { apiBase: opts.apiBase, env: o.env });
      this.chat = new HttpChatModel({
        model,
        format: opts.format ?? model.format,
        timeoutMs: opts.timeoutMs,
        maxRetries: opts.maxRetries,
        backoff: opts.backoff,
        limiter: new RateLimiter(opts.rateLimit),
        cache: this.lmCache,
        onRetry: (status) => o.metrics.llmRetries.inc({ provider: model.provider, status: String(status) }),
      });
      this.direct = new DirectAdapter({ chat: this.chat, maxAttempts: opts.maxAttempts, nodeId: o.nodeId });
    }
    this.adapters = [
      AdapterName.Python,
      ...(this.direct === undefined ? [] : [AdapterName.Direct]),
      ...(o.mock === undefined ? [] : [AdapterName.Mock]),
    ];
  }

  /** Opens the shared KV tier when configured. */
  async start(nc: NatsConnection): Promise<void> {
    const kv = this.o.options.cache.kv;
    if (kv === undefined || !this.o.options.cache.enabled) return;
    const shared: SharedTier = await openKvTier(nc, kv.bucket, kv.ttlMs);
    this.predictCache?.share(shared);
    this.lmCache?.share(shared);
  }

  select(request: PredictRequest): Selection {
    return selectAdapter(
      request,
      {
        directModel: this.direct === undefined ? undefined : this.o.options.model,
        mock: this.o.mock !== undefined,
      },
      this.stats,
      this.o.options.selection,
      this.tick,
    );
  }

  health(): Partial<Record<AdapterName, AdapterHealth>> {
    return this.stats.snapshot();
  }

  cacheSize(): number {
    return this.predictCache?.size ?? 0;
  }

  frontCacheSize(): number {
    return this.front?.size ?? 0;
  }

  clearCache(): void {
    this.predictCache?.clear();
    this.lmCache?.clear();
    this.front?.clear();
  }

  /**
   * Runs one predict: cache, choice, adapter. The reply's `usage` names the adapter and the cache;
   * `outcome` learns whether the reply may be reused for the same request bytes.
   */
  async run(body: PredictRequest, context: AdapterContext, outcome?: RunOutcome): Promise<PredictReply> {
    this.tick++;
    const selection = this.select(body);
    const cache =
      body.config?.cache === false || selection.adapter === AdapterName.Mock || callsBack(body)
        ? undefined
        : this.predictCache;
    if (cache === undefined) return this.invoke(selection, body, context);
    const lm =
      selection.adapter === AdapterName.Direct
        ? this.o.options.model!
        : (body.config?.lm ?? this.o.lmOfPool(context.pool));
    const key = predictCacheKey(body, lm);
    // A key present means this exact request passed validation before, so answering it here keeps
    // the 4xx semantics while skipping the signature work.
    const hit = cache.getLocal(key) ?? (cache.shared ? await cache.getShared(key, isReply) : undefined);
    if (hit !== undefined) {
      if (outcome !== undefined && context.session === undefined && STABLE_REASONS.has(selection.reason))
        outcome.reusable = true;
      return hit;
    }
    const running = this.pending.get(key);
    if (running !== undefined) return running;
    const call = this.invoke(selection, body, context).then((reply) => {
      const usage = { ...reply.usage, cached: true };
      cache.set(key, freeze({ outputs: reply.outputs, worker: reply.worker, latency_ms: 0, usage }));
      return reply;
    });
    this.pending.set(key, call);
    try {
      return await call;
    } finally {
      this.pending.delete(key);
    }
  }

  private async invoke(
    selection: Selection,
    body: PredictRequest,
    context: AdapterContext,
  ): Promise<PredictReply> {
    const adapter = this.adapterFor(selection.adapter);
    this.selections.of(adapter.name, selection.reason).inc();
    const started = performance.now();
    try {
      const reply = await adapter.predict(body, context);
      const ms = performance.now() - started;
      this.stats.record(adapter.name, ms, false);
      this.calls.of(adapter.name, 'ok').inc();
      this.durations.of(adapter.name).observe(ms / 1000);
      return { ...reply, usage: { ...reply.usage, adapter: adapter.name, cached: false } };
    } catch (error) {
      this.stats.record(adapter.name, performance.now() - started, countsAsFailure(error));
      this.calls.of(adapter.name, isDspexError(error) ? error.code : 'internal').inc();
      throw error;
    }
  }

  private adapterFor(name: AdapterName): LlmAdapter {
    switch (name) {
      case AdapterName.Python:
        return this.o.python;
      case AdapterName.Direct:
        return this.direct ?? this.o.python;
      case AdapterName.Mock:
        return this.o.mock ?? this.o.python;
      default: {
        const never: never = name;
        throw new Error(`unknown adapter ${String(never)}`);
      }
    }
  }
}

/**
 * A call whose module runs TypeScript code of ours (ReAct tools, a reward served as a tool) has side
 * effects and answers that depend on that code: never served from the cache.
 */
function callsBack(body: PredictRequest): boolean {
  if (body.tools !== undefined && body.tools.length > 0) return true;
  const reward = (body.options as { reward?: unknown } | undefined)?.reward;
  return typeof reward === 'object' && reward !== null && (reward as { kind?: unknown }).kind === 'tool';
}
