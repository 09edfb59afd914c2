import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders, type Msg } from '@nats-io/nats-core';
import fc from 'fast-check';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  deriveWorkerKey,
  heartbeatMac,
  loadWorkerSecrets,
  RejectReason,
  replyMac,
  WorkerIdentity,
} from '../../../src/workers/identity.js';

interface Vectors {
  secret_utf8: string;
  vectors: Array<{
    worker: string;
    key: string;
    heartbeat: { subject: string; body_hex: string; sig: string };
    replies: Array<{ subject: string; code: string; body_hex: string; sig: string }>;
  }>;
}
const VECTORS = JSON.parse(
  readFileSync(new URL('../../../fixtures/identity/vectors.json', import.meta.url), 'utf8'),
) as Vectors;

const SECRET = Buffer.from('unit-test-cluster-secret-0123456789');
const NOW = 1_800_000_000_000;

function identity(secret: Buffer | null = SECRET): WorkerIdentity {
  return new WorkerIdentity({
    secrets: secret === null ? undefined : [secret],
    logger: pino({ level: 'silent' }),
    rejected: new Counter({
      name: 'r',
      help: 'r',
      labelNames: ['kind', 'reason'],
      registers: [new Registry()],
    }),
    now: () => NOW,
  });
}

/** A reply as the dispatcher receives it: only `data` and `headers` are read. */
function reply(data: Uint8Array, h: Record<string, string>): Msg {
  const hdrs = natsHeaders();
  for (const [k, v] of Object.entries(h)) hdrs.set(k, v);
  return { subject: 'x', data, headers: hdrs } as unknown as Msg;
}

const workerId = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
const bytes = fc.uint8Array({ maxLength: 300 });
const inbox = fc.stringMatching(/^_INBOX_node\.[A-Za-z0-9]{4,22}\.[0-9a-z]{1,6}$/);
const code = fc.constantFrom('', '400', '422', '429', '500', '503');

