/**
 * The front cache: encoded replies of `dspex.rpc.predict`, keyed by the exact bytes of the request
 * (and the encoding it asked for). A request whose bytes were answered from the result cache before
 * is answered again from here, at the edge, before it is decoded, validated, keyed (canonical JSON +
 * SHA-256) or re-encoded. It only ever holds what the result cache answered, for requests whose
 * answer depends on nothing but their bytes; it is emptied with the result cache.
 */
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import { Encoding } from '../protocol/codec.js';

export interface FrontCacheOptions {
  /** Entries kept at most. */
  entries: number;
  /** Bytes kept at most (request bytes plus reply bytes of every entry). */
  maxBytes: number;
  /** Requests larger than this are neither looked up nor kept (they rarely repeat). */
  maxRequestBytes: number;
  /** `dspex_llm_cache_total`; counted as cache `predict`, tier `front`. */
  lookups: Counter<'cache' | 'tier' | 'result'>;
}

/** Largest request body the front cache keys on, by default. */
export const FRONT_MAX_REQUEST_BYTES = 16 * 1024;

/** A size-bounded LRU of encoded predict replies keyed by request bytes. */
export class FrontCache {
  private readonly lru: LRUCache<string, Uint8Array>;
  private readonly hit;
  private readonly miss;

  constructor(private readonly o: FrontCacheOptions) {
    this.lru = new LRUCache<string, Uint8Array>({
      max: Math.max(1, o.entries),
      maxSize: Math.max(1, o.maxBytes),
      // Keys are latin1 strings: one character per request byte.
      sizeCalculation: (reply, key) => Math.max(1, reply.length + key.length),
    });
    this.hit = o.lookups.labels({ cache: 'predict', tier: 'front', result: 'hit' });
    this.miss = o.lookups.labels({ cache: 'predict', tier: 'front', result: 'miss' });
  }

  /** The reply kept for exactly `request` in `encoding`, or undefined. */
  get(request: Uint8Array, encoding: Encoding): Uint8Array | undefined {
    if (request.length > this.o.maxRequestBytes || request.length === 0) return undefined;
    const reply = this.lru.get(keyOf(request, encoding));
    (reply === undefined ? this.miss : this.hit).inc();
    return reply;
  }

  /** Keeps `reply` as the answer to exactly `request` in `encoding`. */
  set(request: Uint8Array, encoding: Encoding, reply: Uint8Array): void {
    if (request.length > this.o.maxRequestBytes || request.length === 0 || this.o.entries <= 0) return;
    // A copy: an encoder's output may be a view into a larger shared buffer that it would pin.
    this.lru.set(keyOf(request, encoding), reply.slice());
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}

/** The bytes as a string key, one latin1 character per byte, after a one-letter encoding tag. */
function keyOf(request: Uint8Array, encoding: Encoding): string {
  const bytes = Buffer.from(request.buffer, request.byteOffset, request.length);
  return (encoding === Encoding.Json ? 'j' : 'm') + bytes.toString('latin1');
}
