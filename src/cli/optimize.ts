import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { NatsConnection } from '@nats-io/nats-core';
import { pino } from 'pino';
import { Optimizer, requestReply } from '../optimize/compile.js';
import {
  CancelReplySchema,
  CompileReplySchema,
  RunStatus,
  type CompileReply,
  type CompileRequest,
  type OptimizeEvent,
} from '../protocol/optimize.js';
import { subjects as makeSubjects } from '../protocol/subjects.js';
import { DspexError, ErrorCode } from '../errors.js';
import { ExitCode, parseFlags, positiveInt, usageError, type CliIo, type Command } from './command.js';
import { connectClient, CONNECTION_FLAGS, CONNECTION_HELP, connectionTarget } from './connect.js';
import type { NatsTarget } from '../nats/nats-url.js';

/** What `dspex optimize` does. */
export type OptimizeAction =
  | { kind: 'compile'; request: CompileRequest; json: boolean }
  | { kind: 'watch'; runId: string }
  | { kind: 'cancel'; runId: string };

export interface OptimizeCommandOptions {
  target: NatsTarget;
  prefix: string;
  timeoutMs: number;
  action: OptimizeAction;
}

const HELP = `Usage: dspex optimize compile --optimizer O --signature S --trainset FILE --metric M [options]
       dspex optimize watch RUN_ID
       dspex optimize cancel RUN_ID

Runs a DSPy optimizer on the optimizer pool (dspex.rpc.optimize.compile) with a progress bar on
stderr, follows the progress of a run another client started, or cancels a run.

compile options:
  --optimizer O     BootstrapFewShot, BootstrapFewShotWithRandomSearch, MIPROv2 or COPRO
  --signature S     DSPy signature, e.g. "question -> answer"
  --module M        Predict (default) or ChainOfThought
  --trainset FILE   JSON file: a list of examples (every input field plus the labels)
  --valset FILE     JSON file: examples that score candidates (default the trainset)
  --metric M[:F]    exact_match, contains or f1 on output field F, or a registered Python metric
  --settings JSON   optimizer settings, e.g. '{"max_bootstrapped_demos": 2}'
  --variable NAME   write the compiled state to this variable
  --run-id ID       run id (default generated; printed first)
  --pool NAME       pool that runs it (default optimizer)
  --json            print the whole reply as JSON (default: run id, status, score, variable)
Common options:
${CONNECTION_HELP}
  --timeout MS      deadline of the run (default 1800000)
  -h, --help        show this help

Exit codes: 0 completed (or cancel acknowledged), 1 failed or cancelled, 2 bad flags.`;

