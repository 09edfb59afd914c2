/**
 * The `dspex.rpc.pipeline.*` endpoints of the public service, over a node's {@link PipelineEngine}.
 * The service validates bodies (400 naming the field); graph errors are 422 naming the stage.
 */
import {
  PipelineGetRequestSchema,
  PipelineRunRequestSchema,
  type PipelineRunReply,
  type PipelineRunRequest,
  type RunRecord,
} from '../protocol/pipelines.js';
import type { EndpointDefinition } from '../nats/service.js';
import type { PipelineEngine } from './engine.js';

/** Endpoint definitions to add to the node's service. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- endpoints have different schemas
export function pipelineEndpoints(engine: PipelineEngine): Array<EndpointDefinition<any>> {
  return [
    {
      name: 'pipeline-run',
      subject: 'pipeline.run',
      schema: PipelineRunRequestSchema,
      handle: (body: PipelineRunRequest): Promise<PipelineRunReply> =>
        engine.submit(body.pipeline, body.inputs, {
          ...(body.run_id !== undefined && { runId: body.run_id }),
          ...(body.policy !== undefined && { policy: body.policy }),
        }),
    },
    {
      name: 'pipeline-get',
      subject: 'pipeline.get',
      schema: PipelineGetRequestSchema,
      handle: (body: { run_id: string }): Promise<RunRecord> => engine.get(body.run_id),
    },
  ];
}
