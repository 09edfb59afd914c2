import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';

const RACE = /subjects overlap|already in use/i;

/**
 * Opens a JetStream KV bucket, creating it if needed. Creating is idempotent for identical
 * settings, but two nodes creating the same bucket at the same moment can see the server refuse one
 * of them ("subjects overlap with an existing stream"); that attempt is retried with a short
 * backoff, when the bucket simply exists.
 */
export async function openBucket(nc: NatsConnection, name: string, options: Partial<KvOptions>): Promise<KV> {
  const kvm = new Kvm(nc);
  for (let attempt = 0; ; attempt++) {
    try {
      return await kvm.create(name, options);
    } catch (error) {
      if (attempt >= 5 || !(error instanceof Error) || !RACE.test(error.message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
  }
}