/** `dspex optimize`: compile, watch or cancel an optimization run. */
export const optimizeCommand: Command<OptimizeCommandOptions> = {
  name: 'optimize',
  summary: 'run, watch or cancel a DSPy optimizer in the optimizer pool',
  help: HELP,

  async parse(argv, env) {
    const { values, positionals } = parseFlags(() =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: true,
        options: {
          optimizer: { type: 'string' },
          signature: { type: 'string' },
          module: { type: 'string' },
          trainset: { type: 'string' },
          valset: { type: 'string' },
          metric: { type: 'string' },
          settings: { type: 'string' },
          variable: { type: 'string' },
          'run-id': { type: 'string' },
          pool: { type: 'string' },
          ...CONNECTION_FLAGS,
          json: { type: 'boolean', default: false },
          timeout: { type: 'string' },
        },
      }),
    );
    const [verb, runId, ...extra] = positionals;
    if (extra.length > 0) throw usageError(`unexpected argument "${extra[0]}"`);
    let action: OptimizeAction;
    switch (verb) {
      case 'watch':
      case 'cancel':
        if (runId === undefined) throw usageError(`optimize ${verb}: RUN_ID is required`, 'RUN_ID');
        action = { kind: verb, runId };
        break;
      case 'compile': {
        if (runId !== undefined) throw usageError(`unexpected argument "${runId}"`);
        const required = (v: string | undefined, flag: string): string => {
          if (v === undefined) throw usageError(`${flag} is required`, flag);
          return v;
        };
        const optimizer = required(values.optimizer, '--optimizer') as CompileRequest['optimizer'];
        const signature = required(values.signature, '--signature');
        const trainsetFile = required(values.trainset, '--trainset');
        const [metricName, field] = required(values.metric, '--metric').split(':', 2);
        const request: CompileRequest = {
          optimizer,
          signature,
          trainset: await examplesFile(trainsetFile, '--trainset'),
          metric: field === undefined ? { name: metricName! } : { name: metricName!, field },
        };
        if (values.valset !== undefined) request.valset = await examplesFile(values.valset, '--valset');
        if (values.module !== undefined) request.module = values.module as CompileRequest['module'];
        if (values.settings !== undefined) request.settings = jsonObject(values.settings, '--settings');
        if (values.variable !== undefined) request.variable = values.variable;
        if (values['run-id'] !== undefined) request.run_id = values['run-id'];
        if (values.pool !== undefined) request.pool = values.pool;
        action = { kind: 'compile', request, json: values.json };
        break;
      }
      case undefined:
      default:
        throw usageError('expected a verb: compile, watch or cancel', 'verb');
    }
    return {
      target: connectionTarget(values, env),
      prefix: env.DSPEX_PREFIX || 'dspex',
      timeoutMs: positiveInt(values.timeout, '--timeout') ?? 30 * 60_000,
      action,
    };
  },

  async run({ target, prefix, timeoutMs, action }, io) {
    await using conn = await connectClient(target, prefix, Math.min(timeoutMs, 10_000));
    const optimizer = cliOptimizer(conn.client.nc, prefix);
    switch (action.kind) {
      case 'cancel': {
        // Through a node's public endpoint: the `client` user of nats.conf may not reach workers.
        const subject = makeSubjects(prefix).rpc('optimize.cancel');
        const ack = CancelReplySchema.parse(
          await requestReply(
            conn.client.nc,
            subject,
            { run_id: action.runId },
            Date.now() + Math.min(timeoutMs, 10_000),
            subject,
            () => new DspexError(ErrorCode.Unavailable, `no dspex node answers ${subject}`),
          ),
        );
        io.stdout(`cancel sent: run ${ack.run_id} on worker ${ack.worker}`);
        return ExitCode.Ok;
      }
      case 'watch':
        return watch(optimizer, action.runId, timeoutMs, io);
      case 'compile': {
        const runId = action.request.run_id ?? `run-${Date.now().toString(36)}`;
        io.stderr(`run ${runId}: ${action.request.optimizer} on pool ${action.request.pool ?? 'optimizer'}`);
        const bar = new ProgressPrinter(io);
        // Through a node's public endpoint (it writes --variable); progress straight from the worker.
        const stop = optimizer.watch(runId, (e) => bar.update(e));
        let reply: CompileReply;
        try {
          await conn.client.nc.flush();
          const subject = makeSubjects(prefix).rpc('optimize.compile');
          const raw = await requestReply(
            conn.client.nc,
            subject,
            { ...action.request, run_id: runId },
            Date.now() + timeoutMs,
            subject,
            () => new DspexError(ErrorCode.Unavailable, `no dspex node answers ${subject}`),
          );
          reply = CompileReplySchema.parse(raw);
        } finally {
          stop();
        }
        if (action.json) io.stdout(JSON.stringify(reply, null, 2));
        else {
          io.stdout(`run ${reply.run_id}: ${reply.status} after ${reply.evaluations} evaluations`);
          if (reply.score !== undefined) io.stdout(`score: ${reply.score.toFixed(4)}`);
          if (reply.variable !== undefined)
            io.stdout(`variable: ${reply.variable.name} (revision ${reply.variable.revision})`);
        }
        return reply.status === RunStatus.Completed ? ExitCode.Ok : ExitCode.Failed;
      }
      default: {
        const never: never = action;
        throw new Error(`unknown action ${String(never)}`);
      }
    }
  },
};

