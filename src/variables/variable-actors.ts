/**
 * The variable actors of one node, supervised: one {@link variableMachine} per variable, created on
 * first use as a `permanent` child of the node's `variables` supervisor (`one_for_one`: variables
 * are independent, one crashing must not disturb the others' caches or write queues).
 *
 * A crashed actor is restarted where it stopped. Everything it must not lose lives here, outside
 * the instance, in the variable's {@link Cell}:
 * - the last revision it told its observers about: the new instance starts from it, so nothing is
 *   notified twice and no older revision is taken for new;
 * - every watch event newer than that, until an instance has processed it: events that arrived
 *   while it was down (or the one it crashed on) are replayed to the new instance in order, so none
 *   is missed. The values watch itself resumes after the last revision it saw (`watch.ts`);
 * - the writes it was given: one in flight still settles its caller with its outcome, the queued
 *   ones go to the new instance in their order.
 * When the supervisor exceeds its restart intensity it gives up (escalation): every waiting write is
 * refused with 503 `unavailable` and so is every later one; `failed` settles with the reason.
 */
import type { Logger } from 'pino';
import { createActor, fromPromise, type Actor, type ActorOptions, type ActorRefFrom } from 'xstate';
import { DspexError, ErrorCode } from '../errors.js';
import type { VarRecord } from '../protocol/variables.js';
import { supervisorMachine } from '../supervisors/supervisor-machine.js';
import type { RestartIntensity } from '../supervisors/options.js';
import type { ChildFailure, Clock } from '../supervisors/types.js';
import {
  variableMachine,
  type SetJob,
  type VariableEvent,
  type VariableInput,
  type WriteInput,
} from './variable-machine.js';

/** Restart intensity of the variables supervisor. @see docs/architecture.md */
export const VARIABLES_INTENSITY: Required<RestartIntensity> = { maxRestarts: 10, periodMs: 10_000 };

/** The effects the actors perform (injected), and supervision settings. */
export interface VariableActorsOptions {
  nodeId: string;
  queueLimit: number;
  /** One write: validation, lease check, compare-and-set. */
  write(input: WriteInput): Promise<VarRecord>;
  /** A variable has a new revision (or was deleted). A throw crashes the variable's actor. */
  notify(name: string, record: VarRecord | undefined): void;
  logger: Logger;
  /** @default {@link VARIABLES_INTENSITY} */
  intensity?: RestartIntensity;
  /** Wait before a crashed actor restarts (follows `clock`). @default 0 */
  restartDelayMs?: number;
  /** The actor system's clock (delayed restarts); inject a `SimulatedClock` in tests. */
  clock?: ActorOptions<typeof supervisorMachine>['clock'];
  /** The restart-intensity window's clock. @default Date.now */
  intensityClock?: Clock;
}

type WatchEvent = Exclude<VariableEvent, { type: 'set' }>;
type VariableRef = ActorRefFrom<typeof variableMachine>;

/** What survives an instance of one variable's actor. */
interface Cell {
  name: string;
  /** The last record observers were told about, and a newer delete if any. */
  record: VarRecord | undefined;
  deletedAt: number | undefined;
  /** Watch events newer than `record`/`deletedAt`, in arrival order. */
  pending: WatchEvent[];
  /** Writes given to the actor and not settled yet, in order. */
  jobs: SetJob[];
  /** The write in flight, if any, and its promise. */
  writing: { job: SetJob; done: Promise<VarRecord>; orphaned: boolean } | undefined;
}

const revisionOf = (event: WatchEvent): number =>
  event.type === 'observed' ? event.record.revision : event.revision;

export class VariableActors {
  private readonly cells = new Map<string, Cell>();
  private readonly root: Actor<typeof supervisorMachine>;
  private readonly logic: typeof variableMachine;
  private failure: ChildFailure | undefined;
  /** Settles once the supervisor gave up; never rejects. */
  readonly failed: Promise<ChildFailure>;
  private fail!: (failure: ChildFailure) => void;

