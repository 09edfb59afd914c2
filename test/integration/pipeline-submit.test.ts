/**
 * Submitting runs against a real nats-server: the run record is created with `kv.create`, so of two
 * concurrent submits with one run id exactly one is accepted and the other gets a 409 naming `run_id`.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DspexError, ErrorCode, errorStatus } from '../../src/errors.js';
import { createPipelineEngine, type PipelineEngine } from '../../src/pipelines/engine.js';
import type { PipelineSpec } from '../../src/protocol/pipelines.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';

const spec: PipelineSpec = { name: 'p', stages: [{ id: 'a', kind: 'fn', fn: 'echo', inputs: {} }] };

describe('submitting pipeline runs', () => {
  let srv: NatsServer;
  let nc: NatsConnection & AsyncDisposable;
  let engine: PipelineEngine;

  beforeAll(async () => {
    srv = await startNats();
    nc = await client(srv.url);
    engine = await createPipelineEngine({
      nc,
      nodeId: 'node-p',
      // No runner: jobs stay on the stream, so the test sees what the submits left there.
      options: { runner: false, storage: 'memory' },
      predict: () => Promise.reject(new Error('no predictions in this test')),
    });
    engine.register('echo', () => Promise.resolve({ value: 1 }));
  });
  afterAll(async () => {
    await engine?.stop();
    await nc?.close();
    await srv?.stop();
  });

  it('accepts one of two concurrent submits with one run id; the other gets a 409 naming run_id', async () => {
    const outcomes = await Promise.allSettled([
      engine.submit(spec, {}, { runId: 'twice-1' }),
      engine.submit(spec, {}, { runId: 'twice-1' }),
    ]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const error: unknown = rejected[0]!.reason;
    expect(error).toBeInstanceOf(DspexError);
    expect(error).toMatchObject({
      code: ErrorCode.RevisionConflict,
      message: 'run "twice-1" already exists',
      details: { field: 'run_id' },
    });
    expect(errorStatus[(error as DspexError).code]).toBe(409);

    expect(await engine.get('twice-1')).toMatchObject({ run_id: 'twice-1', status: 'queued', attempt: 0 });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(engine.store.names.stream);
    expect(info.state.messages).toBe(1);
  });

  it('refuses a local run whose id another run already has', async () => {
    await engine.submit(spec, {}, { runId: 'taken-1' });
    const error = await engine.run(spec, {}, { runId: 'taken-1', durable: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: ErrorCode.RevisionConflict, details: { field: 'run_id' } });
    expect(await engine.get('taken-1')).toMatchObject({ status: 'queued' });
  });
});
