import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

describe('session affinity across nodes', () => {
  let srv: NatsServer;
  let a: Runtime;
  let b: Runtime;

  beforeAll(async () => {
    srv = await startNats();
    a = await startRuntime(srv.url, { pools: { general: { size: 2, env: { DSPEX_DUMMY_DELAY_MS: '40' } } } });
    // Node B runs no workers: it routes to node A's, which it knows from their heartbeats.
    b = await startRuntime(srv.url, { pools: { general: { size: 0 } }, serve: false });
    await b.waitForWorkers('general', 2, 30_000);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await srv?.stop();
  });

  it('continues a session on the worker another node chose for it', async () => {
    const ids = ['s-1', 's-2', 's-3', 's-4'];
    for (const id of ids) await a.sessions.open({ id });
    // Concurrent first calls on node A spread the sessions over both workers.
    const first = await Promise.all(
      ids.map((id) =>
        a.predict({
          module: 'Predict',
          signature: 'question -> answer',
          inputs: { question: `hi ${id}` },
          session: id,
        }),
      ),
    );
    expect(new Set(first.map((r) => r.worker)).size).toBe(2);
    await eventually(async () => {
      for (const [i, id] of ids.entries()) {
        expect((await a.sessions.get(id)).affinity?.worker).toBe(first[i]!.worker);
      }
    });
    for (const [i, id] of ids.entries()) {
      const again = await b.predict({
        module: 'Predict',
        signature: 'question -> answer',
        inputs: { question: `again ${id}` },
        session: id,
      });
      expect(again.worker).toBe(first[i]!.worker);
    }
  });
});
