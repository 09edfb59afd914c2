/**
 * The `dspex.rpc.session.*` endpoints of the public service, over a node's {@link SessionStore}.
 * The service validates bodies (400 naming the field); an unknown or expired session is a 404.
 */
import {
  SessionIdRequestSchema,
  SessionOpenRequestSchema,
  type SessionOpenRequest,
  type SessionRecord,
} from '../protocol/sessions.js';
import type { EndpointDefinition } from '../nats/service.js';
import type { SessionStore } from './store.js';

/** Endpoint definitions to add to the node's service. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- endpoints have different schemas
export function sessionEndpoints(store: SessionStore): Array<EndpointDefinition<any>> {
  return [
    {
      name: 'session-open',
      subject: 'session.open',
      schema: SessionOpenRequestSchema,
      handle: (body: SessionOpenRequest): Promise<SessionRecord> =>
        store.open({
          ...(body.id !== undefined && { id: body.id }),
          ...(body.ttl_ms !== undefined && { ttlMs: body.ttl_ms }),
          ...(body.state !== undefined && { state: body.state }),
        }),
    },
    {
      name: 'session-get',
      subject: 'session.get',
      schema: SessionIdRequestSchema,
      handle: (body: { id: string }) => store.get(body.id),
    },
    {
      name: 'session-close',
      subject: 'session.close',
      schema: SessionIdRequestSchema,
      handle: (body: { id: string }) => store.close(body.id),
    },
  ];
}
