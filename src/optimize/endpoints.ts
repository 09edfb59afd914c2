/**
 * The `dspex.rpc.optimize.*` endpoints of the public service: `compile` runs a DSPy optimizer in the
 * optimizer pool until it ends (set `Dspex-Deadline` for long runs), `cancel` stops a run.
 */
import type { EndpointDefinition, RequestContext } from '../nats/service.js';
import {
  CancelRequestSchema,
  CompileRequestSchema,
  type CancelRequest,
  type CompileRequest,
} from '../protocol/optimize.js';
import type { Optimizer } from './compile.js';

/** Endpoint definitions to add to the node's service. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- endpoints have different schemas
export function optimizeEndpoints(optimizer: Optimizer): Array<EndpointDefinition<any>> {
  return [
    {
      name: 'optimize-compile',
      subject: 'optimize.compile',
      schema: CompileRequestSchema,
      handle: (body: CompileRequest, ctx: RequestContext) =>
        optimizer.compile(body, { deadline: ctx.deadline }),
    },
    {
      name: 'optimize-cancel',
      subject: 'optimize.cancel',
      schema: CancelRequestSchema,
      handle: (body: CancelRequest) => optimizer.cancel(body.run_id),
    },
  ];
}
