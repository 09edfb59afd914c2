/**
 * The orchestrator actor under its supervisor, against a real nats-server: an actor that crashes
 * (its resize effect throws) is restarted, reloads the shared patterns from KV and goes on shrinking
 * idle pools; past the intensity the supervisor gives up and the orchestrator still plans.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORCHESTRATOR_ACTOR, Orchestrator, type PoolView } from '../../src/orchestrator/orchestrator.js';
import { patternKey } from '../../src/orchestrator/pattern-store.js';
import { encode, Encoding } from '../../src/protocol/codec.js';
import { selectChildren } from '../../src/supervisors/supervisor-machine.js';
import type { SupervisorEmitted } from '../../src/supervisors/types.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';

const task = { module: 'Predict', signature: 'question -> answer', pool: 'general' };

function setup(
  prefix: string,
  faults: { resize: number },
  intensity?: { maxRestarts: number; periodMs: number },
) {
  const views: Record<string, PoolView> = {
    general: { capacity: 2, queued: 0, size: 2, baseSize: 1, maxSize: 3, concurrency: 1, inflight: 1 },
  };
  const orchestrator = new Orchestrator({
    nodeId: 'n1',
    prefix,
    logger: pino({ level: 'silent' }),
    predict: () => Promise.reject(new Error('no predictions in this test')),
    pool: (name) => views[name],
    resize: (pool, size) => {
      if (faults.resize > 0) {
        faults.resize--;
        throw new Error('injected fault in resize');
      }
      views[pool]!.size = size;
    },
    // Patterns are re-read only when the actor (re)starts, not by the store's own timer.
    supervision: { tickMs: 20, idleMs: 0, patternFlushMs: 3_600_000, ...(intensity && { intensity }) },
  });
  return { orchestrator, views };
}

describe('the orchestrator actor under supervision', () => {
  let srv: NatsServer;
  let nc: NatsConnection & AsyncDisposable;

  beforeAll(async () => {
    srv = await startNats();
    nc = await client(srv.url);
  });
  afterAll(async () => {
    await nc?.close();
    await srv?.stop();
  });

  it('restarts a crashed orchestrator actor, which reloads the shared patterns and shrinks idle pools', async () => {
    const faults = { resize: 1 };
    const { orchestrator, views } = setup('orch_a', faults);
    await orchestrator.start(nc, () => ['general']);
    try {
      // Another node learns the task after this one loaded the patterns.
      const kv = await new Kvm(nc).open('orch_a_patterns');
      const key = patternKey(task.pool, task.module, task.signature);
      await kv.put(
        `${key}.n2`,
        encode(
          {
            node: 'n2',
            key,
            ewma_ms: 120,
            p50_ms: 110,
            p95_ms: 200,
            error_rate: 0,
            count: 7,
            at: Date.now(),
          },
          Encoding.Msgpack,
        ),
      );
      expect(orchestrator.estimate(task).basis).toBe('none');

      // The pool idles: the next tick shrinks it, the resize throws, the actor crashes.
      views.general!.inflight = 0;
      await eventually(() => expect(views.general!.size).toBe(1));

      expect(faults.resize).toBe(0);
      expect(selectChildren(orchestrator.supervisor!.getSnapshot())).toEqual([
        { id: ORCHESTRATOR_ACTOR, restart: 'permanent', restarts: 1, status: 'running' },
      ]);
      // The restarted actor reloaded what the other node learnt.
      expect(orchestrator.estimate(task)).toMatchObject({ basis: 'cluster', latencyMs: 120, samples: 7 });
    } finally {
      await orchestrator.stop();
    }
  });

  it('escalates past its restart intensity; the orchestrator still plans without its actor', async () => {
    const faults = { resize: Infinity };
    const { orchestrator, views } = setup('orch_b', faults, { maxRestarts: 2, periodMs: 60_000 });
    views.general!.inflight = 0;
    await orchestrator.start(nc, () => ['general']);
    try {
      const root = orchestrator.supervisor!;
      const emitted: SupervisorEmitted[] = [];
      root.on('*', (event) => emitted.push(event));

      await eventually(() => expect(root.getSnapshot().status).toBe('done'));
      expect(root.getSnapshot().output).toEqual({
        status: 'crashed',
        reason: 'restart intensity exceeded',
        supervisor: 'n1.orchestrator',
        lastFailure: { child: ORCHESTRATOR_ACTOR, reason: 'injected fault in resize' },
      });
      expect(emitted.filter((e) => e.type === 'supervisor.escalated')).toHaveLength(1);
      expect(views.general!.size).toBe(2);
      expect(orchestrator.plan({ ...task, inputs: [{ question: 'q' }] })).toMatchObject({ parallelism: 1 });
    } finally {
      await orchestrator.stop();
    }
  });
});
