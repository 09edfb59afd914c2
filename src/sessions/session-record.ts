/**
 * How a session record changes, as pure functions of the record and the time: opening, recording a
 * call, updating state, expiry. The session actor applies them one at a time, by compare-and-set.
 */
import type { SessionHistoryEntry, SessionRecord } from '../protocol/sessions.js';

/** A change of one session: `undefined` in → not found; `undefined` out → delete the record. */
export type SessionChange = (current: SessionRecord | undefined, now: number) => SessionChangeResult;
export type SessionChangeResult =
  | { kind: 'put'; record: SessionRecord }
  | { kind: 'delete'; record: SessionRecord }
  /** Nothing to write; `record` is what the caller gets (`undefined`: no such session). */
  | { kind: 'none'; record: SessionRecord | undefined };

/** The outcome of one call made in a session. */
export interface SessionCall {
  module: string;
  signature?: string;
  pool: string;
  ok: boolean;
  latencyMs: number;
  worker?: string;
  code?: string;
  trace?: string;
  tokens?: number;
}

const EWMA_ALPHA = 0.2;

export function isExpired(record: SessionRecord, now: number): boolean {
  return record.expires_at <= now;
}

/** Creates the session, or refreshes an open one (merging `state`). */
export function openChange(o: {
  id: string;
  ttlMs: number;
  node: string;
  state?: Record<string, unknown>;
}): SessionChange {
  return (current, now) => {
    if (current !== undefined && !isExpired(current, now)) {
      return {
        kind: 'put',
        record: {
          ...current,
          state: { ...current.state, ...o.state },
          ttl_ms: o.ttlMs,
          updated_at: now,
          expires_at: now + o.ttlMs,
          node: o.node,
        },
      };
    }
    return {
      kind: 'put',
      record: {
        id: o.id,
        status: 'open',
        created_at: now,
        updated_at: now,
        expires_at: now + o.ttlMs,
        ttl_ms: o.ttlMs,
        node: o.node,
        state: o.state ?? {},
        history: [],
        metrics: { calls: 0, errors: 0, latency_ms_total: 0, latency_ms_ewma: null, tokens_total: 0 },
      },
    };
  };
}

/** Records a call: history (bounded), metrics, worker affinity, and a fresh expiry. Unknown sessions are left alone. */
export function callChange(call: SessionCall, node: string, historyLimit: number): SessionChange {
  return (current, now) => {
    if (current === undefined || isExpired(current, now)) return { kind: 'none', record: undefined };
    const entry: SessionHistoryEntry = {
      ts: now,
      module: call.module,
      ...(call.signature !== undefined && { signature: call.signature }),
      ok: call.ok,
      latency_ms: call.latencyMs,
      ...(call.worker !== undefined && { worker: call.worker }),
      ...(call.code !== undefined && { code: call.code }),
      ...(call.trace !== undefined && { trace: call.trace }),
    };
    const m = current.metrics;
    const ewma = !call.ok
      ? m.latency_ms_ewma
      : m.latency_ms_ewma === null
        ? call.latencyMs
        : m.latency_ms_ewma + EWMA_ALPHA * (call.latencyMs - m.latency_ms_ewma);
    return {
      kind: 'put',
      record: {
        ...current,
        updated_at: now,
        expires_at: now + current.ttl_ms,
        node,
        history: historyLimit === 0 ? [] : [...current.history, entry].slice(-historyLimit),
        metrics: {
          calls: m.calls + 1,
          errors: m.errors + (call.ok ? 0 : 1),
          latency_ms_total: m.latency_ms_total + call.latencyMs,
          latency_ms_ewma: ewma,
          tokens_total: m.tokens_total + (call.tokens ?? 0),
        },
        ...(call.ok &&
          call.worker !== undefined && {
            affinity: { pool: call.pool, worker: call.worker, node, at: now },
          }),
      },
    };
  };
}

/** Merges state and/or replaces the optimization state. */
export function updateChange(
  patch: { state?: Record<string, unknown>; optimization?: unknown },
  node: string,
): SessionChange {
  return (current, now) => {
    if (current === undefined || isExpired(current, now)) return { kind: 'none', record: undefined };
    return {
      kind: 'put',
      record: {
        ...current,
        state: { ...current.state, ...patch.state },
        ...('optimization' in patch && { optimization: patch.optimization }),
        updated_at: now,
        expires_at: now + current.ttl_ms,
        node,
      },
    };
  };
}

/** Closes the session: the record is deleted and its last form returned with `status: closed`. */
export const closeChange: SessionChange = (current, now) => {
  if (current === undefined || isExpired(current, now)) return { kind: 'none', record: undefined };
  return { kind: 'delete', record: { ...current, status: 'closed', updated_at: now } };
};
