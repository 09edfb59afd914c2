import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { isDspexError } from '../errors.js';
import { resolveConfig, type RuntimeConfig } from '../runtime/config.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import { ExitCode, parseFlags, type Command } from './command.js';
import {
  envLayer,
  finishConfig,
  flagsLayer,
  loadConfigFile,
  mergeLayers,
  resolveLogLevel,
  type LogLevel,
} from './node-config.js';

export interface NodeCommandOptions {
  config: RuntimeConfig;
  logLevel: LogLevel;
}

const HELP = `Usage: dspex node [options]

Runs a dspex runtime node: connects to NATS (or starts a private nats-server), keeps its
pools of Python DSPy workers running, and serves the public dspex service (dspex.rpc.*).
Prints "dspex node <id> ready on <url>" on stdout once every pool's local workers are
ready; logs JSON lines to stderr. SIGTERM or SIGINT drains calls, stops the workers and
exits 0.

Options (flags win over DSPEX_* environment variables, which win over the config file):
  --config FILE        JSON runtime config (see docs/configuration.md)
  --nats URL[,URL]     NATS server URL(s), tls:// for TLS              env DSPEX_NATS_URL
                       unset: start a private nats-server and print its URL
                       Log in with DSPEX_NATS_USER + DSPEX_NATS_PASSWORD, DSPEX_NATS_TOKEN,
                       or a file below; credentials inline in the URL work but are visible
                       in the process list
  --nats-creds FILE    .creds file (operator/JWT mode)           env DSPEX_NATS_CREDS_FILE
  --nats-nkey FILE     nkey seed file                            env DSPEX_NATS_NKEY_SEED_FILE
  --tls-ca FILE        CA of the server's certificate            env DSPEX_NATS_TLS_CA
  --tls-cert FILE      client certificate                        env DSPEX_NATS_TLS_CERT
  --tls-key FILE       its key                                   env DSPEX_NATS_TLS_KEY
  --inbox-prefix P     the node's inbox prefix (default _INBOX_node)
                                                                 env DSPEX_NATS_INBOX_PREFIX
  --node-id ID         this node's id (default n-<8 hex>)            env DSPEX_NODE_ID
  --pool NAME=SIZE     local workers of a pool; repeatable; 0 = route only to workers
                       started elsewhere (default: general=2)
  --lm NAME            DSPy model of the workers, e.g. openai/gpt-4o-mini or dummy
                                                                      env DSPEX_LM
  --worker-nats URL    NATS URL(s) the local workers use (default: the node's)
                                                                 env DSPEX_WORKER_NATS_URL
                       Workers log in with DSPEX_WORKER_NATS_USER/PASSWORD/TOKEN/
                       NKEY_SEED_FILE/CREDS_FILE/TLS_CERT/TLS_KEY (default: the node's,
                       with a warning); they get them on a pipe, never argv or env
  --worker-secret-file FILE
                       cluster worker secret: workers sign heartbeats and replies, the
                       node drops forgeries (docs/security.md) env DSPEX_WORKER_SECRET_FILE
  --metrics-port N     serve /metrics, /healthz and /readyz over HTTP on port N (0: any
                       free port, logged); off by default       env DSPEX_METRICS_PORT
  --metrics-host ADDR  address to listen on (default 127.0.0.1) env DSPEX_METRICS_HOST
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent      env DSPEX_LOG_LEVEL
  -h, --help           show this help
Also read from the environment: DSPEX_PREFIX (subject prefix).

Exit codes: 0 stopped by a signal, 1 failed to start, 2 bad flags or config.`;

