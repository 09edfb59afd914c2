/**
 * The environment of local worker processes: built from an allow-list, never the node's whole
 * environment, so what the node holds for itself (its NATS password, the cluster worker secret, the
 * passwords an operator exported for nats-server) never reaches a worker, nor what a worker could be
 * made to print.
 */

/** Variables a Python process, DSPy and litellm need, passed as the node has them. */
const EXACT = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TEMP',
  'TMP',
  'VIRTUAL_ENV',
  'CONDA_PREFIX',
  'LD_LIBRARY_PATH',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'TOKENIZERS_PARALLELISM',
  'NLTK_DATA',
  // The worker's own settings (docs/configuration.md, "Worker environment").
  'DSPEX_LOG_LEVEL',
  'DSPEX_TOOL_TIMEOUT_MS',
  'DSPEX_MEMORY_CACHE',
  'DSPEX_MEMORY_CACHE_ENTRIES',
  'DSPEX_DUMMY_DELAY_MS',
  'DSPEX_DUMMY_FAIL_RATE',
]);

/**
 * Prefixes of variables passed as the node has them: locale, Python, DSPy, the worker's LM
 * (`DSPEX_LM*`), litellm, and the LM providers litellm reads keys and endpoints from.
 */
const PREFIXES = [
  'LC_',
  'PYTHON',
  'DSPY_',
  'DSPEX_LM',
  'LITELLM_',
  // OpenTelemetry: the collector's endpoint, headers, sampler (docs/telemetry.md, "Traces").
  'OTEL_',
  'OPENAI_',
  'AZURE_',
  'ANTHROPIC_',
  'GEMINI_',
  'GOOGLE_',
  'VERTEX',
  'MISTRAL_',
  'CODESTRAL_',
  'COHERE_',
  'CO_API_',
  'GROQ_',
  'TOGETHER',
  'DEEPSEEK_',
  'OPENROUTER_',
  'OR_SITE_',
  'FIREWORKS',
  'PERPLEXITY',
  'XAI_',
  'HUGGINGFACE_',
  'HF_',
  'REPLICATE_',
  'ANYSCALE_',
  'DEEPINFRA_',
  'NVIDIA_NIM_',
  'CEREBRAS_',
  'SAMBANOVA_',
  'DATABRICKS_',
  'WATSONX_',
  'OLLAMA_',
  'VOYAGE_',
  'AWS_',
  'AI21_',
  'CLOUDFLARE_',
  'MOONSHOT_',
  'DASHSCOPE_',
  'NEBIUS_',
  'HOSTED_VLLM_',
  'LM_STUDIO_',
];

/** Any provider's key and endpoint variables (`<PROVIDER>_API_KEY`, `_API_BASE`, …). */
const PROVIDER_VARIABLE = /^[A-Z][A-Z0-9_]*_API_(KEY|BASE|VERSION|TOKEN|URL)$/;

/** dspex's and NATS's own credentials and settings: never passed, whatever else matches. */
const FORBIDDEN =
  /^(DSPEX_(NATS_|WORKER_|NODE_|CLIENT_)|DSPEX_.*(PASSWORD|SECRET|TOKEN|_KEY_FILE)|NATS_|NKEYS?_)/;

/** True for names that must never reach a worker (the node's NATS login, passwords, the secret). */
export function isForbiddenWorkerEnv(name: string): boolean {
  return FORBIDDEN.test(name);
}

/** True when the node passes its own value of `name` to its workers. */
export function isPassedToWorkers(name: string): boolean {
  if (isForbiddenWorkerEnv(name)) return false;
  return EXACT.has(name) || PREFIXES.some((p) => name.startsWith(p)) || PROVIDER_VARIABLE.test(name);
}

/**
 * The environment of a pool's workers: the allow-listed part of `nodeEnv`, the variables `passEnv`
 * names, then `common` and the pool's `env` (explicit values from the config win).
 */
export function workerEnvironment(
  nodeEnv: NodeJS.ProcessEnv,
  passEnv: readonly string[],
  common: Record<string, string>,
  poolEnv: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(nodeEnv)) {
    if (value !== undefined && isPassedToWorkers(name)) env[name] = value;
  }
  for (const name of passEnv) {
    const value = nodeEnv[name];
    if (value !== undefined && !isForbiddenWorkerEnv(name)) env[name] = value;
  }
  // litellm fetches a price list on import unless told not to; workers must not need the network.
  env.LITELLM_LOCAL_MODEL_COST_MAP ??= 'True';
  return { ...env, ...common, ...poolEnv };
}
