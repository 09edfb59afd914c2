/**
 * DSPy/litellm model names (`openai/gpt-4o-mini`, `ollama_chat/llama3`, `openai/x` with an
 * `api_base`) resolved to what an OpenAI-compatible HTTP call needs: base URL, model and key.
 * The environment variables are the ones the Python workers read (`DSPEX_LM_API_BASE`,
 * `DSPEX_LM_API_KEY`, else the provider's own key variable), so one configuration serves both.
 */
import { DspexError, ErrorCode } from '../errors.js';
import { ResponseFormat } from './types.js';

/** An OpenAI-compatible provider litellm knows by prefix. */
interface ProviderInfo {
  baseUrl: string | undefined;
  keyEnv: string[];
  /** Response format used unless configured otherwise. */
  format: ResponseFormat;
}

const PROVIDERS: Readonly<Record<string, ProviderInfo>> = {
  openai: { baseUrl: 'https://api.openai.com/v1', keyEnv: ['OPENAI_API_KEY'], format: 'json_schema' },
  ollama_chat: { baseUrl: 'http://localhost:11434/v1', keyEnv: [], format: 'json_schema' },
  ollama: { baseUrl: 'http://localhost:11434/v1', keyEnv: [], format: 'json_schema' },
  groq: { baseUrl: 'https://api.groq.com/openai/v1', keyEnv: ['GROQ_API_KEY'], format: 'json_object' },
  together_ai: {
    baseUrl: 'https://api.together.xyz/v1',
    keyEnv: ['TOGETHERAI_API_KEY'],
    format: 'json_object',
  },
  deepseek: { baseUrl: 'https://api.deepseek.com/v1', keyEnv: ['DEEPSEEK_API_KEY'], format: 'json_object' },
  mistral: { baseUrl: 'https://api.mistral.ai/v1', keyEnv: ['MISTRAL_API_KEY'], format: 'json_object' },
  openrouter: {
    baseUrl: 'https://openrouter.ai/api/v1',
    keyEnv: ['OPENROUTER_API_KEY'],
    format: 'json_schema',
  },
  fireworks_ai: {
    baseUrl: 'https://api.fireworks.ai/inference/v1',
    keyEnv: ['FIREWORKS_API_KEY', 'FIREWORKS_AI_API_KEY'],
    format: 'json_object',
  },
  hosted_vllm: { baseUrl: undefined, keyEnv: ['HOSTED_VLLM_API_KEY'], format: 'json_schema' },
  lm_studio: { baseUrl: 'http://localhost:1234/v1', keyEnv: ['LM_STUDIO_API_KEY'], format: 'json_schema' },
};

/** A model name resolved for an HTTP call. */
export interface ResolvedModel {
  /** The name as configured, e.g. `openai/gpt-4o-mini` (cache keys and telemetry use it). */
  name: string;
  /** litellm provider prefix, `openai` when the name has none. */
  provider: string;
  /** Model name sent to the provider, e.g. `gpt-4o-mini`. */
  model: string;
  /** Base URL without a trailing slash; requests go to `${baseUrl}/chat/completions`. */
  baseUrl: string;
  apiKey: string | undefined;
  /** Default structured-output mode of this provider. */
  format: ResponseFormat;
}

/** Providers the direct adapter can call (OpenAI-compatible chat completions). */
export const directProviders: readonly string[] = Object.keys(PROVIDERS);

/**
 * Resolves a DSPy model name. `apiBase` (else `DSPEX_LM_API_BASE`) overrides the provider's URL and
 * is required for a provider without one.
 * @throws {DspexError} 400 on `llm.model` for an empty name, `dummy`, or a provider that is not
 *   OpenAI-compatible (such models still run through the Python workers).
 */
export function resolveModel(
  name: string,
  options: { apiBase?: string; env?: NodeJS.ProcessEnv } = {},
): ResolvedModel {
  const env = options.env ?? process.env;
  const slash = name.indexOf('/');
  const provider = slash < 0 ? 'openai' : name.slice(0, slash);
  const model = slash < 0 ? name : name.slice(slash + 1);
  if (model === '' || name === 'dummy') {
    throw new DspexError(ErrorCode.BadRequest, `llm.model: "${name}" is not an HTTP model name`, {
      details: { field: 'llm.model' },
    });
  }
  const info = PROVIDERS[provider];
  if (info === undefined) {
    throw new DspexError(
      ErrorCode.BadRequest,
      `llm.model: provider "${provider}" is not OpenAI-compatible for the direct adapter ` +
        `(known: ${directProviders.join(', ')}); its calls run on the Python workers`,
      { details: { field: 'llm.model', provider } },
    );
  }
  const base = options.apiBase ?? (env.DSPEX_LM_API_BASE || undefined) ?? info.baseUrl;
  if (base === undefined) {
    throw new DspexError(ErrorCode.BadRequest, `llm.apiBase: provider "${provider}" needs an api_base`, {
      details: { field: 'llm.apiBase' },
    });
  }
  let apiKey = env.DSPEX_LM_API_KEY || undefined;
  for (const key of info.keyEnv) apiKey ??= env[key] || undefined;
  return { name, provider, model, baseUrl: base.replace(/\/+$/, ''), apiKey, format: info.format };
}
