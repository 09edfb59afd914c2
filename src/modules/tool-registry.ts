import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { DspexError, ErrorCode, isDspexError } from '../errors.js';
import type { AnyTool } from './tool.js';
import {
  decode,
  encode,
  encodingOf,
  errorBody,
  errorHeaders,
  MAX_REQUEST_DEPTH,
  replyHeaders,
} from '../protocol/codec.js';
import { Header, traceOf } from '../protocol/headers.js';
import { parseMessage, ToolRequestSchema, type ToolSpec } from '../protocol/schemas.js';
import { guarded } from '../telemetry/guard.js';

/** Tools this node serves to Python workers (ReAct tools and BestOfN/Refine reward functions). */
export interface ToolRegistry {
  /**
   * Serves `tool` on `<prefix>.tool.<name>` (queue group `dspex-tools`, so any node with the tool
   * answers). Registering the same tool object again is a no-op; another tool under a taken name
   * is a 400.
   */
  register(tool: AnyTool): void;
  /** Stops serving a tool; resolves once unsubscribed. */
  unregister(name: string): Promise<void>;
  has(name: string): boolean;
  /** The registered tools as predict requests name them. */
  list(): ToolSpec[];
}

export interface ToolRegistryOptions {
  nc: NatsConnection;
  prefix: string;
  logger: Logger;
  /** Used when a callback carries no `Dspex-Deadline`. @default 30000 */
  defaultTimeoutMs?: number;
}

const QUEUE = 'dspex-tools';

/**
 * The NATS side of tools: each callback is decoded, its `args` validated with the tool's zod schema
 * (422 naming `args.<field>`), run under the caller's deadline (408 when it passes), and answered
 * `{result}`; a thrown error is a 500 whose message the worker shows the model as the observation.
 */
export class NatsToolRegistry implements ToolRegistry {
  private readonly tools = new Map<string, { tool: AnyTool; sub: Subscription }>();
  private closed = false;

  constructor(private readonly o: ToolRegistryOptions) {}

  subject(name: string): string {
    return `${this.o.prefix}.tool.${name}`;
  }

  register(tool: AnyTool): void {
    if (this.closed) throw new DspexError(ErrorCode.Unavailable, 'the runtime is stopping: no new tools');
    const existing = this.tools.get(tool.name);
    if (existing !== undefined) {
      if (existing.tool === tool) return;
      throw new DspexError(ErrorCode.BadRequest, `tool "${tool.name}" is already registered on this node`, {
        details: { field: 'name' },
      });
    }
    const sub = this.o.nc.subscribe(this.subject(tool.name), {
      queue: QUEUE,
      callback: guarded(`tool ${tool.name}`, this.o.logger, undefined, (err, msg) => {
        if (err === null) void this.serve(tool, msg);
      }),
    });
    this.tools.set(tool.name, { tool, sub });
  }

  async unregister(name: string): Promise<void> {
    const entry = this.tools.get(name);
    if (entry === undefined) return;
    this.tools.delete(name);
    await entry.sub.drain().catch(() => undefined);
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  list(): ToolSpec[] {
    return [...this.tools.values()].map(({ tool }) => tool.spec());
  }

  /** Stops serving every tool, letting callbacks in flight finish. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.tools.keys()].map((name) => this.unregister(name)));
  }

  private async serve(tool: AnyTool, msg: Msg): Promise<void> {
    const encoding = encodingOf(msg.headers);
    const trace = traceOf(msg.headers);
    try {
      const body = parseMessage(
        ToolRequestSchema,
        decode(msg.data, encoding, MAX_REQUEST_DEPTH),
        `tool ${tool.name}`,
      );
      const parsed = tool.args.safeParse(body.args);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = ['args', ...(issue?.path ?? []).map(String)].join('.');
        throw new DspexError(ErrorCode.ValidationFailed, `${field}: ${issue?.message ?? 'invalid'}`, {
          details: { field },
        });
      }
      const result = await this.runBounded(tool, parsed.data, this.deadlineOf(msg));
      msg.respond(encode({ result: result ?? null }, encoding), { headers: replyHeaders(encoding, trace) });
    } catch (error) {
      const e = isDspexError(error)
        ? error
        : new DspexError(
            ErrorCode.Internal,
            `tool ${tool.name} threw: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
      this.o.logger.info({ tool: tool.name, code: e.code, message: e.message, trace }, 'tool call failed');
      try {
        msg.respond(encode(errorBody(e), encoding), { headers: errorHeaders(e, encoding, trace) });
      } catch (failure) {
        this.o.logger.error({ err: failure, tool: tool.name, trace }, 'could not answer a tool call');
      }
    }
  }

  private deadlineOf(msg: Msg): number {
    const raw = Number(msg.headers?.get(Header.Deadline) ?? '');
    return Number.isFinite(raw) && raw > 0 ? raw : Date.now() + (this.o.defaultTimeoutMs ?? 30_000);
  }

  private async runBounded(tool: AnyTool, args: unknown, deadline: number): Promise<unknown> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new DspexError(
        ErrorCode.DeadlineExceeded,
        `tool ${tool.name}: the deadline passed before it ran`,
      );
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(
          new DspexError(ErrorCode.DeadlineExceeded, `tool ${tool.name} did not finish before the deadline`),
        );
      }, remaining);
    });
    try {
      return await Promise.race([
        Promise.resolve().then(() => tool.run(args, { deadline, signal: controller.signal })),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
