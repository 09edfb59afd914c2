import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { startRuntime } from '../harness/runtime.js';

describe('variables are durable', () => {
  const running: Array<Runtime | NatsServer> = [];
  let storeDir = '';
  afterAll(async () => {
    for (const r of running.reverse()) await r.stop();
    if (storeDir !== '') await rm(storeDir, { recursive: true, force: true });
  });

  it('keeps values and history through a server restart under live nodes, then a restart of everything', async () => {
    storeDir = await mkdtemp(join(tmpdir(), 'dspex-vars-'));
    // The first start picks a free port (-1, read from its ports file); restarts reuse it.
    let srv = await startNats({ storeDir });
    const port = srv.port;
    running.push(srv);
    const a = await startRuntime(srv.url, { nodeId: 'dur-a', pools: { general: { size: 1 } } });
    running.push(a);
    const b = await startRuntime(srv.url, { nodeId: 'dur-b', pools: { general: { size: 0 } } });
    running.push(b);

    await a.variables.define({
      name: 'temp',
      type: 'float',
      initial: 0.2,
      description: 'sampling temperature',
    });
    await a.variables.define<number>({
      name: 'double',
      type: 'float',
      derive: { from: ['temp'], fn: (i) => (i.temp as number) * 2 },
    });
    for (const [value, score] of [
      [0.4, 0.1],
      [0.6, 0.3],
    ] as const) {
      await b.variables.set('temp', value, { by: 'opt', score });
    }
    await eventually(() => expect(a.variables.peek('double')?.value).toBe(1.2));

    // 1. The server restarts (same store, same port) while both nodes and the worker stay up.
    await srv.stop();
    srv = await startNats({ storeDir, port });
    running.push(srv);
    const seen: unknown[] = [];
    a.variables.watch('temp', (r) => seen.push(r?.value));
    await eventually(() => b.variables.set('temp', 0.8, { by: 'opt', score: 0.5 }), { timeoutMs: 30_000 });
    // a's watch resumed: it sees b's write and recomputes the derived value.
    await eventually(() => expect(seen).toContain(0.8), { timeoutMs: 30_000 });
    await eventually(() => expect(b.variables.peek('double')?.value).toBe(1.6), { timeoutMs: 30_000 });
    // The node's Python worker reconnected too: calls run again.
    const reply = await eventually(
      () => a.predict({ module: 'Predict', signature: 'question -> answer', inputs: { question: 'back?' } }),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(reply.outputs.answer).toBeTypeOf('string');

    // 2. Every node and the server stop; a new server on the same store and a new node start.
    await b.stop();
    await a.stop();
    await srv.stop();
    srv = await startNats({ storeDir, port });
    running.push(srv);
    const c = await startRuntime(srv.url, { nodeId: 'dur-c', pools: { general: { size: 0 } } });
    running.push(c);

    expect(c.variables.peek('temp')).toMatchObject({
      value: 0.8,
      score: 0.5,
      by: 'opt',
      spec: { type: 'float', description: 'sampling temperature' },
    });
    expect((await c.variables.get('double')).value).toBe(1.6);
    const history = await c.variables.history('temp');
    expect(history.map((e) => [e.value, e.score, e.by])).toEqual([
      [0.2, undefined, undefined],
      [0.4, 0.1, 'opt'],
      [0.6, 0.3, 'opt'],
      [0.8, 0.5, 'opt'],
    ]);
    expect(history.map((e) => e.node)).toEqual(['dur-a', 'dur-b', 'dur-b', 'dur-b']);
    // And it accepts writes with compare-and-set on the restored revision.
    const current = await c.variables.get('temp');
    await expect(c.variables.set('temp', 1, { revision: current.revision })).resolves.toMatchObject({
      value: 1,
    });
  });
});
