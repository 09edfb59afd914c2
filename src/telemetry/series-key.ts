/** The series one call or sample feeds: its pool, its worker, its module+signature and its model. */
import { Scope, type CallRecord, type SeriesKey } from '../protocol/events.js';

/** FNV-1a, 32 bits, as 8 hex digits: a short stable name for a signature text. */
export function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** `scope:id`, unique over all series. */
export function seriesId(key: Pick<SeriesKey, 'scope' | 'id'>): string {
  return `${key.scope}:${key.id}`;
}

export function poolKey(pool: string): SeriesKey {
  return { scope: Scope.Pool, id: pool, pool };
}

export function workerKey(pool: string, worker: string): SeriesKey {
  return { scope: Scope.Worker, id: `${pool}/${worker}`, pool, worker };
}

export function moduleKey(module: string, signature: string): SeriesKey {
  return { scope: Scope.Module, id: `${module}:${fnv1a(signature)}`, module, signature };
}

export function modelKey(model: string): SeriesKey {
  return { scope: Scope.Model, id: model, model };
}

/** Every series a call counts in. */
export function keysOfCall(call: CallRecord): SeriesKey[] {
  const keys = [poolKey(call.pool), moduleKey(call.module, call.signature)];
  if (call.worker !== undefined) keys.push(workerKey(call.pool, call.worker));
  if (call.model !== undefined) keys.push(modelKey(call.model));
  return keys;
}
