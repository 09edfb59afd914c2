import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { eventually } from '../harness/eventually.js';
import { client, startCluster, startNats } from '../harness/nats.js';

describe('nats test harness', () => {
  it('starts a JetStream server on a free port and removes it on dispose', async () => {
    let pid: number;
    {
      await using srv = await startNats();
      pid = srv.pid;
      await using nc = await client(srv.url);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.getAccountInfo();
      expect(info.limits).toBeDefined();
    }
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('routes messages between the servers of a cluster', async () => {
    await using cluster = await startCluster(3);
    await using a = await client(cluster.urls[0]!);
    await using c = await client(cluster.urls[2]!);
    const sub = c.subscribe('x.ping', { max: 1 });
    await c.flush();
    const got = (async () => {
      for await (const m of sub) return m.string();
      return undefined;
    })();
    let received: string | undefined;
    void got.then((r) => (received = r));
    // Route interest takes a moment to propagate across the cluster: publish until it arrives.
    await eventually(
      async () => {
        a.publish('x.ping', 'hello');
        await a.flush();
        await c.flush();
        expect(received).toBe('hello');
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  });
});
