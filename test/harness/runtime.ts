import { pino } from 'pino';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime/runtime.js';

/** Test logs are silent unless `DSPEX_TEST_LOG` names a level. */
export const testLogger = () => pino({ level: process.env.DSPEX_TEST_LOG ?? 'silent' }, pino.destination(2));

/** A runtime node on the given server with every local worker ready. */
export async function startRuntime(url: string | string[], options: RuntimeOptions = {}): Promise<Runtime> {
  const rt = await createRuntime({ nats: { servers: url }, logger: testLogger(), ...options });
  try {
    const pools = options.pools ?? { general: { size: 2 } };
    for (const [name, pool] of Object.entries(pools)) {
      if ((pool.size ?? 1) > 0) await rt.waitForWorkers(name, pool.size ?? 1, 90_000);
    }
  } catch (error) {
    await rt.stop();
    throw error;
  }
  return rt;
}

/** Python of the worker venv, for test clients written with nats-py. */
export const venvPython = new URL('../../python/.venv/bin/python', import.meta.url).pathname;
export const workerBin = new URL('../../python/.venv/bin/dspex-worker', import.meta.url).pathname;
