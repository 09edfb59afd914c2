import { DspexError, ErrorCode } from '../errors.js';

/**
 * The dependency cycle that giving `name` the inputs `from` would close, as a path that starts and
 * ends with `name` (`['a', 'b', 'a']`), or `undefined` when the graph stays acyclic.
 * `inputsOf` returns the inputs of the other derived variables known so far.
 */
export function findCycle(
  name: string,
  from: readonly string[],
  inputsOf: (name: string) => readonly string[] | undefined,
): string[] | undefined {
  // Depth-first from each new input: a path back to `name` is the cycle.
  const visited = new Set<string>();
  const walk = (node: string, path: string[]): string[] | undefined => {
    if (node === name) return [...path, node];
    if (visited.has(node)) return undefined;
    visited.add(node);
    for (const next of inputsOf(node) ?? []) {
      const found = walk(next, [...path, node]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (const input of from) {
    const found = walk(input, [name]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Throws a 400 naming the cycle when `name` derived from `from` would close one. */
export function assertAcyclic(
  name: string,
  from: readonly string[],
  inputsOf: (name: string) => readonly string[] | undefined,
): void {
  const cycle = findCycle(name, from, inputsOf);
  if (cycle !== undefined) {
    throw new DspexError(ErrorCode.BadRequest, `dependency cycle: ${cycle.join(' -> ')}`, {
      details: { field: 'derive.from', cycle },
    });
  }
}
