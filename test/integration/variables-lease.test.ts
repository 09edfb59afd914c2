import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index.js';
import { eventually } from '../harness/eventually.js';
import { startNats, type NatsServer } from '../harness/nats.js';
import { alive } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

const root = new URL('../..', import.meta.url).pathname;
const TTL = 3000;

/**
 * A separate Node process that takes the lease of `target` as `victim`, writes under it, prints
 * `HELD`, and keeps renewing until it is killed.
 */
const HOLDER = `
const { connect } = await import('@nats-io/transport-node');
const { createVariableStore } = await import('./src/variables/store.js');
const nc = await connect({ servers: process.env.NATS_URL });
const store = await createVariableStore({ nc, nodeId: 'holder', options: { leaseTtlMs: ${TTL} } });
const lease = await store.acquire('target', { holder: 'victim' });
await store.set('target', 2, { lease, score: 0.25 });
console.log('HELD ' + lease.revision('target'));
setInterval(() => {}, 1000);
`;

function startHolder(url: string): { child: ChildProcess; held: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', HOLDER], {
    cwd: root,
    env: { ...process.env, NATS_URL: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const held = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('HELD')) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return { child, held };
}

describe('optimizer leases', () => {
  let srv: NatsServer;
  let rt: Runtime;
  let holder: ChildProcess | undefined;

  beforeAll(async () => {
    srv = await startNats();
    rt = await startRuntime(srv.url, {
      nodeId: 'survivor',
      pools: { general: { size: 0 } },
      variables: { leaseTtlMs: TTL },
    });
  });
  afterAll(async () => {
    if (holder?.pid !== undefined && alive(holder.pid)) holder.kill('SIGKILL');
    await rt?.stop();
    await srv?.stop();
  });

  it('expires the lease of a holder killed with SIGKILL, and not while it lives', async () => {
    await rt.variables.define({ name: 'target', type: 'int', initial: 1 });
    const h = startHolder(srv.url);
    holder = h.child;
    await h.held;
    expect(rt.variables.leaseTtlMs).toBe(TTL);

    // Alive and renewing: the lease outlasts its TTL and other writers are refused.
    await new Promise((r) => setTimeout(r, TTL * 1.7));
    await expect(rt.variables.set('target', 3)).rejects.toMatchObject({
      code: 'revision_conflict',
      details: { reason: 'lease_held', holder: 'victim', node: 'holder' },
    });
    expect((await rt.variables.describe('target')).lease).toMatchObject({
      holder: 'victim',
      pid: h.child.pid,
    });

    h.child.kill('SIGKILL');
    await eventually(() => expect(alive(h.child.pid!)).toBe(false));
    // Right after the kill the lease still stands; it goes once its TTL passes without renewal.
    await expect(rt.variables.acquire('target', { holder: 'heir' })).rejects.toMatchObject({
      details: { reason: 'lease_held', holder: 'victim' },
    });
    const lease = await rt.variables.acquire('target', { holder: 'heir', waitMs: TTL * 5 });
    expect(lease.held).toBe(true);
    const record = await rt.variables.set('target', 4, { lease, score: 0.5 });
    expect(record).toMatchObject({ value: 4, by: 'heir', lease: lease.revision('target') });
    await lease.release();

    const history = await rt.variables.history('target');
    expect(history.map((e) => [e.value, e.by, e.score])).toEqual([
      [1, undefined, undefined],
      [2, 'victim', 0.25],
      [4, 'heir', 0.5],
    ]);
  });

  it('keeps a lease alive through renewals and ends it on release', async () => {
    await rt.variables.define({ name: 'other', type: 'int', initial: 1 });
    const lease = await rt.variables.acquire(['other'], { holder: 'renewer' });
    const first = lease.revision('other')!;
    await eventually(() => expect(lease.revision('other')).toBeGreaterThan(first), { timeoutMs: TTL * 3 });
    expect(lease.held).toBe(true);
    await lease.release();
    expect(lease.held).toBe(false);
    expect(lease.signal.reason).toBe('released');
    expect((await rt.variables.describe('other')).lease).toBeNull();
  });
});
