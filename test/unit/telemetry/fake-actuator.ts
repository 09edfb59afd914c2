import type { ActuatorCall } from '../../../src/protocol/events.js';
import type { ActResult, Actuator } from '../../../src/telemetry/actuator.js';

/** An actuator that records every call and answers from a script (ok by default). */
export function fakeActuator(answer: (call: ActuatorCall) => ActResult = () => ({ ok: true })) {
  const calls: ActuatorCall[] = [];
  const record =
    <T extends ActuatorCall['type']>(type: T) =>
    (args: Omit<Extract<ActuatorCall, { type: T }>, 'type'>) => {
      const call = { type, ...args } as unknown as ActuatorCall;
      calls.push(call);
      return answer(call);
    };
  const actuator: Actuator = {
    avoidWorker: record('avoid_worker'),
    restoreWorker: record('restore_worker'),
    recycleWorker: record('recycle_worker'),
    resizePool: record('resize_pool'),
    setFallbackModel: record('set_fallback_model'),
    setHedging: record('set_hedging'),
    optimizer: record('optimizer'),
  };
  return { actuator, calls };
}