  constructor(private readonly o: VariableActorsOptions) {
    this.failed = new Promise((resolve) => (this.fail = resolve));
    this.logic = variableMachine.provide({
      actors: {
        write: fromPromise<VarRecord, WriteInput>(({ input }) => {
          const cell = this.cells.get(input.name);
          const done = this.o.write(input);
          const writing = { job: input.job, done, orphaned: false };
          if (cell !== undefined) {
            cell.writing = writing;
            const clear = () => {
              if (cell.writing === writing) cell.writing = undefined;
            };
            done.then(clear, clear);
          }
          // XState does not stop the invocations of an actor that crashed: once `resume` took this
          // write over, its outcome must not reach the dead instance (it would only warn).
          return new Promise<VarRecord>((resolve, reject) => {
            done.then(
              (record) => {
                if (!writing.orphaned) resolve(record);
              },
              (error: unknown) => {
                if (!writing.orphaned) reject(error instanceof Error ? error : new Error(String(error)));
              },
            );
          });
        }),
      },
      actions: {
        notify: ({ context }, params) => {
          // A lease marker moves the revision (the actor keeps it for its next CAS) but no value.
          if (params.record?.marker !== true) this.o.notify(context.name, params.record);
          // Only once observers were told: a crash above replays this event to the next instance.
          const cell = this.cells.get(context.name);
          if (cell !== undefined) this.advance(cell, params.record, params.revision);
        },
      },
    });
    this.root = createActor(supervisorMachine, {
      input: {
        id: `${o.nodeId}.variables`,
        strategy: 'one_for_one',
        intensity: o.intensity ?? VARIABLES_INTENSITY,
        restartDelayMs: o.restartDelayMs ?? 0,
        ...(o.intensityClock !== undefined && { clock: o.intensityClock }),
      },
      ...(o.clock !== undefined && { clock: o.clock }),
    });
    this.root.on('child.exited', ({ id, exit }) => {
      if (exit.status === 'crashed') {
        this.o.logger.warn({ variable: id, reason: exit.reason }, 'variable actor crashed; restarting it');
      }
    });
    this.root.on('child.restarted', ({ id, restarts }) => {
      // Deferred: the new instance is in the supervisor's snapshot once this transition commits.
      queueMicrotask(() => this.resume(id, restarts));
    });
    this.root.on('supervisor.escalated', ({ lastFailure }) => this.giveUp(lastFailure));
  }

  start(): void {
    this.root.start();
  }

  /** The live actor of `name`, started (as a supervised child) if it has none. */
  ensure(name: string): Cell {
    let cell = this.cells.get(name);
    if (cell !== undefined) return cell;
    cell = { name, record: undefined, deletedAt: undefined, pending: [], jobs: [], writing: undefined };
    this.cells.set(name, cell);
    if (this.failure !== undefined) return cell;
    const c = cell;
    const input: VariableInput = {
      name,
      queueLimit: this.o.queueLimit,
      resume: () => ({ record: c.record, deletedAt: c.deletedAt }),
    };
    this.root.send({
      type: 'supervisor.start_child',
      spec: { id: name, logic: this.logic, input, restart: 'permanent' },
    });
    return cell;
  }

  /** The latest record of `name` on this node: the live instance's, else the last one delivered. */
  record(name: string): VarRecord | undefined {
    const ref = this.ref(name);
    return ref !== undefined ? ref.getSnapshot().context.record : this.cells.get(name)?.record;
  }

  /** The newest revision of `name` this node has seen (0 when none); never creates an actor. */
  seen(name: string): number {
    const cell = this.cells.get(name);
    if (cell === undefined) return 0;
    const live = this.ref(name)?.getSnapshot().context;
    return Math.max(live?.record?.revision ?? 0, live?.deletedAt ?? 0, this.cursor(cell));
  }

  /** Restarts so far of the actor of `name` (0 for the first instance). */
  restarts(name: string): number {
    const child = this.root.getSnapshot().context.children.find((c) => c.spec.id === name);
    return child?.restarts ?? 0;
  }

