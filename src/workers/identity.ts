/**
 * Worker identity: who may speak for a worker id. With a cluster worker secret configured, every
 * worker holds a key bound to its id, `HMAC-SHA256(secret, "dspex-worker:" + id)`, and signs its
 * heartbeats and replies with it; nodes hold the secret, derive the key of the id a message claims,
 * and drop what does not verify (docs/security.md). Without a secret, nothing is checked (open mode).
 * During a rotation a node also accepts keys derived from previous secrets.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { DspexError, ErrorCode } from '../errors.js';
import { isName, NameKind } from '../protocol/names.js';

/** Header carrying the hex HMAC of a heartbeat or a reply. */
export const SIGNATURE_HEADER = 'Dspex-Sig';
/** Header naming the worker that signed a reply (needed where the caller did not pick the worker). */
export const WORKER_HEADER = 'Dspex-Worker';
const ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

/** Shortest cluster secret accepted, bytes (128 bits of a random hex or base64 string). */
export const MIN_SECRET_BYTES = 16;

/** The key of worker `id`: what a node derives and a worker holds. */
export function deriveWorkerKey(secret: Uint8Array, id: string): Buffer {
  return createHmac('sha256', secret).update(`dspex-worker:${id}`).digest();
}

/** MAC of a heartbeat: over its subject and its body bytes. */
export function heartbeatMac(key: Uint8Array, subject: string, body: Uint8Array): Buffer {
  return createHmac('sha256', key).update(`dspex-hb\n${subject}\n`).update(body).digest();
}

/** MAC of a reply: over the inbox it answers, the signer, the error code (or "") and the body bytes. */
export function replyMac(
  key: Uint8Array,
  replySubject: string,
  worker: string,
  code: string,
  body: Uint8Array,
): Buffer {
  return createHmac('sha256', key)
    .update(`dspex-reply\n${replySubject}\n${worker}\n${code}\n`)
    .update(body)
    .digest();
}

/**
 * Reads the cluster worker secrets: `secret` as given, else the lines of `secretFile` (blank lines
 * and `#` comments skipped). The first is the current secret (local workers' keys are derived from
 * it); later lines are previous secrets still accepted while a rotation rolls out (docs/security.md).
 * A secret shorter than {@link MIN_SECRET_BYTES} is refused (a short one can be guessed offline from
 * one signed message). Undefined when neither is given (open mode).
 */
