/**
 * What dspex adds to a DSPy call. A DummyLM `Predict` through the public wire endpoint
 * (client → `dspex.rpc.predict` → runtime node → Python worker → back) beside, in the same run:
 * the same Predict in-process in Python (the worker's own code path, no NATS), the same call sent
 * straight to a worker's subject (no node), `rt.predict()` inside the node (no client hop), the
 * worker's `{op:"ping"}` (the Python worker's floor) and a raw NATS echo (the transport floor).
 *
 * The machine is small and shared, so subjects are measured in interleaved rounds (the order
 * rotating each round) and the samples of all rounds pooled: drift hits every subject alike.
 */
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { createClient, createRuntime, type Client, type Runtime } from '../../src/index.js';
import { decode, encode, Encoding } from '../../src/protocol/codec.js';
import { Header } from '../../src/protocol/headers.js';
import { closedLoop, measureLatency, summarizeLoad, type Call, type LoadRun } from '../lib/load.js';
import { startPython, type PythonScript } from '../lib/python.js';
import { ratio, summarize } from '../lib/stats.js';
import type { BenchRow, Scenario, ScenarioResult } from '../types.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIGNATURE = 'question -> answer';
const QUESTION = 'What is the capital of France?';
const POOL = 'general';
const WORKERS = 2;
const CONCURRENCY = 8;
const ECHO_SUBJECT = 'bench.echo';

interface Sizes {
  rounds: number;
  /** Sequential calls measured per subject per round. */
  iterations: number;
  /** Discarded calls before each subject's latency probe. */
  warmup: number;
  /** Closed-loop bounds per subject per round. */
  calls: number;
  seconds: number;
  /** Predict calls made once, before any measurement, to warm the node and both workers. */
  initialWarmup: number;
}

/** A measured subject: a sequential latency probe and a closed-loop run, both on demand. */
interface Subject {
  key: string;
  latency(sizes: Sizes): Promise<number[]>;
  load(sizes: Sizes): Promise<LoadRun>;
}

/** Every call asks a new question (as the Python baseline does), so no cache answers for DSPy. */
let seq = 0;
const inputs = (): { question: string } => ({ question: `${seq++}: ${QUESTION}` });

function nodeSubject(key: string, call: Call): Subject {
  return {
    key,
    latency: (s) => measureLatency(call, { iterations: s.iterations, warmup: s.warmup, maxMs: 60_000 }),
    load: (s) => closedLoop(call, { concurrency: CONCURRENCY, maxCalls: s.calls, maxMs: s.seconds * 1000 }),
  };
}

function pythonSubject(py: PythonScript): Subject {
  return {
    key: 'python',
    latency: async (s) =>
      (
        (await py.send({ op: 'latency', warmup: s.warmup, iterations: s.iterations })) as {
          samples_ms: number[];
        }
      ).samples_ms,
    load: async (s) =>
      (await py.send(
        { op: 'load', concurrency: CONCURRENCY, calls: s.calls, seconds: s.seconds },
        s.seconds * 1000 + 60_000,
      )) as LoadRun,
  };
}

/** Throws unless a worker reply is a success carrying an `answer`. */
function checkReply(msg: { data: Uint8Array; headers?: { get(k: string): string } }): void {
  const status = msg.headers?.get(Header.ErrorCode) ?? '';
  const body = decode(msg.data, Encoding.Msgpack) as { outputs?: { answer?: unknown } };
  if (status !== '' || typeof body.outputs?.answer !== 'string') {
    throw new Error(`worker replied ${status || 'without an answer'}: ${JSON.stringify(body)}`);
  }
}

interface Pooled {
  latency: number[];
  loads: LoadRun[];
  /** CPU time of this process (user + system) while the subject ran, µs, and the calls it made. */
  cpuUs: number;
  cpuCalls: number;
}

function metrics(p: Pooled, withCpu: boolean): Record<string, number> {
  const lat = summarize(p.latency);
  const load = summarizeLoad(p.loads);
  return {
    p50_ms: lat.p50_ms,
    p99_ms: lat.p99_ms,
    per_s: load.per_s,
    load_p50_ms: load.p50_ms,
    load_p99_ms: load.p99_ms,
    ...(withCpu && { cpu_us: p.cpuUs / Math.max(1, p.cpuCalls) }),
    n: lat.n + load.calls,
  };
}

