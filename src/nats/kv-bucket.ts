import type { NatsConnection } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';

/**
 * JetStream error codes (nats-server's `JSStreamNameExistErr`, `JSStreamSubjectOverlapErr`) of a
 * bucket's stream created by another node at the same moment. nats.js names neither in
 * `JetStreamApiCodes`.
 */
export const CreateRaceCodes = { StreamNameExists: 10058, SubjectOverlap: 10065 } as const;

/** True when creating a bucket failed because another node was creating the same one. */
export function isCreateRace(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === CreateRaceCodes.StreamNameExists || error.code === CreateRaceCodes.SubjectOverlap)
  );
}

/**
 * Opens a JetStream KV bucket, creating it if needed. Creating is idempotent for identical
 * settings, but two nodes creating the same bucket at the same moment can see the server refuse one
 * of them ("subjects overlap with an existing stream", told by its JetStream error code); that
 * attempt is retried with a short backoff, when the bucket simply exists.
 */
export async function openBucket(nc: NatsConnection, name: string, options: Partial<KvOptions>): Promise<KV> {
  const kvm = new Kvm(nc);
  for (let attempt = 0; ; attempt++) {
    try {
      return await kvm.create(name, options);
    } catch (error) {
      if (attempt >= 5 || !isCreateRace(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
  }
}