export function loadWorkerSecrets(
  secret: string | undefined,
  secretFile: string | undefined,
): Buffer[] | undefined {
  let lines: string[] | undefined = secret === undefined ? undefined : [secret];
  const field = secret === undefined ? 'worker.secretFile' : 'worker.secret';
  if (lines === undefined && secretFile !== undefined) {
    try {
      lines = readFileSync(secretFile, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
    } catch (error) {
      throw new DspexError(
        ErrorCode.BadRequest,
        `worker.secretFile: cannot read ${secretFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { details: { field } },
      );
    }
    if (lines.length === 0) {
      throw new DspexError(ErrorCode.BadRequest, `worker.secretFile: ${secretFile} holds no secret`, {
        details: { field },
      });
    }
  }
  if (lines === undefined) return undefined;
  return lines.map((text, i) => {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new DspexError(
        ErrorCode.BadRequest,
        `worker secret${i > 0 ? ` (line ${i + 1})` : ''}: expected at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length}`,
        { details: { field } },
      );
    }
    return bytes;
  });
}

/** Why a message claiming to come from a worker was dropped. */
export const RejectReason = {
  /** No signature header, or a heartbeat without `seq`. */
  Unsigned: 'unsigned',
  /** The signature does not verify with the claimed worker's key. */
  BadSignature: 'bad_signature',
  /** A heartbeat whose body names another worker than its subject, or a reply naming another worker than the one called. */
  WrongWorker: 'wrong_worker',
  /** A heartbeat not newer than one already accepted from that worker. */
  Replay: 'replay',
  /** A heartbeat whose timestamp is too far from this node's clock. */
  Stale: 'stale',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** The fields of a heartbeat the replay check reads. */
export interface HeartbeatStamp {
  id: string;
  started_at: number;
  ts: number;
  seq?: number;
}

export interface WorkerIdentityOptions {
  /** The cluster worker secrets, current first; undefined or empty: open mode, nothing is checked. */
  secrets: readonly Uint8Array[] | undefined;
  logger: Logger;
  /** Counts rejected messages by kind (`heartbeat`, `reply`) and reason. */
  rejected: Counter<'kind' | 'reason'>;
  /** How far a heartbeat's `ts` may be from this node's clock. @default 120000 */
  freshnessMs?: number;
  now?: () => number;
}

const CACHE_LIMIT = 10_000;
const LOG_EVERY_MS = 10_000;

/** Verifies heartbeats and replies against the keys derived from the cluster worker secrets. */
export class WorkerIdentity {
  readonly enforced: boolean;
  /** Keys by worker id, one per secret (current first). */
  private readonly keys = new Map<string, Buffer[]>();
  private readonly secrets: readonly Uint8Array[];
  private readonly lastBeat = new Map<string, { startedAt: number; seq: number }>();
  private readonly lastLog = new Map<string, number>();
  private readonly freshnessMs: number;
  private readonly now: () => number;

  constructor(private readonly o: WorkerIdentityOptions) {
    this.secrets = o.secrets ?? [];
    this.enforced = this.secrets.length > 0;
    this.freshnessMs = o.freshnessMs ?? 120_000;
    this.now = o.now ?? Date.now;
  }

  /** The key of worker `id` from the current secret: what a local worker is given. */
  keyOf(id: string): Buffer {
    const key = this.keysOf(id)[0];
    if (key === undefined) throw new DspexError(ErrorCode.Internal, 'no worker secret configured');
    return key;
  }

  /** The keys of worker `id`, one per accepted secret (derived once, then cached). */
  private keysOf(id: string): Buffer[] {
    let keys = this.keys.get(id);
    if (keys === undefined) {
      keys = this.secrets.map((secret) => deriveWorkerKey(secret, id));
      bounded(this.keys, id, keys);
    }
    return keys;
  }

  /** True when `sig` is the MAC some accepted key of `id` gives (`mac` computes it for a key). */
  private verifies(id: string, sig: string, mac: (key: Buffer) => Buffer): boolean {
    if (sig.length !== 64) return false;
    return this.keysOf(id).some((key) => macEquals(sig, mac(key)));
  }

  /**
   * Checks a heartbeat's signature before its body is decoded: the id is the subject's last token.
   * Returns the reason to drop it, or undefined.
   */
  checkHeartbeatSignature(
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
  ): RejectReason | undefined {
    if (!this.enforced) return undefined;
    const id = subject.slice(subject.lastIndexOf('.') + 1);
    const sig = headers?.get(SIGNATURE_HEADER) ?? '';
    if (sig === '') return RejectReason.Unsigned;
    if (!isName(NameKind.Worker, id) || !this.verifies(id, sig, (key) => heartbeatMac(key, subject, data)))
      return RejectReason.BadSignature;
    return undefined;
  }

  /**
   * Checks a decoded heartbeat: its body names the worker of its subject and, when enforced, it is
   * newer than the last one accepted from that worker (by `started_at`, then `seq`) and its `ts` is
   * within the freshness window. Accepting it records it.
   */
  checkHeartbeatBody(subject: string, hb: HeartbeatStamp): RejectReason | undefined {
    if (subject.slice(subject.lastIndexOf('.') + 1) !== hb.id) return RejectReason.WrongWorker;
    if (!this.enforced) return undefined;
    if (hb.seq === undefined) return RejectReason.Unsigned;
    if (Math.abs(this.now() - hb.ts) > this.freshnessMs) return RejectReason.Stale;
    const last = this.lastBeat.get(hb.id);
    if (last !== undefined) {
      const newer = hb.started_at > last.startedAt || (hb.started_at === last.startedAt && hb.seq > last.seq);
      if (!newer) return RejectReason.Replay;
    }
    bounded(this.lastBeat, hb.id, { startedAt: hb.started_at, seq: hb.seq });
    return undefined;
  }

  /**
   * Checks a reply on `replySubject`. `expected` is the worker the request was sent to; without it
   * (a pool's queue group) the reply's `Dspex-Worker` header names the signer.
   */
  checkReply(replySubject: string, msg: Msg, expected: string | undefined): RejectReason | undefined {
    if (!this.enforced) return undefined;
    const sig = msg.headers?.get(SIGNATURE_HEADER) ?? '';
    if (sig === '') return RejectReason.Unsigned;
    const claimed = msg.headers?.get(WORKER_HEADER) ?? '';
    const worker = expected ?? claimed;
    if (expected !== undefined && claimed !== '' && claimed !== expected) return RejectReason.WrongWorker;
    if (!isName(NameKind.Worker, worker)) return RejectReason.BadSignature;
    const code = msg.headers?.get(ERROR_CODE_HEADER) ?? '';
    return this.verifies(worker, sig, (key) => replyMac(key, replySubject, worker, code, msg.data))
      ? undefined
      : RejectReason.BadSignature;
  }

  /** Counts a dropped message and logs it (once per kind, reason and claimed worker every 10 s). */
  rejected(kind: 'heartbeat' | 'reply', reason: RejectReason, subject: string, worker?: string): void {
    this.o.rejected.inc({ kind, reason });
    const key = `${kind}/${reason}/${worker ?? subject}`;
    const now = this.now();
    if ((this.lastLog.get(key) ?? -Infinity) + LOG_EVERY_MS > now) return;
    bounded(this.lastLog, key, now);
    this.o.logger.warn(
      { kind, reason, subject: subject.slice(0, 200), worker: worker?.slice(0, 200) },
      'dropped a message claiming to come from a worker',
    );
  }
}

function macEquals(hex: string, mac: Buffer): boolean {
  if (hex.length !== mac.length * 2 || !/^[0-9a-f]+$/i.test(hex)) return false;
  return timingSafeEqual(Buffer.from(hex, 'hex'), mac);
}

function bounded<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHE_LIMIT) map.delete(map.keys().next().value as K);
}
