/**
 * A local OpenAI-compatible server for tests: `POST /v1/chat/completions` on 127.0.0.1 (free port)
 * with scripted or deterministic answers, SSE streaming, tool calls, JSON-schema `response_format`,
 * error statuses, 429 with `Retry-After` and slow replies. Every request is recorded.
 *
 * `await using lm = await startOpenAiServer()`; point clients at `lm.baseUrl` (`…/v1`).
 *
 * The deterministic answer reads the output fields and their types from the system prompt (DSPy's
 * "Your output fields are: 1. `answer` (str)" or dspex's "- `answer` (str)") and the first input
 * value from the first `[[ ## name ## ]]` block, and gives `str` → "<field> for <input>",
 * `int` → 42, `float` → 0.5, `bool` → true, `list[T]` → one T, `Literal[...]` → the first option,
 * `dict` → {}. It answers JSON when the request has a `response_format` or no DSPy field markers,
 * and `[[ ## field ## ]]` blocks (DSPy's ChatAdapter) otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded request. */
export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: ChatBody;
  at: number;
}

/** One part of a multimodal message (OpenAI's content parts: text, image_url, input_audio, file). */
export interface ContentPart {
  type: string;
  text?: string;
  image_url?: { url: string };
  [key: string]: unknown;
}

export interface ChatBody {
  model?: string;
  messages?: Array<{ role: string; content?: string | ContentPart[] | null }>;
  stream?: boolean;
  tools?: unknown[];
  response_format?: { type: string; json_schema?: { schema?: Record<string, unknown> } };
  [key: string]: unknown;
}

/** What the server does for one request. Fields combine: a delay, then a status or an answer. */
export interface Script {
  /** Wait this long before answering, ms. */
  delayMs?: number;
  /** Answer with this HTTP status (an error body) instead of a completion. */
  status?: number;
  /** `Retry-After` header value for an error status. */
  retryAfter?: string;
  /** The completion's text; default: the deterministic answer. */
  content?: string;
  /** Tool calls instead of text. */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
}

export interface OpenAiServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  /** Scripts answered in order, one per request, before the default. */
  enqueue(...scripts: Script[]): void;
  /** The default for requests with no queued script. @default the deterministic answer */
  setDefault(respond: (request: RecordedRequest) => Script): void;
  /** Chat requests received so far. */
  count(): number;
  close(): Promise<void>;
}

const FIELD_LINE = /^\s*(?:\d+\.|-)\s+`(\w+)`\s+\(([^)]*(?:\([^)]*\))?[^)]*)\)/;

/** Output fields and type texts listed in a system prompt. */
export function outputFields(system: string): Array<{ name: string; type: string }> {
  const lines = system.split('\n');
  const start = lines.findIndex((l) => /output fields/i.test(l));
  if (start < 0) return [];
  const fields: Array<{ name: string; type: string }> = [];
  for (const line of lines.slice(start + 1)) {
    const m = FIELD_LINE.exec(line);
    if (m === null) {
      if (fields.length > 0 && line.trim() === '') break;
      continue;
    }
    fields.push({ name: m[1]!, type: m[2]!.trim() });
  }
  return fields;
}

