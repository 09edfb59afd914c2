import { describe, expect, it } from 'vitest';
import { openBucket } from '../../src/nats/kv-bucket.js';
import { client, startNats } from '../harness/nats.js';

describe('openBucket', () => {
  it('lets many nodes create the same bucket at the same moment', async () => {
    await using srv = await startNats();
    const conns = await Promise.all(Array.from({ length: 6 }, () => client(srv.url)));
    try {
      for (let round = 0; round < 5; round++) {
        const name = `race_${round}`;
        const buckets = await Promise.all(
          conns.map((nc) => openBucket(nc, name, { history: 1, ttl: 60_000 })),
        );
        await buckets[0]!.put('k', 'v');
        expect((await buckets[5]!.get('k'))?.string()).toBe('v');
      }
    } finally {
      await Promise.all(conns.map((nc) => nc.close()));
    }
  });
});
