import type { StatusReply } from '../protocol/schemas.js';

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** "3.2s ago" style age of a unix-ms timestamp, relative to `now`. */
export function age(ts: number, now: number): string {
  if (ts <= 0) return '-';
  const s = Math.max(0, (now - ts) / 1000);
  if (s < 60) return `${s.toFixed(1)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

function mib(bytes: number): string {
  return bytes > 0 ? `${(bytes / 1024 / 1024).toFixed(0)}MiB` : '-';
}

/** The status reply as three aligned tables: nodes, pools, workers. */
export function formatStatus(status: StatusReply, now = Date.now()): string[] {
  const lines: string[] = [];
  lines.push(
    ...table([
      ['NODE', 'HOST', 'PID', 'STARTED', 'LAST SEEN'],
      ...status.nodes.map((n) => [
        n.self ? `${n.id} (answered)` : n.id,
        n.host,
        String(n.pid),
        age(n.started_at, now),
        age(n.last_seen, now),
      ]),
    ]),
  );
  lines.push('');
  lines.push(
    ...table([
      ['POOL', 'SIZE', 'CONCURRENCY', 'QUEUE', 'WORKERS', 'READY'],
      ...status.pools.map((p) => [
        p.name,
        String(p.size),
        String(p.concurrency),
        `${p.queue.length}/${p.queue.limit}`,
        String(p.workers.length),
        String(p.workers.filter((w) => w.state === 'ready' || w.state === 'busy').length),
      ]),
    ]),
  );
  lines.push('');
  const workers = status.pools.flatMap((p) => p.workers.map((w) => ({ pool: p.name, ...w })));
  if (workers.length === 0) {
    lines.push('no workers');
    return lines;
  }
  lines.push(
    ...table([
      ['WORKER', 'POOL', 'STATE', 'INFLIGHT', 'CALLS', 'HOST', 'PID', 'SPAWNED BY', 'RSS', 'LAST SEEN'],
      ...workers.map((w) => [
        w.id,
        w.pool,
        w.state,
        String(w.inflight),
        String(w.calls),
        w.host === '' ? '-' : w.host,
        w.pid > 0 ? String(w.pid) : '-',
        w.node ?? '(by hand)',
        mib(w.rss_bytes),
        age(w.last_seen, now),
      ]),
    ]),
  );
  return lines;
}
