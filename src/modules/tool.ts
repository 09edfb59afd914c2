import { z } from 'zod';
import { DspexError, ErrorCode } from '../errors.js';
import { isName, NameKind, nameRule, preview } from '../protocol/names.js';
import type { ToolSpec } from '../protocol/schemas.js';

/** What a tool's `run` learns about the call that asked for it. */
export interface ToolContext {
  /** Absolute deadline of the calling module, unix ms (the `Dspex-Deadline` of the callback). */
  deadline: number;
  /** Aborted when the deadline passes; pass it on to fetch() and friends. */
  signal: AbortSignal;
}

/** A function the model may call, written in TypeScript, served by runtime nodes on `<prefix>.tool.<name>`. */
// `any` default: a tool's `run` takes its own argument type, and registries hold tools of every type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Tool<A = any, R = unknown> {
  readonly name: string;
  readonly description: string;
  /** Validates the model's arguments before `run` sees them. */
  readonly args: z.ZodType<A>;
  /** JSON schema of `args`, as the worker shows it to the model. */
  readonly parameters: Record<string, unknown>;
  run(args: A, context: ToolContext): R | Promise<R>;
  /** The tool as a predict request names it. */
  spec(): ToolSpec;
}

/** Any tool, whatever its argument and result types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTool = Tool<any, unknown>;

/** Definition given to {@link tool}. */
export interface ToolConfig<S extends z.ZodObject, R> {
  /** Subject token: letters, digits, `_`, `-`, at most 64; `finish` is reserved by ReAct. */
  name: string;
  /** What the tool does, for the model. */
  description: string;
  /** Arguments as a zod object; the model sees its JSON schema, `run` gets the parsed value. */
  args: S;
  run(args: z.output<S>, context: ToolContext): R | Promise<R>;
}

/**
 * Defines a tool. Register it on a runtime (`rt.tools.register(t)`) or give it to a {@link ReAct}
 * module, which registers it on its executor's runtime.
 *
 * @example
 * ```ts
 * const weather = tool({
 *   name: 'get_weather',
 *   description: 'Current weather of a city',
 *   args: z.object({ city: z.string() }),
 *   run: async ({ city }) => `sunny in ${city}`,
 * });
 * ```
 */
export function tool<S extends z.ZodObject, R>(definition: ToolConfig<S, R>): Tool<z.output<S>, R> {
  if (!isName(NameKind.Tool, definition.name) || definition.name === 'finish') {
    throw new DspexError(
      ErrorCode.BadRequest,
      `tool name "${preview(definition.name)}": ${nameRule(NameKind.Tool)} (and not "finish")`,
      { details: { field: 'name' } },
    );
  }
  const schema = z.toJSONSchema(definition.args, { unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return {
    name: definition.name,
    description: definition.description,
    args: definition.args as unknown as z.ZodType<z.output<S>>,
    parameters: schema,
    run: (args, context) => definition.run(args, context),
    spec() {
      return { name: definition.name, description: definition.description, parameters: schema };
    },
  };
}
