import { describe, expect, it } from 'vitest';
import { isDspexError } from '../../../src/errors.js';
import { resolveModel } from '../../../src/llm/model-name.js';

describe('resolveModel', () => {
  it('resolves openai/<model> to the OpenAI API with OPENAI_API_KEY', () => {
    expect(resolveModel('openai/gpt-4o-mini', { env: { OPENAI_API_KEY: 'sk-1' } })).toEqual({
      name: 'openai/gpt-4o-mini',
      provider: 'openai',
      model: 'gpt-4o-mini',
      baseUrl: 'https://api.openai.com/v1',
      apiKey: 'sk-1',
      format: 'json_schema',
    });
  });

  it('resolves ollama_chat/<model> to a local Ollama without a key', () => {
    const m = resolveModel('ollama_chat/llama3', { env: {} });
    expect(m).toMatchObject({
      provider: 'ollama_chat',
      model: 'llama3',
      baseUrl: 'http://localhost:11434/v1',
    });
    expect(m.apiKey).toBeUndefined();
  });

  it('lets api_base (option, else DSPEX_LM_API_BASE) override the URL, without a trailing slash', () => {
    expect(resolveModel('openai/x', { apiBase: 'http://127.0.0.1:9/v1/', env: {} }).baseUrl).toBe(
      'http://127.0.0.1:9/v1',
    );
    expect(resolveModel('openai/x', { env: { DSPEX_LM_API_BASE: 'http://h:1/v1' } }).baseUrl).toBe(
      'http://h:1/v1',
    );
  });

  it('prefers DSPEX_LM_API_KEY over the provider variable, as the Python workers do', () => {
    expect(resolveModel('groq/llama', { env: { DSPEX_LM_API_KEY: 'a', GROQ_API_KEY: 'b' } }).apiKey).toBe(
      'a',
    );
    expect(resolveModel('groq/llama', { env: { GROQ_API_KEY: 'b' } }).apiKey).toBe('b');
  });

  it('keeps slashes inside the model name and treats a bare name as openai', () => {
    expect(resolveModel('openrouter/meta-llama/llama-3-8b', { env: {} }).model).toBe('meta-llama/llama-3-8b');
    expect(resolveModel('gpt-4o', { env: {} })).toMatchObject({ provider: 'openai', model: 'gpt-4o' });
  });

  it('rejects dummy, empty models, providers needing an api_base and non-OpenAI providers, naming the option', () => {
    for (const [name, field] of [
      ['dummy', 'llm.model'],
      ['openai/', 'llm.model'],
      ['anthropic/claude-3', 'llm.model'],
      ['hosted_vllm/m', 'llm.apiBase'],
    ] as const) {
      const error = (() => {
        try {
          resolveModel(name, { env: {} });
        } catch (e) {
          return e;
        }
      })();
      expect(isDspexError(error) && error.details?.field).toBe(field);
    }
  });
});
