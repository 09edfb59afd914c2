import { describe, expect, it } from 'vitest';
import { age, formatStatus, table } from '../../../src/cli/status-table.js';
import type { StatusReply } from '../../../src/protocol/schemas.js';

describe('table', () => {
  it('aligns columns and trims trailing spaces', () => {
    expect(
      table([
        ['A', 'LONG', 'C'],
        ['aaaa', 'b', ''],
      ]),
    ).toEqual(['A     LONG  C', 'aaaa  b']);
  });
});

describe('age', () => {
  it('says how long ago a timestamp was', () => {
    expect(age(10_000, 12_500)).toBe('2.5s ago');
    expect(age(0, 12_500)).toBe('-');
    expect(age(0 + 1, 1 + 3 * 3600_000)).toBe('3h ago');
  });
});

describe('formatStatus', () => {
  const now = 1_000_000;
  const status: StatusReply = {
    nodes: [
      { id: 'n-1', host: 'h1', pid: 10, started_at: now - 60_000, last_seen: now - 500, self: true },
      { id: 'n-2', host: 'h2', pid: 20, started_at: now - 5000, last_seen: now - 1000, self: false },
    ],
    pools: [
      {
        name: 'general',
        size: 1,
        concurrency: 4,
        queue: { length: 0, limit: 1000 },
        workers: [
          {
            id: 'general-1-0',
            state: 'ready',
            inflight: 0,
            calls: 3,
            host: 'h1',
            pid: 11,
            managed: true,
            node: 'n-1',
            rss_bytes: 200 * 1024 * 1024,
            last_seen: now - 200,
          },
          {
            id: 'general-remote',
            state: 'busy',
            inflight: 4,
            calls: 9,
            host: 'h3',
            pid: 31,
            managed: false,
            rss_bytes: 0,
            last_seen: now - 300,
          },
        ],
      },
      { name: 'optimizer', size: 0, concurrency: 4, queue: { length: 2, limit: 10 }, workers: [] },
    ],
  };

  it('prints nodes, pools and workers as aligned tables', () => {
    expect(formatStatus(status, now)).toEqual([
      'NODE            HOST  PID  STARTED   LAST SEEN',
      'n-1 (answered)  h1    10   1m ago    0.5s ago',
      'n-2             h2    20   5.0s ago  1.0s ago',
      '',
      'POOL       SIZE  CONCURRENCY  QUEUE   WORKERS  READY',
      'general    1     4            0/1000  2        2',
      'optimizer  0     4            2/10    0        0',
      '',
      'WORKER          POOL     STATE  INFLIGHT  CALLS  HOST  PID  SPAWNED BY  RSS     LAST SEEN',
      'general-1-0     general  ready  0         3      h1    11   n-1         200MiB  0.2s ago',
      'general-remote  general  busy   4         9      h3    31   (by hand)   -       0.3s ago',
    ]);
  });

  it('says so when there are no workers', () => {
    expect(formatStatus({ nodes: [], pools: [] }, now).at(-1)).toBe('no workers');
  });
});
