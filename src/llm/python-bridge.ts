/**
 * The Python bridge: a predict sent to the DSPy worker pools through the node's dispatcher
 * (routing, affinity, retries, deadlines). Everything DSPy can do runs here.
 */
import type { PredictReply, PredictRequest, WorkerPredictRequest } from '../protocol/schemas.js';
import { AdapterName, type AdapterContext, type LlmAdapter } from './types.js';

/** What the bridge needs from the node: request checks and the dispatcher. */
export interface PythonBridgeOptions {
  /** Checks the request (404/400/422) and builds the worker request. */
  prepare(body: PredictRequest): WorkerPredictRequest;
  dispatch(pool: string, request: WorkerPredictRequest, context: AdapterContext): Promise<PredictReply>;
}

export class PythonBridge implements LlmAdapter {
  readonly name = AdapterName.Python;

  constructor(private readonly o: PythonBridgeOptions) {}

  async predict(body: PredictRequest, context: AdapterContext): Promise<PredictReply> {
    const reply = await this.o.dispatch(context.pool, this.o.prepare(body), context);
    return { ...reply, usage: { ...reply.usage, adapter: AdapterName.Python } };
  }
}