/** The first input value of the last user message, whitespace-folded, at most 60 characters. */
export function seedOf(user: string): string {
  const m = /\[\[ ## \w+ ## \]\]\n([\s\S]*?)(?:\n\n|$)/.exec(user);
  const text = (m?.[1] ?? user).split(/\s+/).join(' ').trim();
  return text.slice(0, 60).trim() || 'nothing';
}

/** A deterministic value of a Python type text. */
export function valueOf(name: string, type: string, seed: string): unknown {
  const t = type.trim();
  if (t === 'bool') return true;
  if (t === 'int') return 42;
  if (t === 'float') return 0.5;
  if (t.startsWith('dict')) return {};
  const list = /^list\[(.*)\]$/.exec(t);
  if (list !== null) return [valueOf(name, list[1]!, seed)];
  const literal = /^Literal\[(.*)\]$/.exec(t);
  if (literal !== null) {
    const first = literal[1]!.split(',')[0]!.trim();
    return /^['"]/.test(first) ? first.slice(1, -1) : (JSON.parse(first.toLowerCase()) as unknown);
  }
  const optional = /^Optional\[(.*)\]$/.exec(t) ?? /^(.*)\s*\|\s*None$/.exec(t);
  if (optional !== null) return valueOf(name, optional[1]!, seed);
  return `${name} for ${seed}`;
}

/** A message's text: its content, or the text parts of a multimodal content, joined. */
export function textOf(content: string | ContentPart[] | null | undefined): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((part) => (part.type === 'text' ? (part.text ?? '') : '')).join('');
}

/** The deterministic answer's text for a request. */
export function deterministicContent(body: ChatBody): string {
  const messages = body.messages ?? [];
  const system = textOf(messages.find((m) => m.role === 'system')?.content);
  const user = textOf([...messages].reverse().find((m) => m.role === 'user')?.content);
  const seed = seedOf(user);
  const fields = outputFields(system);
  const values = Object.fromEntries(fields.map((f) => [f.name, valueOf(f.name, f.type, seed)]));
  const dspyMarkers = system.includes('[[ ## completed ## ]]');
  if (body.response_format !== undefined || !dspyMarkers) return JSON.stringify(values);
  const blocks = fields.map((f) => {
    const v = values[f.name];
    return `[[ ## ${f.name} ## ]]\n${typeof v === 'string' ? v : JSON.stringify(v)}`;
  });
  return [...blocks, '[[ ## completed ## ]]'].join('\n\n');
}

function tokens(text: string): number {
  return Math.ceil(text.length / 4);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startOpenAiServer(): Promise<OpenAiServer> {
  const requests: RecordedRequest[] = [];
  const queue: Script[] = [];
  let fallback: (request: RecordedRequest) => Script = () => ({});
  let seq = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url ?? '/';
    if (req.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [] }));
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}` } }));
      return;
    }
    let body: ChatBody;
    try {
      body = JSON.parse(await readBody(req)) as ChatBody;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'body is not JSON' } }));
      return;
    }
    const recorded: RecordedRequest = { path, headers: req.headers, body, at: Date.now() };
    requests.push(recorded);
    const script = queue.shift() ?? fallback(recorded);
    if (script.delayMs !== undefined) await new Promise((r) => setTimeout(r, script.delayMs));
    if (res.destroyed) return;
    if (script.status !== undefined && script.status >= 300) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (script.retryAfter !== undefined) headers['retry-after'] = script.retryAfter;
      res.writeHead(script.status, headers);
      res.end(JSON.stringify({ error: { message: `scripted ${script.status}`, type: 'test' } }));
      return;
    }
    const id = `chatcmpl-${++seq}`;
    const model = body.model ?? 'test';
    const created = Math.floor(Date.now() / 1000);
    const toolCalls = (script.toolCalls ?? []).map((t, i) => ({
      id: `call_${seq}_${i}`,
      type: 'function' as const,
      function: { name: t.name, arguments: JSON.stringify(t.arguments) },
    }));
    const content = toolCalls.length > 0 ? null : (script.content ?? deterministicContent(body));
    const promptText = JSON.stringify(body.messages ?? []);
    const usage = {
      prompt_tokens: tokens(promptText),
      completion_tokens: tokens(content ?? JSON.stringify(toolCalls)),
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop';
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (chunk: unknown): void => {
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      };
      const base = { id, object: 'chat.completion.chunk', created, model };
      send({
        ...base,
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      });
      if (content !== null) {
        // Three pieces, so a client must join deltas.
        const step = Math.max(1, Math.ceil(content.length / 3));
        for (let i = 0; i < content.length; i += step) {
          send({
            ...base,
            choices: [{ index: 0, delta: { content: content.slice(i, i + step) }, finish_reason: null }],
          });
        }
      }
      toolCalls.forEach((call, index) => {
        const half = Math.ceil(call.function.arguments.length / 2);
        send({
          ...base,
          choices: [
            {
              index: 0,
              delta: {
                tool_calls: [
                  {
                    index,
                    id: call.id,
                    type: 'function',
                    function: { name: call.function.name, arguments: call.function.arguments.slice(0, half) },
                  },
                ],
              },
              finish_reason: null,
            },
          ],
        });
        send({
          ...base,
          choices: [
            {
              index: 0,
              delta: {
                tool_calls: [{ index, function: { arguments: call.function.arguments.slice(half) } }],
              },
              finish_reason: null,
            },
          ],
        });
      });
      send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
      send({ ...base, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message:
              toolCalls.length > 0
                ? { role: 'assistant', content: null, tool_calls: toolCalls }
                : { role: 'assistant', content },
            finish_reason: finish,
          },
        ],
        usage,
      }),
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...scripts) => queue.push(...scripts),
    setDefault: (respond) => {
      fallback = respond;
    },
    count: () => requests.length,
    close,
    [Symbol.asyncDispose]: close,
  };
}
