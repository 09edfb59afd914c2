/** Small checks shared by the store's modules: names, the "not defined" error, input revisions. */
import { DspexError, ErrorCode } from '../errors.js';
import { VarNameSchema } from '../protocol/variables.js';

/** Returns `name` when it is a valid variable name; a 400 naming the field otherwise. */
export function checkName(name: string): string {
  const parsed = VarNameSchema.safeParse(name);
  if (!parsed.success) {
    throw new DspexError(ErrorCode.BadRequest, `variable name: ${parsed.error.issues[0]?.message}`, {
      details: { field: 'name' },
    });
  }
  return name;
}

/** The 404 of a variable (or one of its revisions) that does not exist. */
export function notDefined(name: string, revision?: number): DspexError {
  return new DspexError(
    ErrorCode.NotFound,
    revision === undefined
      ? `variable ${name} is not defined`
      : `variable ${name} has no revision ${revision}`,
    { details: { field: revision === undefined ? 'name' : 'revision', name } },
  );
}

/** True when every input revision in `want` is already covered by `have`. */
export function dominates(have: Record<string, number> | undefined, want: Record<string, number>): boolean {
  if (have === undefined) return false;
  return Object.entries(want).every(([k, rev]) => (have[k] ?? -1) >= rev);
}
