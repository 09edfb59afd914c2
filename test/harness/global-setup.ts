/**
 * Integration project global setup: one nats-server (JetStream, port -1 and the ports file) for the
 * shared node of ./shared-node.ts, started once per run in the main vitest process and stopped at
 * its end. Test files read its URL with `inject('sharedNatsUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { startNats } from './nats.js';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedNatsUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const srv = await startNats();
  project.provide('sharedNatsUrl', srv.url);
  return () => srv.stop();
}
