/**
 * The dspex demo, end to end on this machine: a runtime node with a private nats-server and a pool
 * of Python DSPy workers; typed calls from TypeScript; the same call as any NATS client makes it;
 * a worker killed with SIGKILL in the middle of a burst; a bad request; the cluster status.
 *
 * Run: npm run demo   (installs what is missing first)
 */
import { ChainOfThought, createClient, createRuntime, DspexError, Predict, signature } from '../src/index.js';

const line = (title: string) => console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);

line('Starting a runtime node');
const t0 = Date.now();
const rt = await createRuntime({ pools: { general: { size: 2, heartbeatMs: 250 } } });
await rt.waitForWorkers('general', 2);
const workers = rt.status().pools[0]!.workers;
const lm = workers[0]?.lm ?? 'unknown';
console.log(
  `node ${rt.nodeId} on ${rt.servers[0]} (a private nats-server), 2 DSPy workers ready in ${Date.now() - t0} ms`,
);
console.log(
  lm === 'dummy'
    ? "LM: dummy — DSPy's DummyLM inside real DSPy modules and adapters; no model is called, answers are made up.\n    Set DSPEX_LM (and DSPEX_LM_API_BASE / DSPEX_LM_API_KEY) to use a real OpenAI-compatible model."
    : `LM: ${lm}`,
);

line('A typed ChainOfThought from TypeScript');
const qa = signature('question: str, context: list[str] -> answer: str, confidence: float');
const cot = new ChainOfThought(qa, { executor: rt });
const out = await cot.run({ question: 'What is the capital of France?', context: ['France is in Europe.'] });
console.log(`worker ${out.worker}, ${out.latencyMs.toFixed(1)} ms in the worker`);
console.log(out.outputs); // typed: { reasoning: string; answer: string; confidence: number }

line('The same call over the wire, as any NATS client (JSON body)');
const client = await createClient({ servers: rt.servers });
const wire = await client.predict(
  {
    module: 'ChainOfThought',
    signature: qa.toString(),
    inputs: { question: 'What is the capital of France?', context: ['France is in Europe.'] },
  },
  { encoding: 'json' },
);
console.log(`dspex.rpc.predict → ${JSON.stringify(wire.outputs)}`);

line('A burst of 40 calls while a worker is killed with SIGKILL');
const predict = new Predict(signature('question -> answer'), { executor: client });
const victim = rt.status().pools[0]!.workers[0]!;
const burst = Array.from({ length: 40 }, (_, i) =>
  predict.run({ question: `question ${i}` }).then(
    (r) => ({ ok: true as const, worker: r.worker }),
    (e: unknown) => ({ ok: false as const, error: e as DspexError }),
  ),
);
setTimeout(() => process.kill(victim.pid, 'SIGKILL'), 30);
const results = await Promise.all(burst);
const ok = results.filter((r) => r.ok).length;
console.log(
  `killed ${victim.id} (pid ${victim.pid}); ${ok}/40 calls succeeded, ${40 - ok} failed with a clear error, 0 lost`,
);
for (const r of results)
  if (!r.ok) console.log(`  ${r.error.code} (retryable: ${r.error.retryable}): ${r.error.message}`);
for (let i = 0; i < 100; i++) {
  const w = rt.status().pools[0]!.workers.find((x) => x.id === victim.id);
  if (w !== undefined && w.pid !== victim.pid && (w.state === 'ready' || w.state === 'busy')) {
    console.log(`the supervisor restarted ${victim.id} as pid ${w.pid}`);
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}

line('A bad request gets a clear error and the node keeps serving');
try {
  await client.predict({
    module: 'Predict',
    signature: 'question: str, n: int -> answer',
    inputs: { question: 'x', n: 'three' },
  });
} catch (error) {
  const e = error as DspexError;
  console.log(`${e.status} ${e.code}: ${e.message}`);
}

line('Cluster status (dspex.rpc.status)');
const status = await client.status();
for (const n of status.nodes) console.log(`node ${n.id} on ${n.host} (pid ${n.pid})`);
for (const p of status.pools) {
  console.log(`pool ${p.name}: size ${p.size}, queue ${p.queue.length}/${p.queue.limit}`);
  for (const w of p.workers)
    console.log(
      `  ${w.id.padEnd(24)} ${w.state.padEnd(8)} pid ${w.pid}  calls ${w.calls}  lm ${w.lm ?? '?'}`,
    );
}

await client.close();
await rt.stop();
line('Stopped: workers drained, nats-server stopped, nothing left running');
