/**
 * The test suite's local OpenAI-compatible server (test/harness/openai-server.ts) as its own
 * process, answering every chat completion after `--delay-ms` (no streaming unless asked): the
 * `concurrency` scenario runs it apart from the node so its HTTP work does not share the node's
 * event loop. Prints `{"baseUrl": …}` on stdout once listening, then `{"requests": n}` for every
 * line read on stdin; exits on stdin EOF.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startOpenAiServer } from '../../test/harness/openai-server.js';

const { values } = parseArgs({ options: { 'delay-ms': { type: 'string', default: '500' } } });
const delayMs = Number(values['delay-ms']);
if (!Number.isFinite(delayMs) || delayMs < 0) {
  process.stderr.write(`--delay-ms: expected a number of milliseconds, got ${values['delay-ms']}\n`);
  process.exit(2);
}
let served = 0;
const lm = await startOpenAiServer();
lm.setDefault(() => {
  served++;
  return { delayMs };
});
// The server records every request; the bench sends tens of thousands, so keep none of them.
setInterval(() => lm.requests.splice(0), 1000).unref();
process.stdout.write(JSON.stringify({ baseUrl: lm.baseUrl }) + '\n');
createInterface({ input: process.stdin })
  .on('line', () => {
    process.stdout.write(JSON.stringify({ requests: served }) + '\n');
  })
  .on('close', () => {
    void lm.close().then(() => process.exit(0));
  });