/** A client-side {@link Optimizer} for watch and cancel (no variables on this side). */
function cliOptimizer(nc: NatsConnection, prefix: string): Optimizer {
  return new Optimizer({
    nc,
    subjects: makeSubjects(prefix),
    logger: pino({ level: 'silent' }),
    nodeId: 'cli',
    ledger: { bucket: `${prefix}_opt_trials`, storage: 'file', replicas: 1 },
    variables: () => {
      throw new DspexError(ErrorCode.Unavailable, 'the CLI writes variables through a node');
    },
  });
}

/**
 * How long `watch` waits for a run's first progress event before saying it does not run: a running
 * run publishes one every 250 ms, so eight missed ones mean there is none.
 */
export const WATCH_FIRST_EVENT_MS = 2000;

async function watch(optimizer: Optimizer, runId: string, timeoutMs: number, io: CliIo): Promise<ExitCode> {
  const bar = new ProgressPrinter(io);
  let finish!: (e: OptimizeEvent) => void;
  let seen = false;
  const ended = new Promise<OptimizeEvent>((resolve) => (finish = resolve));
  const stop = optimizer.watch(runId, (e) => {
    seen = true;
    bar.update(e);
    if (e.status !== RunStatus.Running) finish(e);
  });
  const stopSignal = io.onSignal(() => finish({ status: RunStatus.Failed } as OptimizeEvent));
  let timer: NodeJS.Timeout | undefined;
  let probe: NodeJS.Timeout | undefined;
  try {
    const last = await Promise.race([
      ended,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
      new Promise<null>((resolve) => {
        probe = setTimeout(
          () => (seen ? undefined : resolve(null)),
          Math.min(WATCH_FIRST_EVENT_MS, timeoutMs),
        );
      }),
    ]);
    if (last === null) {
      throw new DspexError(
        ErrorCode.NotFound,
        `run ${runId} does not exist or is not running (no progress event within ` +
          `${Math.min(WATCH_FIRST_EVENT_MS, timeoutMs)} ms; runs that ended are not kept)`,
        { details: { field: 'run_id' } },
      );
    }
    if (last === undefined) {
      io.stderr(`no end of run ${runId} within ${timeoutMs} ms`);
      return ExitCode.Failed;
    }
    io.stdout(`run ${runId}: ${last.status}`);
    return last.status === RunStatus.Completed ? ExitCode.Ok : ExitCode.Failed;
  } finally {
    clearTimeout(timer);
    clearTimeout(probe);
    stop();
    stopSignal();
  }
}

/** A text progress bar: `[########------------]  40% 12/30 best 0.500 running`. */
export function progressBar(
  e: Pick<OptimizeEvent, 'done' | 'total' | 'best_score' | 'status'>,
  width = 20,
): string {
  const ratio = e.status === RunStatus.Completed ? 1 : e.total > 0 ? Math.min(1, e.done / e.total) : 0;
  const filled = Math.round(ratio * width);
  const best = e.best_score === null ? '-' : e.best_score.toFixed(3);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}% ${e.done}/${e.total} best ${best} ${e.status}`;
}

/** Prints the bar on stderr when it changes (events arrive every 250 ms). */
class ProgressPrinter {
  private last = '';
  constructor(private readonly io: CliIo) {}
  update(e: OptimizeEvent): void {
    const line = progressBar(e);
    if (line !== this.last) this.io.stderr(line);
    this.last = line;
  }
}

async function examplesFile(path: string, flag: string): Promise<Array<Record<string, unknown>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw usageError(`${flag}: cannot read ${path}: ${(error as Error).message}`, flag);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`${flag}: ${path} is not valid JSON: ${(error as Error).message}`, flag);
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v)))
    throw usageError(`${flag}: ${path} must hold a JSON list of example objects`, flag);
  return value as Array<Record<string, unknown>>;
}

function jsonObject(text: string, flag: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`${flag}: not valid JSON: ${(error as Error).message}`, flag);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw usageError(`${flag}: expected a JSON object`, flag);
  return value as Record<string, unknown>;
}
