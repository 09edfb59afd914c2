/**
 * Wire schemas of the variable coordination system: the record stored in the JetStream KV bucket
 * (and republished as change events), and the bodies of the `dspex.rpc.var.*` endpoints.
 */
import { z } from 'zod';
import { VarNameSchema } from './names.js';
import { TypeTextSchema } from './signature-text.js';

/** A variable name: one KV key token (no dots, so watchers can use `<bucket>.*` safely). */
export { VarNameSchema };

/** A lease/writer identity: who is writing (an optimizer id, a node, a user). */
const HolderSchema = z.string().min(1).max(256);

/** Constraints every node can check (a custom TS predicate stays on the node that defined it). */
export const VarConstraintsSchema = z.strictObject({
  /** Inclusive bounds of a number. */
  min: z.number().optional(),
  max: z.number().optional(),
  /** Allowed values (compared by deep equality). */
  enum: z.array(z.unknown()).min(1).optional(),
  /** Regular expression a string value must match (JavaScript syntax, whole value unless anchored otherwise). */
  pattern: z.string().max(1024).optional(),
  /** Bounds of a string's or list's length. */
  min_length: z.number().int().nonnegative().optional(),
  max_length: z.number().int().nonnegative().optional(),
});
export type VarConstraints = z.infer<typeof VarConstraintsSchema>;

