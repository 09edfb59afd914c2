/** The `llm` section of the runtime options, validated once with zod. */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const LlmOptionsSchema = z.strictObject({
  /**
   * DSPy-style model name the node calls directly over HTTP (`openai/gpt-4o-mini`,
   * `ollama_chat/llama3`, `openai/<name>` with `apiBase`). Unset (the default): every call goes to
   * the Python workers. Env `DSPEX_LLM_MODEL`.
   */
  model: z.string().min(1).optional(),
  /** OpenAI-compatible base URL (`http://host:port/v1`). @default env `DSPEX_LM_API_BASE`, else the provider's */
  apiBase: z.url().optional(),
  /** How structured output is requested. @default per provider: `json_schema` for openai, ollama, vLLM */
  format: z.enum(['json_schema', 'json_object', 'text']).optional(),
  /** Time one HTTP attempt may take, ms. @default 30000 */
  timeoutMs: positiveInt.default(30_000),
  /** Retries after the first attempt on 429, 5xx, timeouts and network errors. @default 3 */
  maxRetries: z.number().int().min(0).max(10).default(3),
  /** Backoff between retries (full jitter) when the server sends no `Retry-After`. */
  backoff: z
    .strictObject({ baseMs: positiveInt.default(250), maxMs: positiveInt.default(10_000) })
    .default({ baseMs: 250, maxMs: 10_000 }),
  /** Per-provider limits: requests per second and LM tokens per minute (token buckets). @default none */
  rateLimit: z
    .strictObject({
      requestsPerSecond: z.number().positive().optional(),
      tokensPerMinute: z.number().positive().optional(),
    })
    .default({}),
  /** Answers asked for per direct call: the first plus re-asks after an invalid one. @default 3 */
  maxAttempts: z.number().int().min(1).max(10).default(3),
  /** The result cache. */
  cache: z
    .strictObject({
      /** @default true */
      enabled: z.boolean().default(true),
      /** Entries kept in memory per node, per cache (predicts, LM completions). @default 10000 */
      entries: z.number().int().min(0).default(10_000),
      /** Share entries between nodes through a JetStream KV bucket (created if missing). */
      kv: z
        .strictObject({
          /** @default 'dspex_llm_cache' */
          bucket: z
            .string()
            .regex(/^[A-Za-z0-9_-]+$/)
            .default('dspex_llm_cache'),
          /** Bucket-level time to live of every entry, ms. @default 3600000 */
          ttlMs: positiveInt.default(3_600_000),
        })
        .optional(),
      /**
       * The front cache: encoded `dspex.rpc.predict` replies by the exact request bytes, answered at
       * the edge before decoding (docs/llm.md). Bounded by `entries` and by `maxBytes` of requests
       * plus replies.
       */
      front: z
        .strictObject({
          /** @default true */
          enabled: z.boolean().default(true),
          /** @default 67108864 (64 MiB) */
          maxBytes: positiveInt.default(64 * 1024 * 1024),
        })
        .default({ enabled: true, maxBytes: 64 * 1024 * 1024 }),
    })
    .default({ enabled: true, entries: 10_000, front: { enabled: true, maxBytes: 64 * 1024 * 1024 } }),
  /** Health-based selection between the direct adapter and Python. */
  selection: z
    .strictObject({
      alpha: z.number().gt(0).max(1).default(0.2),
      maxErrorRate: z.number().min(0).max(1).default(0.5),
      latencyFactor: z.number().positive().default(4),
      minSamples: positiveInt.default(5),
      probeEvery: positiveInt.default(20),
    })
    .default({ alpha: 0.2, maxErrorRate: 0.5, latencyFactor: 4, minSamples: 5, probeEvery: 20 }),
});
export type LlmOptions = z.input<typeof LlmOptionsSchema>;
export type ResolvedLlmOptions = z.output<typeof LlmOptionsSchema>;
