import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
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
    // Route interest takes a moment to propagate across the cluster.
    for (let i = 0; i < 50; i++) {
      a.publish('x.ping', 'hello');
      const r = await Promise.race([got, new Promise((r) => setTimeout(r, 100))]);
      if (r !== undefined) {
        expect(r).toBe('hello');
        return;
      }
    }
    throw new Error('message never crossed the cluster');
  });
});