  /** Delivers a watch event to the actor of `name`; kept until an instance has processed it. */
  send(name: string, event: WatchEvent): void {
    const cell = this.ensure(name);
    // After the supervisor gave up nothing would ever process it.
    if (this.failure !== undefined || revisionOf(event) <= this.cursor(cell)) return;
    cell.pending.push(event);
    this.ref(name)?.send(event);
  }

  /** Queues a write on the actor of `name`; settles with its outcome. */
  enqueue(name: string, job: Omit<SetJob, 'settle'>): Promise<VarRecord> {
    const cell = this.ensure(name);
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(this.unavailable(name));
        return;
      }
      let settled = false;
      const full: SetJob = {
        ...job,
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          const at = cell.jobs.indexOf(full);
          if (at >= 0) cell.jobs.splice(at, 1);
          if ('record' in outcome) resolve(outcome.record);
          else reject(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)));
        },
      };
      cell.jobs.push(full);
      this.ref(name)?.send({ type: 'set', job: full });
    });
  }

  /** Stops every actor (and the supervisor); waiting writes are refused. */
  stop(): void {
    this.root.send({ type: 'supervisor.stop' });
    this.root.stop();
    for (const cell of this.cells.values()) {
      for (const job of [...cell.jobs]) {
        job.settle({ error: new DspexError(ErrorCode.Unavailable, `variable ${cell.name}: store closed`) });
      }
    }
  }

  private ref(name: string): VariableRef | undefined {
    // The children map, not `selectChildRef` (a scan of every child): this runs on every event.
    const ref = this.root.getSnapshot().children[name] as VariableRef | undefined;
    return ref?.getSnapshot().status === 'active' ? ref : undefined;
  }

  private cursor(cell: Cell): number {
    return Math.max(cell.record?.revision ?? 0, cell.deletedAt ?? 0);
  }

  /** Observers were told about `record` (or a delete): move the cell's cursor past it. */
  private advance(cell: Cell, record: VarRecord | undefined, revision: number): void {
    if (revision > this.cursor(cell)) {
      cell.record = record;
      cell.deletedAt = record === undefined ? revision : undefined;
    }
    const cursor = this.cursor(cell);
    cell.pending = cell.pending.filter((event) => revisionOf(event) > cursor);
  }

  /** A new instance of `name` runs: hand it what its predecessor left. */
  private resume(name: string, restarts: number): void {
    const cell = this.cells.get(name);
    const ref = this.ref(name);
    if (cell === undefined || ref === undefined) return;
    this.o.logger.info(
      { variable: name, restarts, revision: this.cursor(cell), replay: cell.pending.length },
      'variable actor restarted',
    );
    for (const event of [...cell.pending].sort((a, b) => revisionOf(a) - revisionOf(b))) ref.send(event);
    const requeue = () => {
      const live = this.ref(name);
      for (const job of cell.jobs) live?.send({ type: 'set', job });
    };
    const inflight = cell.writing;
    if (inflight === undefined) {
      requeue();
      return;
    }
    // The write in flight still settles its caller; the queued ones wait for it, as before the crash.
    cell.writing = undefined;
    inflight.orphaned = true;
    const { job, done } = inflight;
    cell.jobs = cell.jobs.filter((j) => j !== job);
    done.then(
      (record) => {
        job.settle({ record });
        this.send(name, { type: 'observed', record });
        requeue();
      },
      (error: unknown) => {
        job.settle({ error });
        requeue();
      },
    );
  }

  private giveUp(lastFailure: ChildFailure): void {
    this.failure = lastFailure;
    this.o.logger.fatal({ lastFailure }, 'variables supervisor gave up');
    for (const cell of this.cells.values()) {
      for (const job of [...cell.jobs]) job.settle({ error: this.unavailable(cell.name) });
    }
    this.fail(lastFailure);
  }

  private unavailable(name: string): DspexError {
    const f = this.failure;
    return new DspexError(
      ErrorCode.Unavailable,
      `variable ${name}: the variables supervisor gave up (${f?.child}: ${f?.reason})`,
      { details: { field: 'name', reason: 'supervisor_failed', child: f?.child ?? null } },
    );
  }
}
