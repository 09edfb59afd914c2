/**
 * The variable actors of one node: one {@link variableMachine} per variable, created on first use.
 */
import type { Logger } from 'pino';
import { createActor, fromPromise, type Actor } from 'xstate';
import type { VarRecord } from '../protocol/variables.js';
import { variableMachine, type SetJob, type VariableEvent, type WriteInput } from './variable-machine.js';

/** The effects the actors perform, injected. */
export interface VariableActorsOptions {
  nodeId: string;
  queueLimit: number;
  /** One write: validation, lease check, compare-and-set. */
  write(input: WriteInput): Promise<VarRecord>;
  /** A variable has a new revision (or was deleted). */
  notify(name: string, record: VarRecord | undefined): void;
  logger: Logger;
}

export type VariableActor = Actor<typeof variableMachine>;

export class VariableActors {
  private readonly actors = new Map<string, VariableActor>();

  constructor(private readonly o: VariableActorsOptions) {}

  start(): void {}

  /** Creates the actor of `name` if it has none yet. */
  ensure(name: string): void {
    if (this.actors.has(name)) return;
    const actor = createActor(
      variableMachine.provide({
        actors: { write: fromPromise<VarRecord, WriteInput>(({ input }) => this.o.write(input)) },
        actions: { notify: (_, params) => this.o.notify(name, params.record) },
      }),
      { input: { name, queueLimit: this.o.queueLimit } },
    );
    this.actors.set(name, actor);
    actor.start();
  }

  /** The latest record the actor of `name` holds. */
  record(name: string): VarRecord | undefined {
    return this.actors.get(name)?.getSnapshot().context.record;
  }

  send(name: string, event: Exclude<VariableEvent, { type: 'set' }>): void {
    this.ensure(name);
    this.actors.get(name)?.send(event);
  }

  /** Queues a write on the actor of `name`; settles with its outcome. */
  enqueue(name: string, job: Omit<SetJob, 'settle'>): Promise<VarRecord> {
    this.ensure(name);
    return new Promise((resolve, reject) => {
      this.actors.get(name)?.send({
        type: 'set',
        job: {
          ...job,
          settle: (outcome) =>
            'record' in outcome
              ? resolve(outcome.record)
              : reject(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error))),
        },
      });
    });
  }

  stop(): void {
    for (const actor of this.actors.values()) actor.stop();
  }
}
