/**
 * Names that travel inside NATS subjects or JetStream KV keys, defined once. A request string used
 * as a subject token or a key must match its kind's schema at the edge (400 naming the field):
 * an unchecked name could hold a `.`, a wildcard or whitespace (another subject), or be long enough
 * that the server closes the node's connection (a control line over 4 KiB).
 *
 * Every kind is 1 to `max` of `[A-Za-z0-9_-]`; `max` is 64, except variable names and session ids
 * (128, as documented since they were introduced). KV keys could also hold `.`, `=` and `/`; dspex
 * does not use that: a dot would split a variable's events subject, and one rule is easier to keep.
 */
import { z } from 'zod';

/** Characters of every name: one subject token, one KV key token. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Longest name of most kinds. */
export const NAME_MAX = 64;

/** Kinds of names and their length caps. */
export const NameKind = {
  Pool: 'pool',
  Worker: 'worker',
  Node: 'node',
  Session: 'session',
  Variable: 'variable',
  Run: 'run',
  Tool: 'tool',
  Metric: 'metric',
  Stage: 'stage',
  Function: 'function',
  Prefix: 'prefix',
} as const;
export type NameKind = (typeof NameKind)[keyof typeof NameKind];

/** Length cap of each kind. */
export const nameMax: Record<NameKind, number> = {
  pool: NAME_MAX,
  worker: NAME_MAX,
  node: NAME_MAX,
  session: 128,
  variable: 128,
  run: NAME_MAX,
  tool: NAME_MAX,
  metric: NAME_MAX,
  stage: NAME_MAX,
  function: NAME_MAX,
  prefix: NAME_MAX,
};

/** What a bad name of `kind` is told: the rule, never the value. */
export function nameRule(kind: NameKind): string {
  return `expected 1-${nameMax[kind]} letters, digits, "_" or "-"`;
}

/** The zod schema of one kind of name. Messages state the rule and never echo the value. */
export function nameSchema(kind: NameKind): z.ZodString {
  const rule = nameRule(kind);
  return z.string().min(1, rule).max(nameMax[kind], rule).regex(NAME_PATTERN, rule);
}

/** True when `value` is a valid name of `kind`. */
export function isName(kind: NameKind, value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= nameMax[kind] &&
    NAME_PATTERN.test(value)
  );
}

/** A pool name: `<prefix>.pool.<pool>`. */
export const PoolNameSchema = nameSchema(NameKind.Pool);
/** A worker id: `<prefix>.pool.<pool>.<worker>`, `<prefix>.hb.worker.<worker>`. */
export const WorkerIdSchema = nameSchema(NameKind.Worker);
/** A runtime node id: `<prefix>.hb.node.<node>`. */
export const NodeIdSchema = nameSchema(NameKind.Node);
/** A session id: the key of its record in the sessions bucket. */
export const SessionIdSchema = nameSchema(NameKind.Session);
/** A variable name: its key in the variable buckets and `<prefix>.events.var.<name>`. */
export const VarNameSchema = nameSchema(NameKind.Variable);
/** An optimizer or pipeline run id: `<prefix>.events.optimize.<run>`, `<prefix>.pipeline.<run>.events`. */
export const RunIdSchema = nameSchema(NameKind.Run);
/** A tool name: `<prefix>.tool.<name>`. */
export const ToolNameSchema = nameSchema(NameKind.Tool);
/** A metric registered in the worker package. */
export const MetricNameSchema = nameSchema(NameKind.Metric);
/** A pipeline stage id: part of its checkpoint keys (`cp.<run>.<stage>`). */
export const StageIdSchema = nameSchema(NameKind.Stage);
/** A TypeScript stage function registered on the nodes. */
export const FunctionNameSchema = nameSchema(NameKind.Function);
/** The subject prefix (`dspex`). */
export const PrefixSchema = nameSchema(NameKind.Prefix);

export { preview } from '../errors.js';
