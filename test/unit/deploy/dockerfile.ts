/**
 * A small Dockerfile reader for tests: joins `\` continuations, drops comments and parser directives,
 * and groups instructions into stages. Enough for the instructions our Dockerfile uses; not a full
 * implementation of BuildKit's grammar (no heredocs, no escape directive).
 */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** Everything after the keyword, continuations joined with one space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { stages: Stage[]; global: Instruction[] } {
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === undefined && (line === '' || line.startsWith('#'))) return;
    if (pending !== undefined && line.startsWith('#')) return; // comments inside a continuation
    const continued = line.endsWith('\\');
    const part = continued ? line.slice(0, -1).trim() : line;
    pending ??= { parts: [], line: i + 1 };
    if (part !== '') pending.parts.push(part);
    if (continued) return;
    const joined = pending.parts.join(' ');
    const space = joined.search(/\s/);
    instructions.push({
      keyword: (space < 0 ? joined : joined.slice(0, space)).toUpperCase(),
      args: space < 0 ? '' : joined.slice(space + 1).trim(),
      line: pending.line,
    });
    pending = undefined;
  });
  if (pending !== undefined) throw new Error(`Dockerfile ends inside a continuation (line ${pending.line})`);

  const global: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (match === null) throw new Error(`cannot read FROM at line ${instruction.line}`);
      stages.push({ image: match[1]!, name: match[2], instructions: [] });
    } else if (stages.length === 0) {
      global.push(instruction);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { stages, global };
}

/** `["a", "b"]` (exec form) as an array; a shell-form string is returned as `['/bin/sh', '-c', s]`. */
export function execForm(args: string): string[] {
  if (!args.startsWith('[')) return ['/bin/sh', '-c', args];
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new Error(`not a JSON array of strings: ${args}`);
  return value;
}

/** `--name=value` options at the start of `args` (COPY --from=…, HEALTHCHECK --interval=…) and the rest. */
export function splitOptions(args: string): { options: Record<string, string>; rest: string } {
  const options: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const match = /^--([\w-]+)=(\S+)\s+/.exec(rest);
    if (match === null) return { options, rest };
    options[match[1]!] = match[2]!;
    rest = rest.slice(match[0].length);
  }
}
