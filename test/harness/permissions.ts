import { PermissionViolationError, type NatsConnection } from '@nats-io/nats-core';

/** One permission error the server reported to a connection. */
export interface Violation {
  operation: string;
  subject: string;
}

/** Collects every permission error `nc` reports, from now on, into the returned array. */
export function collectViolations(nc: NatsConnection): Violation[] {
  const seen: Violation[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof PermissionViolationError) {
        seen.push({ operation: s.error.operation, subject: s.error.subject });
      }
    }
  })();
  return seen;
}
