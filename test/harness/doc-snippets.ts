import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A fenced code block of README.md or docs/*.md. */
export interface Snippet {
  /** `docs/llm.md:72` (the line of the opening fence). */
  where: string;
  lang: string;
  code: string;
}

/** Every fenced block of README.md and docs/*.md in one of `langs`. */
export function docSnippets(root: string, langs: string[]): Snippet[] {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: Snippet[] = [];
  for (const file of files.sort()) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\w+)\s*$/.exec(lines[i]!);
      if (open === null) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
      if (langs.includes(open[1]!))
        out.push({ where: `${file}:${start + 1}`, lang: open[1]!, code: body.join('\n') + '\n' });
    }
  }
  return out;
}

/** A whole program (it imports dspex) rather than a fragment continuing the page's example. */
export const isProgram = (s: Snippet): boolean => /from 'dspex'/.test(s.code);

/** A program that calls a hosted model: type-checked, not run. */
export const needsHostedModel = (s: Snippet): boolean => /openai\/|OPENAI_API_KEY|apiBase/.test(s.code);
