/**
 * Session actors under supervision, against a real nats-server: a session actor that crashes (a
 * throwing action, injected with `.provide()`) is restarted from its KV record; changes waiting on it
 * reach the restarted actor; past the intensity the `actors` supervisor escalates to the store's root.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DspexError, ErrorCode } from '../../src/errors.js';
import { sessionMachine, type SessionActorRef } from '../../src/sessions/session-machine.js';
import { createSessionStore, SESSION_ACTORS, type SessionStore } from '../../src/sessions/store.js';
import {
  selectChildRef,
  selectChildren,
  type SupervisorActorRef,
} from '../../src/supervisors/supervisor-machine.js';
import { eventually } from '../harness/eventually.js';
import { client, startNats, type NatsServer } from '../harness/nats.js';

/** A session logic whose `settle` action throws while `faults.remaining > 0`. */
function faultyLogic(faults: { remaining: number }) {
  return sessionMachine.provide({
    actions: {
      settle: (_, params) => {
        if (faults.remaining > 0) {
          faults.remaining--;
          throw new Error('injected fault in settle');
        }
        params.job?.settle(params.outcome);
      },
    },
  });
}

function actorsOf(store: SessionStore): SupervisorActorRef {
  const ref = selectChildRef(store.root.getSnapshot(), SESSION_ACTORS) as SupervisorActorRef | undefined;
  if (ref === undefined) throw new Error('no actors supervisor');
  return ref;
}

function sessionChild(store: SessionStore, session: string) {
  const actors = actorsOf(store);
  const info = selectChildren(actors.getSnapshot()).find((child) => child.id.startsWith(`${session}#`));
  if (info === undefined) throw new Error(`no actor for ${session}`);
  return { info, ref: selectChildRef(actors.getSnapshot(), info.id) as SessionActorRef | undefined };
}

async function rejection(promise: Promise<unknown>): Promise<DspexError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof DspexError)) throw new Error(`expected a DspexError, got ${String(error)}`);
  return error;
}

describe('session actors under supervision', () => {
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

  it('restarts a crashed session actor from its KV record', async () => {
    const faults = { remaining: 0 };
    await using store = await createSessionStore({
      nc,
      nodeId: 'node-s1',
      options: { bucket: 'sessions_crash', storage: 'memory' },
      supervision: { logic: faultyLogic(faults) },
    });
    await store.open({ id: 'crash-1', state: { a: 1 } });

    faults.remaining = 1;
    const error = await rejection(store.update('crash-1', { state: { b: 2 } }));
    expect(error.code).toBe(ErrorCode.Unavailable);
    expect(error.message).toMatch(/crashed while applying this change/);

    // Restarted under the same child id, and the new instance loaded the record the crashed one wrote.
    const kv = await new Kvm(nc).open('sessions_crash');
    const entry = await kv.get('crash-1');
    const restarted = await eventually(() => {
      const { info, ref } = sessionChild(store, 'crash-1');
      expect(info).toMatchObject({ restarts: 1, status: 'running', restart: 'transient' });
      expect(ref?.getSnapshot().value).toBe('idle');
      return ref!;
    });
    expect(restarted.getSnapshot().context.stored).toMatchObject({
      revision: entry?.revision,
      record: { id: 'crash-1', state: { a: 1, b: 2 } },
    });

    // It keeps serving the session.
    const next = await store.update('crash-1', { state: { c: 3 } });
    expect(next.state).toEqual({ a: 1, b: 2, c: 3 });
    expect((await store.get('crash-1')).state).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('hands the changes waiting on a crashed actor to its restarted instance, in order', async () => {
    const faults = { remaining: 0 };
    await using store = await createSessionStore({
      nc,
      nodeId: 'node-s2',
      options: { bucket: 'sessions_queue', storage: 'memory' },
      supervision: { logic: faultyLogic(faults) },
    });
    await store.open({ id: 'queue-1', state: {} });

    faults.remaining = 1;
    const first = store.update('queue-1', { state: { n: 1 } });
    const second = store.update('queue-1', { state: { n: 2, second: true } });
    const third = store.update('queue-1', { state: { n: 3 } });
    expect((await rejection(first)).code).toBe(ErrorCode.Unavailable);
    expect((await second).state).toEqual({ n: 2, second: true });
    expect((await third).state).toEqual({ n: 3, second: true });
    expect(sessionChild(store, 'queue-1').info.restarts).toBe(1);
  });

  it('escalates past its restart intensity, and the root restarts the session actors from KV', async () => {
    const faults = { remaining: 0 };
    await using store = await createSessionStore({
      nc,
      nodeId: 'node-s3',
      options: { bucket: 'sessions_escalate', storage: 'memory' },
      supervision: { logic: faultyLogic(faults), intensity: { maxRestarts: 1, periodMs: 60_000 } },
    });
    await store.open({ id: 'esc-1', state: { kept: true } });
    const firstActors = actorsOf(store);
    const escalated: unknown[] = [];
    firstActors.on('supervisor.escalated', (event) => escalated.push(event));

    faults.remaining = 2;
    expect((await rejection(store.update('esc-1', { state: { n: 1 } }))).code).toBe(ErrorCode.Unavailable);
    await eventually(() => expect(sessionChild(store, 'esc-1').ref?.getSnapshot().value).toBe('idle'));
    expect(escalated).toEqual([]);
    const sessionChildId = sessionChild(store, 'esc-1').info.id;
    const second = await rejection(store.update('esc-1', { state: { n: 2 } }));
    expect(second.code).toBe(ErrorCode.Unavailable);

    expect(escalated).toEqual([
      {
        type: 'supervisor.escalated',
        id: 'node-s3.sessions.actors',
        lastFailure: { child: sessionChildId, reason: 'injected fault in settle' },
      },
    ]);
    expect(firstActors.getSnapshot().status).toBe('done');
    expect(firstActors.getSnapshot().output).toMatchObject({
      status: 'crashed',
      reason: 'restart intensity exceeded',
    });
    expect(selectChildren(store.root.getSnapshot())).toEqual([
      { id: SESSION_ACTORS, restart: 'permanent', restarts: 1, status: 'running' },
    ]);
    expect(actorsOf(store)).not.toBe(firstActors);

    // A fresh actors supervisor and a fresh session actor, recovered from the record in KV.
    const after = await store.update('esc-1', { state: { n: 3 } });
    expect(after.state).toEqual({ kept: true, n: 3 });
    expect(sessionChild(store, 'esc-1').info.restarts).toBe(0);
  });

  it('fails for good, answering 503, once the root gives up too', async () => {
    const faults = { remaining: 1 };
    await using store = await createSessionStore({
      nc,
      nodeId: 'node-s4',
      options: { bucket: 'sessions_give_up', storage: 'memory' },
      supervision: {
        logic: faultyLogic(faults),
        intensity: { maxRestarts: 0, periodMs: 60_000 },
        rootIntensity: { maxRestarts: 0, periodMs: 60_000 },
      },
    });
    expect((await rejection(store.open({ id: 'gone-1' }))).code).toBe(ErrorCode.Unavailable);

    expect(store.root.getSnapshot().output).toMatchObject({
      status: 'crashed',
      supervisor: 'node-s4.sessions',
      lastFailure: { child: SESSION_ACTORS },
    });
    const after = await rejection(store.open({ id: 'gone-2' }));
    expect(after).toMatchObject({ code: ErrorCode.Unavailable, message: 'the session store failed' });
  });
});