const scenario: Scenario = {
  name: 'overhead',
  description:
    'DummyLM `Predict` (`question -> answer`) through dspex beside the same Predict in-process in Python, ' +
    'the worker called directly, a worker ping and a raw NATS echo. p50/p99: sequential calls ' +
    `(concurrency 1); per_s and load_p50/p99: a closed loop of ${CONCURRENCY} callers.`,
  async run({ quick }): Promise<ScenarioResult> {
    const sizes: Sizes = quick
      ? { rounds: 1, iterations: 100, warmup: 10, calls: 400, seconds: 1.5, initialWarmup: 150 }
      : { rounds: 3, iterations: 400, warmup: 20, calls: 4000, seconds: 4, initialWarmup: 600 };
    const pooled = new Map<string, Pooled>();
    let rt: Runtime | undefined;
    let client: Client | undefined;
    let py: PythonScript | undefined;
    const conns: NatsConnection[] = [];
    let pyInfo: { startup_ms: number; dspy_version: string };
    let workers: string[];
    try {
      // Start the baseline first and let it finish importing DSPy before the runtime starts, so
      // neither start-up competes with the other for the two cores.
      py = startPython(root, 'predict_inprocess.py', ['--signature', SIGNATURE, '--question', QUESTION]);
      pyInfo = (await py.next(180_000)) as typeof pyInfo;
      rt = await createRuntime({
        pools: { [POOL]: { size: WORKERS } },
        logger: pino({ level: 'error' }, pino.destination(2)),
      });
      await rt.waitForWorkers(POOL, WORKERS);
      workers = rt
        .status()
        .pools.find((p) => p.name === POOL)!
        .workers.filter((w) => w.state === 'ready')
        .map((w) => w.id);
      if (workers.length < WORKERS) throw new Error(`only ${workers.length} ready workers`);
      client = await createClient({ servers: rt.servers });
      // The echo responder and the raw caller each get their own connection, like client and node.
      const responder = await connect({ servers: rt.servers, name: 'bench-echo-responder' });
      const caller = await connect({ servers: rt.servers, name: 'bench-raw-caller' });
      conns.push(responder, caller);
      responder.subscribe(ECHO_SUBJECT, {
        callback: (err, msg) => {
          if (err === null) msg.respond(msg.data);
        },
      });
      await responder.flush();

      const echoBody = encode(
        { module: 'Predict', signature: SIGNATURE, inputs: inputs() },
        Encoding.Msgpack,
      );
      const echo: Call = async () => {
        const msg = await caller.request(ECHO_SUBJECT, echoBody, { timeout: 5000 });
        if (msg.data.length !== echoBody.length) throw new Error('echo reply differs from the request');
      };
      const pingBody = encode({ op: 'ping' }, Encoding.Msgpack);
      const ids = workers;
      const workerSubject = (lane: number): string => `dspex.pool.${POOL}.${ids[lane % ids.length]}`;
      const ping: Call = async (lane) => {
        const msg = await caller.request(workerSubject(lane), pingBody, { timeout: 5000 });
        if ((decode(msg.data, Encoding.Msgpack) as { pong?: unknown }).pong !== true)
          throw new Error('no pong');
      };
      // Lanes are bound to workers, so each gets CONCURRENCY / WORKERS calls: its own limit (4),
      // as the node's least-loaded routing spreads them.
      const direct: Call = async (lane) => {
        const h = natsHeaders();
        h.set(Header.Deadline, String(Date.now() + 60_000));
        const body = {
          op: 'predict',
          id: randomUUID(),
          module: 'Predict',
          signature: SIGNATURE,
          inputs: inputs(),
        };
        const msg = await caller.request(workerSubject(lane), encode(body, Encoding.Msgpack), {
          timeout: 60_000,
          headers: h,
        });
        checkReply(msg);
      };
      const c = client;
      const viaClient: Call = async () => {
        const reply = await c.predict({ module: 'Predict', signature: SIGNATURE, inputs: inputs() });
        if (typeof reply.outputs.answer !== 'string') throw new Error('no answer');
      };
      const node = rt;
      const inNode: Call = async () => {
        const reply = await node.predict({ module: 'Predict', signature: SIGNATURE, inputs: inputs() });
        if (typeof reply.outputs.answer !== 'string') throw new Error('no answer');
      };

      // Warm both workers (through the node) and the baseline with the same number of calls.
      await closedLoop(viaClient, { concurrency: CONCURRENCY, maxCalls: sizes.initialWarmup, maxMs: 60_000 });
      await py.send({ op: 'latency', warmup: sizes.initialWarmup, iterations: 0 }, 120_000);

      const subjects: Subject[] = [
        nodeSubject('client', viaClient),
        nodeSubject('inNode', inNode),
        nodeSubject('direct', direct),
        pythonSubject(py),
        nodeSubject('ping', ping),
        nodeSubject('echo', echo),
      ];
      for (const s of subjects) pooled.set(s.key, { latency: [], loads: [], cpuUs: 0, cpuCalls: 0 });
      for (let round = 0; round < sizes.rounds; round++) {
        const order = subjects.map((_, i) => subjects[(i + round) % subjects.length]!);
        for (const s of order) {
          const p = pooled.get(s.key)!;
          const cpu = process.cpuUsage();
          const latency = await s.latency(sizes);
          const load = await s.load(sizes);
          const used = process.cpuUsage(cpu);
          p.latency.push(...latency);
          p.loads.push(load);
          p.cpuUs += used.user + used.system;
          p.cpuCalls += sizes.warmup + latency.length + load.samples_ms.length;
        }
      }
    } finally {
      await py?.close();
      await client?.close().catch(() => undefined);
      for (const nc of conns) await nc.close().catch(() => undefined);
      await rt?.stop();
    }

    const get = (k: string): Pooled => pooled.get(k)!;
    const [client_, direct_, python_, echo_] = [get('client'), get('direct'), get('python'), get('echo')];
    const p50 = (p: Pooled): number => summarize(p.latency).p50_ms;
    const p99 = (p: Pooled): number => summarize(p.latency).p99_ms;
    const rate = (p: Pooled): number => summarizeLoad(p.loads).per_s;
    const cpuPer = (p: Pooled): number => p.cpuUs / Math.max(1, p.cpuCalls);
    const rows: BenchRow[] = [
      {
        subject: 'dspex predict: createClient → dspex.rpc.predict → node → worker',
        baseline: false,
        metrics: metrics(client_, true),
      },
      {
        subject: 'dspex rt.predict() inside the node (no client hop)',
        baseline: false,
        metrics: metrics(get('inNode'), true),
      },
      {
        subject: 'worker predict sent straight to dspex.pool.general.<id> (no node)',
        baseline: false,
        metrics: metrics(direct_, true),
      },
      {
        subject: 'Python in-process Predict, same code path (1 process)',
        baseline: true,
        metrics: metrics(python_, false),
      },
      {
        subject: 'worker {op:"ping"} on dspex.pool.general.<id>',
        baseline: true,
        metrics: metrics(get('ping'), true),
      },
      {
        subject: 'raw NATS request/reply echo (Node responder)',
        baseline: true,
        metrics: metrics(echo_, true),
      },
    ];
    return {
      rows,
      ratios: {
        'predict p50 dspex/python x': ratio(p50(client_), p50(python_)),
        'predict p99 dspex/python x': ratio(p99(client_), p99(python_)),
        'predict calls/s dspex/python x': ratio(rate(client_), rate(python_)),
        'predict p50 dspex/raw echo x': ratio(p50(client_), p50(echo_)),
        'p50 added by dspex over in-process ms': p50(client_) - p50(python_),
        'p50 added by the node (client − direct) ms': p50(client_) - p50(direct_),
        'p50 added by the worker transport (direct − python) ms': p50(direct_) - p50(python_),
        'goal: p50 added over in-process / (2 × echo p50 + 0.1 ms) x':
          (p50(client_) - p50(python_)) / (2 * p50(echo_) + 0.1),
        'CPU per call, client − direct (node + createClient) µs': cpuPer(client_) - cpuPer(direct_),
      },
      notes: [
        `dspex: one runtime, pool ${POOL} of ${WORKERS} workers (zygote launcher, concurrency 4 each), its private ` +
          `nats-server on loopback. Python baseline: one process, one asyncio loop (${CONCURRENCY} tasks under ` +
          `load), dspy ${pyInfo.dspy_version}: it has one core's worth of GIL where the pool has two processes`,
        `${sizes.rounds} interleaved round(s), subject order rotating; per subject and round: ${sizes.warmup} ` +
          `warm-up + ${sizes.iterations} sequential calls, then a closed loop of ${CONCURRENCY} callers ` +
          `(at most ${sizes.calls} calls or ${sizes.seconds} s); ${sizes.initialWarmup} warm-up predicts first ` +
          `through dspex and in Python`,
        'every predict asks a distinct question (a sequence number prefix), in dspex and in Python alike',
        'straight-to-worker rows bind callers to workers (4 each under load), as the node spreads calls',
        'cpu_us: CPU time (user + system) of this process per call (warm-up included): the caller, and for the ' +
          'dspex rows the node too; client − direct is the node’s work per call plus createClient’s over a raw ' +
          'request, heartbeats the node handles meanwhile included',
        `the baseline's start-up (import dspy, litellm, warm-up) took ${Math.round(pyInfo.startup_ms)} ms, not counted`,
      ],
    };
  },
};

export default scenario;
