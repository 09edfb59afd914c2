/**
 * Observer announcements: each observer of a variable keeps a key `<name>.<observer id>` alive in a
 * KV bucket with a bucket-level TTL, so `describe()` can list who observes a variable anywhere in the
 * cluster and an observer that died disappears on its own. Any NATS client may announce itself the
 * same way (see docs/variables.md).
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { encode, Encoding } from '../protocol/codec.js';
import type { VarObserver } from '../protocol/variables.js';
import { observerOf } from './buckets.js';

export class ObserverRegistry {
  private readonly mine = new Map<string, VarObserver & { name: string }>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.renewAll(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Announces an observer of `name`; returns a function that withdraws it. */
  announce(name: string, kind: string, id?: string): () => void {
    const observerId = id ?? `${this.nodeId}-${kind}-${++this.seq}`;
    const key = `${name}.${observerId}`;
    const entry = { name, id: observerId, node: this.nodeId, kind, since: Date.now() };
    this.mine.set(key, entry);
    void this.put(key, entry);
    return () => {
      if (!this.mine.delete(key)) return;
      this.kv
        .delete(key)
        .catch((err: unknown) => this.logger.debug({ err, key }, 'observer withdrawal failed'));
    };
  }

  /** Observers announced for `name`, by any node or client. */
  async list(name: string): Promise<VarObserver[]> {
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`${name}.*`)) keys.push(key);
    const out: VarObserver[] = [];
    for (const key of keys.sort()) {
      const entry = await this.kv.get(key);
      const observer = entry === null ? undefined : observerOf(entry);
      if (observer !== undefined) out.push(observer);
    }
    return out;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const keys = [...this.mine.keys()];
    this.mine.clear();
    await Promise.all(keys.map((key) => this.kv.delete(key).catch(() => undefined)));
  }

  private async renewAll(): Promise<void> {
    for (const [key, entry] of this.mine) await this.put(key, entry);
  }

  private async put(key: string, entry: VarObserver & { name: string }): Promise<void> {
    const { name: _name, ...body } = entry;
    try {
      await this.kv.put(key, encode(body satisfies VarObserver, Encoding.Msgpack));
    } catch (err) {
      this.logger.debug({ err, key }, 'observer announcement failed; retried at the next renewal');
    }
  }
}