/** `dspex node`: runs a runtime node until SIGTERM/SIGINT. */
export const nodeCommand: Command<NodeCommandOptions> = {
  name: 'node',
  summary: 'run a runtime node (workers + the dspex service)',
  help: HELP,

  async parse(argv, env) {
    const { values } = parseFlags(() =>
      parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          config: { type: 'string' },
          nats: { type: 'string' },
          'nats-creds': { type: 'string' },
          'nats-nkey': { type: 'string' },
          'tls-ca': { type: 'string' },
          'tls-cert': { type: 'string' },
          'tls-key': { type: 'string' },
          'inbox-prefix': { type: 'string' },
          'worker-secret-file': { type: 'string' },
          'node-id': { type: 'string' },
          pool: { type: 'string', multiple: true },
          lm: { type: 'string' },
          'worker-nats': { type: 'string' },
          'log-level': { type: 'string' },
          'metrics-port': { type: 'string' },
          'metrics-host': { type: 'string' },
        },
      }),
    );
    const file = values.config === undefined ? {} : await loadConfigFile(values.config);
    const flags = flagsLayer({
      nats: values.nats,
      natsCreds: values['nats-creds'],
      natsNkey: values['nats-nkey'],
      tlsCa: values['tls-ca'],
      tlsCert: values['tls-cert'],
      tlsKey: values['tls-key'],
      inboxPrefix: values['inbox-prefix'],
      workerSecretFile: values['worker-secret-file'],
      nodeId: values['node-id'],
      pools: values.pool,
      lm: values.lm,
      workerNats: values['worker-nats'],
      metricsPort: values['metrics-port'],
      metricsHost: values['metrics-host'],
    });
    return {
      config: finishConfig(mergeLayers(file, envLayer(env), flags)),
      logLevel: resolveLogLevel(values['log-level'], env),
    };
  },

  async run({ config, logLevel }, io) {
    const logger = pino({ level: logLevel }, pino.destination(2));
    // Signals are caught before anything starts, so a node stopped during start-up still stops its
    // workers and private server instead of dying with them half started.
    let signalled: NodeJS.Signals | undefined;
    let onStop: (() => void) | undefined;
    const stopRequested = new Promise<void>((resolve) => (onStop = resolve));
    const offSignal = io.onSignal((signal) => {
      if (signalled !== undefined) {
        logger.warn({ signal }, 'second signal while stopping: exiting now');
        process.exit(ExitCode.Failed);
      }
      signalled = signal;
      logger.info({ signal }, 'stopping on signal');
      onStop?.();
    });
    let rt: Runtime | undefined;
    try {
      rt = await createRuntime({ ...config, logger, lastResort: true });
      if (signalled === undefined) {
        // waitForWorkers ends at once when the node fails; the race makes it explicit.
        const ready = await Promise.race([
          waitForPools(rt, config).then(() => true),
          stopRequested.then(() => false),
          rt.failed,
        ]);
        if (ready instanceof Error) throw ready;
        if (ready) io.stdout(`dspex node ${rt.nodeId} ready on ${rt.servers.join(',')}`);
      }
      const failure = await Promise.race([stopRequested.then(() => undefined), rt.failed]);
      await rt.stop();
      if (failure !== undefined) {
        io.stderr(`dspex node: ${failure.message}`);
        return ExitCode.Failed;
      }
      return ExitCode.Ok;
    } catch (error) {
      // A first-run error (no NATS, a refused login, no JetStream, no worker) names its fix in its
      // one line; only an unexpected failure gets the stack in the log too.
      if (!isDspexError(error) || error.details?.fix === undefined)
        logger.error({ err: error }, 'node failed');
      io.stderr(`dspex node: ${error instanceof Error ? error.message : String(error)}`);
      await rt?.stop().catch(() => undefined);
      return ExitCode.Failed;
    } finally {
      offSignal();
      logger.flush();
    }
  },
};

/** Resolves once every pool with local workers has all of them ready (other hosts' do not count). */
async function waitForPools(rt: Runtime, config: RuntimeConfig): Promise<void> {
  const pools = Object.entries(resolveConfig(config).pools);
  await Promise.all(
    pools
      .filter(([, pool]) => pool.size > 0)
      .map(([name, pool]) => rt.waitForWorkers(name, pool.size, pool.startTimeoutMs, { local: true })),
  );
}