describe('worker identity', () => {
  it('matches the shared test vectors (the Python suite checks the same file)', () => {
    const secret = Buffer.from(VECTORS.secret_utf8, 'utf8');
    for (const v of VECTORS.vectors) {
      const key = deriveWorkerKey(secret, v.worker);
      expect(key.toString('hex')).toBe(v.key);
      const hb = v.heartbeat;
      expect(heartbeatMac(key, hb.subject, Buffer.from(hb.body_hex, 'hex')).toString('hex')).toBe(hb.sig);
      for (const r of v.replies) {
        expect(
          replyMac(key, r.subject, v.worker, r.code, Buffer.from(r.body_hex, 'hex')).toString('hex'),
        ).toBe(r.sig);
      }
    }
  });

  it('accepts a reply signed by the called worker and nothing a rogue can make without its key', () => {
    const id = identity();
    fc.assert(
      fc.property(
        workerId,
        workerId,
        inbox,
        code,
        bytes,
        fc.string(),
        (worker, other, subject, c, body, junk) => {
          const key = deriveWorkerKey(SECRET, worker);
          const sig = replyMac(key, subject, worker, c, body).toString('hex');
          const h = (s: string, w = worker) => ({
            'Dspex-Sig': s,
            'Dspex-Worker': w,
            ...(c !== '' && { 'Nats-Service-Error-Code': c }),
          });
          expect(id.checkReply(subject, reply(body, h(sig)), worker)).toBeUndefined();
          // Queue-group replies: the header names the signer.
          expect(id.checkReply(subject, reply(body, h(sig)), undefined)).toBeUndefined();
          // Unsigned, random, or signed with another worker's key (a genuine worker answering for another).
          expect(id.checkReply(subject, reply(body, { 'Dspex-Worker': worker }), worker)).toBe(
            RejectReason.Unsigned,
          );
          expect(id.checkReply(subject, reply(body, h(junk.replace(/\s/g, '') || 'x')), worker)).toBe(
            RejectReason.BadSignature,
          );
          if (other !== worker) {
            const otherSig = replyMac(deriveWorkerKey(SECRET, other), subject, other, c, body).toString(
              'hex',
            );
            expect(id.checkReply(subject, reply(body, h(otherSig, other)), worker)).toBe(
              RejectReason.WrongWorker,
            );
            expect(id.checkReply(subject, reply(body, h(otherSig, worker)), worker)).toBe(
              RejectReason.BadSignature,
            );
          }
          // A genuine signature replayed onto another inbox, with another code, or over another body.
          expect(id.checkReply(`${subject}0`, reply(body, h(sig)), worker)).toBe(RejectReason.BadSignature);
          const otherCode = c === '' ? '500' : '';
          expect(
            id.checkReply(subject, reply(body, { ...h(sig), 'Nats-Service-Error-Code': otherCode }), worker),
          ).toBe(RejectReason.BadSignature);
          const flipped = Uint8Array.from([...body, 0]);
          expect(id.checkReply(subject, reply(flipped, h(sig)), worker)).toBe(RejectReason.BadSignature);
          // A key derived from another secret.
          const foreign = replyMac(
            deriveWorkerKey(Buffer.from('x'.repeat(32)), worker),
            subject,
            worker,
            c,
            body,
          );
          expect(id.checkReply(subject, reply(body, h(foreign.toString('hex'))), worker)).toBe(
            RejectReason.BadSignature,
          );
        },
      ),
      { numRuns: 300, seed: 9 },
    );
  });

  it('accepts heartbeats signed for their subject’s worker and refuses forgeries', () => {
    const id = identity();
    fc.assert(
      fc.property(
        workerId,
        workerId,
        bytes,
        fc.stringMatching(/^[0-9a-f]{64}$/),
        (worker, other, body, junk) => {
          const subject = `dspex.hb.worker.${worker}`;
          const sig = heartbeatMac(deriveWorkerKey(SECRET, worker), subject, body).toString('hex');
          const h = (s: string) => reply(body, { 'Dspex-Sig': s }).headers;
          expect(id.checkHeartbeatSignature(subject, body, h(sig))).toBeUndefined();
          expect(id.checkHeartbeatSignature(subject, body, undefined)).toBe(RejectReason.Unsigned);
          expect(id.checkHeartbeatSignature(subject, body, h(junk))).toBe(RejectReason.BadSignature);
          if (other !== worker) {
            // Signed by a genuine worker in another worker's name.
            const otherSubject = `dspex.hb.worker.${other}`;
            expect(id.checkHeartbeatSignature(otherSubject, body, h(sig))).toBe(RejectReason.BadSignature);
            const own = heartbeatMac(deriveWorkerKey(SECRET, other), otherSubject, body).toString('hex');
            expect(id.checkHeartbeatSignature(subject, body, h(own))).toBe(RejectReason.BadSignature);
          }
          expect(id.checkHeartbeatSignature(subject, Uint8Array.from([...body, 1]), h(sig))).toBe(
            RejectReason.BadSignature,
          );
        },
      ),
      { numRuns: 300, seed: 9 },
    );
  });

  it('accepts only heartbeats newer than the last accepted one of a worker (replays refused)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ started: fc.integer({ min: 0, max: 3 }), seq: fc.integer({ min: 0, max: 20 }) }),
          {
            maxLength: 60,
          },
        ),
        (beats) => {
          const id = identity();
          let last: [number, number] | undefined;
          for (const b of beats) {
            const hb = { id: 'w-1', started_at: NOW - 10_000 + b.started, ts: NOW, seq: b.seq };
            const newer =
              last === undefined || b.started > last[0] || (b.started === last[0] && b.seq > last[1]);
            expect(id.checkHeartbeatBody('dspex.hb.worker.w-1', hb)).toBe(
              newer ? undefined : RejectReason.Replay,
            );
            if (newer) last = [b.started, b.seq];
          }
        },
      ),
      { numRuns: 200, seed: 9 },
    );
  });

  it('refuses stale, unsequenced and misaddressed heartbeats', () => {
    const id = identity();
    const hb = { id: 'w-2', started_at: NOW, ts: NOW, seq: 1 };
    expect(id.checkHeartbeatBody('dspex.hb.worker.w-3', hb)).toBe(RejectReason.WrongWorker);
    expect(id.checkHeartbeatBody('dspex.hb.worker.w-2', { ...hb, seq: undefined })).toBe(
      RejectReason.Unsigned,
    );
    expect(id.checkHeartbeatBody('dspex.hb.worker.w-2', { ...hb, ts: NOW - 121_000 })).toBe(
      RejectReason.Stale,
    );
    expect(id.checkHeartbeatBody('dspex.hb.worker.w-2', { ...hb, ts: NOW + 121_000 })).toBe(
      RejectReason.Stale,
    );
    expect(id.checkHeartbeatBody('dspex.hb.worker.w-2', hb)).toBeUndefined();
  });

  it('checks nothing but the addressing in open mode', () => {
    const id = identity(null);
    expect(id.enforced).toBe(false);
    const body = new Uint8Array([1]);
    expect(id.checkHeartbeatSignature('dspex.hb.worker.w', body, undefined)).toBeUndefined();
    expect(id.checkReply('_INBOX_node.a.1', reply(body, {}), 'w')).toBeUndefined();
    expect(id.checkHeartbeatBody('dspex.hb.worker.w', { id: 'w', started_at: 0, ts: 0 })).toBeUndefined();
    expect(id.checkHeartbeatBody('dspex.hb.worker.w', { id: 'v', started_at: 0, ts: 0 })).toBe(
      RejectReason.WrongWorker,
    );
  });

  it('accepts keys of previous secrets during a rotation, and gives local workers the current one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dspex-secret-'));
    const file = join(dir, 'secret');
    const current = 'the-new-cluster-secret-0000000001';
    const previous = 'the-old-cluster-secret-0000000000';
    writeFileSync(file, `# rotated 2026-12-01\n${current}\n\n${previous}\n`);
    const secrets = loadWorkerSecrets(undefined, file)!;
    expect(secrets.map(String)).toEqual([current, previous]);
    const id = new WorkerIdentity({
      secrets,
      logger: pino({ level: 'silent' }),
      rejected: new Counter({
        name: 'r',
        help: 'r',
        labelNames: ['kind', 'reason'],
        registers: [new Registry()],
      }),
    });
    expect(id.keyOf('w-1')).toEqual(deriveWorkerKey(Buffer.from(current), 'w-1'));
    const body = new Uint8Array([1, 2, 3]);
    for (const s of [current, previous]) {
      const sig = heartbeatMac(deriveWorkerKey(Buffer.from(s), 'w-1'), 'dspex.hb.worker.w-1', body).toString(
        'hex',
      );
      expect(
        id.checkHeartbeatSignature('dspex.hb.worker.w-1', body, reply(body, { 'Dspex-Sig': sig }).headers),
      ).toBe(undefined);
    }
    const retired = heartbeatMac(
      deriveWorkerKey(Buffer.from('a-retired-secret-00000000'), 'w-1'),
      'dspex.hb.worker.w-1',
      body,
    );
    expect(
      id.checkHeartbeatSignature(
        'dspex.hb.worker.w-1',
        body,
        reply(body, { 'Dspex-Sig': retired.toString('hex') }).headers,
      ),
    ).toBe(RejectReason.BadSignature);
    rmSync(dir, { recursive: true });
  });

  it('refuses a short secret and names where it came from', () => {
    expect(() => loadWorkerSecrets('too-short', undefined)).toThrow(/at least 16 bytes/);
    expect(() => loadWorkerSecrets(undefined, '/no/such/file')).toThrow(/worker.secretFile: cannot read/);
    expect(loadWorkerSecrets(undefined, undefined)).toBeUndefined();
    expect(loadWorkerSecrets('a'.repeat(16), undefined)?.[0]?.length).toBe(16);
  });
});
