import { describe, expect, it } from 'vitest';
import { checkStatus } from '../../../src/cli/status-check.js';
import type { StatusReply } from '../../../src/protocol/schemas.js';

const now = 1_000_000;
const worker = (id: string, state: string) => ({
  id,
  state,
  inflight: 0,
  calls: 0,
  host: 'h1',
  pid: 11,
  managed: true,
  node: 'n-1',
  rss_bytes: 0,
  last_seen: now - 300,
});
const status: StatusReply = {
  nodes: [
    { id: 'n-1', host: 'h1', pid: 10, started_at: now - 60_000, last_seen: now - 500, self: true },
    { id: 'n-2', host: 'h2', pid: 20, started_at: now - 5000, last_seen: now - 1500, self: false },
  ],
  pools: [
    {
      name: 'general',
      size: 2,
      concurrency: 4,
      queue: { length: 0, limit: 1000 },
      workers: [worker('g-0', 'ready'), worker('g-1', 'busy'), worker('g-2', 'draining')],
    },
  ],
};

describe('checkStatus (the container health check)', () => {
  it('passes for a live node, whether or not it is the one that answered', () => {
    expect(checkStatus(status, { node: 'n-2' }, now)).toEqual({
      ok: true,
      lines: ['node n-2: alive, last heartbeat 1.5s ago (seen by n-1)'],
    });
    expect(checkStatus(status, { node: 'n-1' }, now).ok).toBe(true);
  });

  it('fails for a node the answering node has not heard from, naming the live ones', () => {
    expect(checkStatus(status, { node: 'n-9' }, now)).toEqual({
      ok: false,
      lines: ['node n-9: not among the live nodes seen by n-1 (n-1, n-2)'],
    });
  });

  it('passes for a ready or busy worker and fails for one that is not serving or unknown', () => {
    expect(checkStatus(status, { worker: 'g-0' }, now).ok).toBe(true);
    expect(checkStatus(status, { worker: 'g-1' }, now).lines).toEqual([
      'worker g-1: busy in pool general, last heartbeat 0.3s ago (seen by n-1)',
    ]);
    expect(checkStatus(status, { worker: 'g-2' }, now)).toEqual({
      ok: false,
      lines: ['worker g-2: draining in pool general, not serving (seen by n-1)'],
    });
    expect(checkStatus(status, { worker: 'g-9' }, now)).toEqual({
      ok: false,
      lines: ['worker g-9: not known to n-1'],
    });
  });

  it('needs every named check to pass', () => {
    const both = checkStatus(status, { node: 'n-1', worker: 'g-2' }, now);
    expect(both.ok).toBe(false);
    expect(both.lines).toHaveLength(2);
  });
});
