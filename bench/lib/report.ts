/** Markdown rendering of scenario results. */
import type { BenchRow, ScenarioResult } from '../types.js';

/** A number with precision that suits its size: 0.123, 12.3, 1234. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

function table(header: string[], body: string[][]): string {
  const lines = [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.join(' | ')} |`);
  return lines.join('\n');
}

/** Metric columns in first-seen order across the rows. */
function metricColumns(rows: readonly BenchRow[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row.metrics)) seen.add(key);
  return [...seen];
}

/** The rows as a table (one column per metric), then the ratios and notes. */
export function renderMarkdown(name: string, description: string, result: ScenarioResult): string {
  const columns = metricColumns(result.rows);
  const parts = [
    `### ${name}`,
    '',
    description,
    '',
    table(
      ['subject', 'baseline', ...columns],
      result.rows.map((row) => [
        row.subject,
        row.baseline ? 'yes' : '',
        ...columns.map((c) => (c in row.metrics ? formatNumber(row.metrics[c]!) : '')),
      ]),
    ),
  ];
  const ratios = Object.entries(result.ratios ?? {});
  if (ratios.length > 0) {
    parts.push(
      '',
      table(
        ['ratio', 'value'],
        ratios.map(([k, v]) => [k, formatNumber(v)]),
      ),
    );
  }
  if (result.notes !== undefined && result.notes.length > 0) {
    parts.push('', ...result.notes.map((n) => `- ${n}`));
  }
  return parts.join('\n') + '\n';
}