/** The shareable definition of a variable, copied into every record so any node can validate writes. */
export const VarSpecSchema = z.strictObject({
  /** A signature-engine type string (`float`, `list[str]`, `Literal['a', 'b']`, …); absent: any. */
  type: TypeTextSchema.min(1).max(1024).optional(),
  constraints: VarConstraintsSchema.optional(),
  /** Set for a derived variable: the variables it is computed from (by a TS function on some node). */
  derived: z.strictObject({ from: z.array(VarNameSchema).min(1).max(64) }).optional(),
  description: z.string().max(4096).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type VarSpec = z.infer<typeof VarSpecSchema>;

/** The value stored under a variable's key in the KV bucket (msgpack). */
export const VarStoredSchema = z.object({
  name: VarNameSchema,
  value: z.unknown(),
  spec: VarSpecSchema,
  /** Score of this value, when a writer (an optimizer) measured one. */
  score: z.number().optional(),
  /** Who wrote it (lease holder, optimizer id or caller-given `by`). */
  by: z.string().optional(),
  /** Node that performed the write. */
  node: z.string(),
  /** Unix ms of the write, by the writing node's clock. */
  at: z.number(),
  /** Revision of the lease the writer held, a fencing token. */
  lease: z.number().int().positive().optional(),
  /** For a derived variable: the revision of each input it was computed from. */
  inputs: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /**
   * The optimizer lease holder this revision was written under or marked with: acquiring a lease
   * writes a marker revision carrying it, so any writer sees a lease in the record its
   * compare-and-set is based on (absent: no lease was taken since, and no lease read is needed).
   */
  holder: HolderSchema.optional(),
  /** A marker revision: a lease was taken (`holder`); value and score did not change. */
  marker: z.literal(true).optional(),
});
export type VarStored = z.infer<typeof VarStoredSchema>;

/** A variable as the API and the wire return it: the stored record plus its KV revision. */
export const VarRecordSchema = VarStoredSchema.extend({ revision: z.number().int().positive() });
export type VarRecord = z.infer<typeof VarRecordSchema>;

/** One entry of a variable's history (newest last). */
export const VarHistoryEntrySchema = z.object({
  revision: z.number().int().positive(),
  operation: z.enum(['PUT', 'DEL', 'PURGE']),
  value: z.unknown(),
  score: z.number().optional(),
  by: z.string().optional(),
  node: z.string().optional(),
  at: z.number(),
});
export type VarHistoryEntry = z.infer<typeof VarHistoryEntrySchema>;

/** The current lease of a variable, as stored in the lease bucket. */
export const VarLeaseSchema = z.object({
  holder: HolderSchema,
  node: z.string(),
  pid: z.number().int().optional(),
  /** Unix ms of acquisition. */
  since: z.number(),
});
export type VarLease = z.infer<typeof VarLeaseSchema>;

/** An observer's announcement in the observer bucket (key `<name>.<observer id>`). */
export const VarObserverSchema = z.object({
  id: z.string(),
  node: z.string().optional(),
  /** `callback` (a local watch), `binding` (a module parameter bound to it), `derived`, or a client's own word. */
  kind: z.string(),
  since: z.number(),
});
export type VarObserver = z.infer<typeof VarObserverSchema>;

/** Body of `dspex.rpc.var.get`. */
export const VarGetRequestSchema = z.object({
  name: VarNameSchema,
  /** Read this historical revision instead of the latest. */
  revision: z.number().int().positive().optional(),
});
export type VarGetRequest = z.infer<typeof VarGetRequestSchema>;

/** Body of `dspex.rpc.var.set`. */
export const VarSetRequestSchema = z.object({
  name: VarNameSchema,
  value: z.unknown().refine((v) => v !== undefined, 'is required'),
  /** Compare-and-set: the revision the writer read; a stale one gets 409 `revision_conflict`. */
  revision: z.number().int().positive().optional(),
  by: HolderSchema.optional(),
  score: z.number().optional(),
  /** Lease holder writing under its lease (`by` defaults to it). */
  holder: HolderSchema.optional(),
});
export type VarSetRequest = z.infer<typeof VarSetRequestSchema>;

/**
 * Body of `dspex.rpc.var.define`: creates a variable (or updates its spec, keeping its value).
 * Derived variables need a TS function and are defined through the API only.
 */
export const VarDefineRequestSchema = z.object({
  name: VarNameSchema,
  spec: VarSpecSchema.omit({ derived: true }).default({}),
  /** The first value; ignored when the variable already exists. */
  value: z.unknown().refine((v) => v !== undefined, 'is required'),
});
export type VarDefineRequest = z.infer<typeof VarDefineRequestSchema>;

/** Body of `dspex.rpc.var.list`. */
export const VarListRequestSchema = z.object({
  /** Only names starting with this. */
  prefix: z.string().max(128).optional(),
});
export type VarListRequest = z.infer<typeof VarListRequestSchema>;

/** Reply of `dspex.rpc.var.list`. */
export const VarListReplySchema = z.object({ variables: z.array(VarRecordSchema) });
export type VarListReply = z.infer<typeof VarListReplySchema>;

/** Body of `dspex.rpc.var.history`. */
export const VarHistoryRequestSchema = z.object({
  name: VarNameSchema,
  /** Newest entries kept, at most the bucket's history depth. @default all */
  limit: z.number().int().positive().max(1000).optional(),
});
export type VarHistoryRequest = z.infer<typeof VarHistoryRequestSchema>;

/** Reply of `dspex.rpc.var.history`. */
export const VarHistoryReplySchema = z.object({
  name: VarNameSchema,
  entries: z.array(VarHistoryEntrySchema),
});
export type VarHistoryReply = z.infer<typeof VarHistoryReplySchema>;

/** Body of `dspex.rpc.var.describe`. */
export const VarDescribeRequestSchema = z.object({ name: VarNameSchema });

/** Reply of `dspex.rpc.var.describe`: the record, its lease holder and its announced observers. */
export const VarDescribeReplySchema = z.object({
  record: VarRecordSchema,
  lease: VarLeaseSchema.extend({ revision: z.number().int().positive() }).nullable(),
  observers: z.array(VarObserverSchema),
});
export type VarDescription = z.infer<typeof VarDescribeReplySchema>;

/** Bodies of `dspex.rpc.var.lease.acquire|release`. */
export const VarLeaseRequestSchema = z.object({
  names: z.array(VarNameSchema).min(1).max(64),
  holder: HolderSchema,
});
export type VarLeaseRequest = z.infer<typeof VarLeaseRequestSchema>;

/** Reply of `dspex.rpc.var.lease.acquire`: lease revisions by name, and the TTL renewals must beat. */
export const VarLeaseReplySchema = z.object({
  holder: HolderSchema,
  revisions: z.record(z.string(), z.number().int().positive()),
  ttl_ms: z.number().int().positive(),
});
export type VarLeaseReply = z.infer<typeof VarLeaseReplySchema>;

/** Variable messages by the name used in `fixtures/protocol/*.json`. */
export const variableMessageSchemas = {
  var_record: VarRecordSchema,
  var_get_request: VarGetRequestSchema,
  var_set_request: VarSetRequestSchema,
  var_define_request: VarDefineRequestSchema,
  var_list_request: VarListRequestSchema,
  var_history_request: VarHistoryRequestSchema,
  var_history_reply: VarHistoryReplySchema,
  var_lease_request: VarLeaseRequestSchema,
} as const;
