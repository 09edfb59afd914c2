/**
 * The `dspex.rpc.var.*` endpoints of the public service, over a node's {@link VariableStore}.
 * Validation of bodies (and the 4xx replies) comes from the service; handlers trust their types.
 */
import type { EndpointDefinition } from '../nats/service.js';
import {
  VarDefineRequestSchema,
  VarDescribeRequestSchema,
  VarGetRequestSchema,
  VarHistoryRequestSchema,
  VarLeaseRequestSchema,
  VarListRequestSchema,
  VarSetRequestSchema,
  type VarHistoryReply,
  type VarLeaseReply,
  type VarListReply,
} from '../protocol/variables.js';
import type { VariableStore } from './store.js';

/** Endpoint definitions to add to the node's service. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- endpoints have different schemas
export function variableEndpoints(store: VariableStore): Array<EndpointDefinition<any>> {
  return [
    {
      name: 'var-get',
      subject: 'var.get',
      schema: VarGetRequestSchema,
      handle: (body: { name: string; revision?: number }) =>
        store.get(
          body.name,
          body.revision === undefined ? { consistency: 'latest' } : { revision: body.revision },
        ),
    },
    {
      name: 'var-set',
      subject: 'var.set',
      schema: VarSetRequestSchema,
      handle: (body: {
        name: string;
        value: unknown;
        revision?: number;
        by?: string;
        score?: number;
        holder?: string;
      }) =>
        store.set(body.name, body.value, {
          ...(body.revision !== undefined && { revision: body.revision }),
          ...(body.by !== undefined && { by: body.by }),
          ...(body.score !== undefined && { score: body.score }),
          ...(body.holder !== undefined && { holder: body.holder }),
        }),
    },
    {
      name: 'var-define',
      subject: 'var.define',
      schema: VarDefineRequestSchema,
      handle: async (body: { name: string; spec: Record<string, unknown>; value: unknown }) => {
        const { type, constraints, description, metadata } = body.spec as {
          type?: string;
          constraints?: Record<string, unknown>;
          description?: string;
          metadata?: Record<string, unknown>;
        };
        await store.define({
          name: body.name,
          initial: body.value,
          ...(type !== undefined && { type }),
          ...(constraints !== undefined && { constraints }),
          ...(description !== undefined && { description }),
          ...(metadata !== undefined && { metadata }),
        });
        return store.get(body.name, { consistency: 'latest' });
      },
    },
    {
      name: 'var-list',
      subject: 'var.list',
      schema: VarListRequestSchema,
      handle: async (body: { prefix?: string }): Promise<VarListReply> => ({
        variables: await store.list(body.prefix),
      }),
    },
    {
      name: 'var-history',
      subject: 'var.history',
      schema: VarHistoryRequestSchema,
      handle: async (body: { name: string; limit?: number }): Promise<VarHistoryReply> => ({
        name: body.name,
        entries: await store.history(body.name, body.limit === undefined ? {} : { limit: body.limit }),
      }),
    },
    {
      name: 'var-describe',
      subject: 'var.describe',
      schema: VarDescribeRequestSchema,
      handle: (body: { name: string }) => store.describe(body.name),
    },
    {
      name: 'var-lease-acquire',
      subject: 'var.lease.acquire',
      schema: VarLeaseRequestSchema,
      // Acquire or, for the same holder, renew: a wire holder calls this every third of `ttl_ms`.
      handle: async (body: { names: string[]; holder: string }): Promise<VarLeaseReply> => {
        const revisions = await store.leaseManager.acquireRevisions(body.names, body.holder);
        return { holder: body.holder, revisions: Object.fromEntries(revisions), ttl_ms: store.leaseTtlMs };
      },
    },
    {
      name: 'var-lease-release',
      subject: 'var.lease.release',
      schema: VarLeaseRequestSchema,
      handle: async (body: { names: string[]; holder: string }) => ({
        released: await store.leaseManager.releaseHolder(body.names, body.holder),
      }),
    },
  ];
}
