/**
 * No worker outlives its node: a `dspex node` process killed with SIGKILL while its workers run
 * long calls leaves no zygote and no worker behind (the zygote hears of it through
 * PR_SET_PDEATHSIG and stdin EOF, and gives orphaned workers 2 s instead of a 30 s drain).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startNodeProcess, type NodeProcess } from '../harness/node-process.js';
import { alive, pidsMatching } from '../harness/process.js';

describe('worker lifetime', () => {
  let srv: NatsServer;
  let client: Client;

  beforeAll(async () => {
    srv = await startNats();
    client = await createClient({ servers: srv.url });
  });

  afterAll(async () => {
    await client?.close();
    await srv?.stop();
  });

  it('kill -9 of a node with calls in flight leaves none of its workers or its zygote alive', async () => {
    const nodeId = `n-kill-${randomBytes(4).toString('hex')}`;
    let node: NodeProcess | undefined = await startNodeProcess({
      nats: srv.url,
      nodeId,
      config: {
        // Calls far longer than the old 30 s drain: only an orphan rule ends these workers soon.
        pools: { general: { size: 2, concurrency: 2, env: { DSPEX_DUMMY_DELAY_MS: '120000' } } },
      },
    });
    try {
      const ready = async (): Promise<number[]> => {
        const pool = (await client.status()).pools.find((p) => p.name === 'general');
        const workers = (pool?.workers ?? []).filter((w) => w.state === 'ready' || w.state === 'busy');
        expect(workers).toHaveLength(2);
        return workers.map((w) => w.pid ?? 0);
      };
      const workerPids = await eventually(ready, { timeoutMs: 120_000, intervalMs: 250 });
      // The zygote and its forks share the zygote's command line, which names this node.
      const family = pidsMatching(`--node ${nodeId}`);
      for (const pid of workerPids) expect(family).toContain(pid);
      expect(family.length).toBeGreaterThanOrEqual(3);

      const calls = Array.from({ length: 4 }, (_, i) =>
        client
          .predict(
            { module: 'Predict', signature: 'question -> answer', inputs: { question: `long ${i}` } },
            { deadline: Date.now() + 300_000 },
          )
          .catch((error: unknown) => error),
      );
      await eventually(
        async () => {
          const pool = (await client.status()).pools.find((p) => p.name === 'general')!;
          expect(pool.workers.reduce((n, w) => n + w.inflight, 0)).toBe(4);
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );

      process.kill(node.pid, 'SIGKILL');
      await node.exited;
      node = undefined;
      // Before: the zygote gave them its whole drain (30 s + 2 s) for calls nobody waits for any more.
      await eventually(() => expect(family.filter(alive)).toEqual([]), {
        timeoutMs: 25_000,
        intervalMs: 100,
      });
      void calls; // they fail once nobody serves them; nothing waits for them here
    } finally {
      await node?.stop();
      for (const pid of pidsMatching(`--node ${nodeId}`)) process.kill(pid, 'SIGKILL');
    }
  }, 200_000);
});
