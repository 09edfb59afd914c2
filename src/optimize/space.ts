/**
 * Search spaces over variables: numeric (float, int) and categorical parameters, seeded sampling,
 * and the canonical hash that names a candidate in the shared trial ledger.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VarNameSchema } from '../protocol/variables.js';

/** One searchable parameter. */
export const ParamSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('float'),
    min: z.number(),
    max: z.number(),
    /** Sample on a log scale (min > 0). */
    log: z.boolean().optional(),
    /** Round to this step (makes the space finite). */
    step: z.number().positive().optional(),
  }),
  z.strictObject({ kind: z.literal('int'), min: z.number().int(), max: z.number().int() }),
  z.strictObject({ kind: z.literal('categorical'), values: z.array(z.unknown()).min(1).max(10_000) }),
]);
export type ParamSpec = z.infer<typeof ParamSpecSchema>;

/** Parameters by variable name: a candidate assigns a value to each of these variables. */
export const SearchSpaceSchema = z
  .record(VarNameSchema, ParamSpecSchema)
  .refine((s) => Object.keys(s).length > 0, 'needs at least one variable')
  .superRefine((s, ctx) => {
    for (const [name, p] of Object.entries(s)) {
      if (p.kind !== 'categorical' && p.min > p.max) {
        ctx.addIssue({ code: 'custom', path: [name, 'max'], message: 'must be >= min' });
      }
      if (p.kind === 'float' && p.log === true && p.min <= 0) {
        ctx.addIssue({ code: 'custom', path: [name, 'min'], message: 'must be > 0 on a log scale' });
      }
    }
  });
export type SearchSpace = z.infer<typeof SearchSpaceSchema>;

/** Values for every variable of a space. */
export type Candidate = Record<string, unknown>;

/** A seeded PRNG in [0, 1) (mulberry32): two optimizers with one seed propose the same sequence. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleParam(p: ParamSpec, rng: () => number): unknown {
  switch (p.kind) {
    case 'categorical':
      return p.values[Math.min(p.values.length - 1, Math.floor(rng() * p.values.length))];
    case 'int':
      return p.min + Math.min(p.max - p.min, Math.floor(rng() * (p.max - p.min + 1)));
    case 'float': {
      const u = rng();
      let v =
        p.log === true
          ? Math.exp(Math.log(p.min) + u * (Math.log(p.max) - Math.log(p.min)))
          : p.min + u * (p.max - p.min);
      if (p.step !== undefined) v = p.min + Math.round((v - p.min) / p.step) * p.step;
      // Round away float noise so equal candidates hash equally on every node.
      return Math.min(p.max, Math.max(p.min, Number(v.toPrecision(12))));
    }
    default: {
      const never: never = p;
      throw new Error(`unknown parameter ${String(never)}`);
    }
  }
}

/** One random candidate (variables in name order, so the draw sequence is stable). */
export function sampleCandidate(space: SearchSpace, rng: () => number): Candidate {
  const out: Candidate = {};
  for (const name of Object.keys(space).sort()) out[name] = sampleParam(space[name]!, rng);
  return out;
}

/** Number of distinct candidates, or `undefined` when a parameter is continuous. */
export function spaceSize(space: SearchSpace): number | undefined {
  let n = 1;
  for (const p of Object.values(space)) {
    switch (p.kind) {
      case 'categorical':
        n *= p.values.length;
        break;
      case 'int':
        n *= p.max - p.min + 1;
        break;
      case 'float':
        if (p.step === undefined || p.log === true) return undefined;
        n *= Math.floor((p.max - p.min) / p.step + 1e-9) + 1;
        break;
      default: {
        const never: never = p;
        throw new Error(`unknown parameter ${String(never)}`);
      }
    }
  }
  return n;
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The ledger name of a candidate: 32 hex digits of the SHA-256 of its canonical JSON. */
export function candidateKey(candidate: Candidate): string {
  return createHash('sha256').update(canonicalJson(candidate)).digest('hex').slice(0, 32);
}
