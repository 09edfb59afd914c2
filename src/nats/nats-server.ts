import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DspexError, ErrorCode } from '../errors.js';

/** Options of a private `nats-server` child process. */
export interface NatsServerOptions {
  /** @default 'nats-server' (from PATH, env `DSPEX_NATS_SERVER_BIN` overrides) */
  bin?: string;
  /** Enable JetStream with a store in the server's temp dir (or `storeDir`). @default true */
  jetstream?: boolean;
  /** JetStream store directory, kept across restarts when given. @default a temp dir removed on stop */
  storeDir?: string;
  /** Client port; -1 picks a free one. @default -1 */
  port?: number;
  /** @default 8 MiB */
  maxPayloadBytes?: number;
  /** Server name (needed for JetStream clusters). */
  name?: string;
  /** Cluster membership: this server's cluster port (-1 = free) and the routes to its peers. */
  cluster?: { name: string; port: number; routes: string[] };
  /** Extra config text appended verbatim (tests: accounts, authorization). */
  extraConfig?: string;
  /** @default 10_000 */
  startTimeoutMs?: number;
}

/** A running `nats-server`; dispose it (or call `stop()`) to stop it and remove its temp files. */
export interface NatsServer extends AsyncDisposable {
  /** Client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Cluster URL when clustered, `nats-route://127.0.0.1:<port>`. */
  readonly clusterUrl: string | undefined;
  readonly storeDir: string | undefined;
  readonly pid: number;
  /** Stops the server and removes its temp dir (a `storeDir` given in the options is kept). */
  stop(): Promise<void>;
}

interface PortsFile {
  nats?: string[];
  cluster?: string[];
}

/**
 * Starts a private `nats-server` on loopback. The server runs under a tiny `sh` guardian that reads
 * our stdin: when this Node process dies for any reason (even SIGKILL) the pipe closes and the
 * guardian stops the server, so no orphan outlives us.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = options.bin ?? process.env.DSPEX_NATS_SERVER_BIN ?? 'nats-server';
  const dir = await mkdtemp(join(tmpdir(), 'dspex-nats-'));
  const jetstream = options.jetstream ?? true;
  const storeDir = jetstream ? (options.storeDir ?? join(dir, 'js')) : undefined;
  const lines = [
    `listen: "127.0.0.1:${options.port ?? -1}"`,
    `ports_file_dir: "${dir}"`,
    `max_payload: ${options.maxPayloadBytes ?? 8 * 1024 * 1024}`,
  ];
  if (options.name !== undefined) lines.push(`server_name: "${options.name}"`);
  if (storeDir !== undefined) lines.push(`jetstream { store_dir: "${storeDir}" }`);
  if (options.cluster !== undefined) {
    const routes = options.cluster.routes.map((r) => `"${r}"`).join(', ');
    lines.push(
      `cluster { name: "${options.cluster.name}", listen: "127.0.0.1:${options.cluster.port}", routes: [${routes}] }`,
    );
  }
  if (options.extraConfig !== undefined) lines.push(options.extraConfig);
  const configPath = join(dir, 'nats.conf');
  await writeFile(configPath, lines.join('\n') + '\n');

  const guardian =
    '"$0" -c "$1" & p=$!; trap \'kill -TERM $p 2>/dev/null; wait $p; exit 0\' TERM INT; ' +
    'cat >/dev/null; kill -TERM $p 2>/dev/null; wait $p';
  const child = spawn('sh', ['-c', guardian, bin, configPath], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  let ports: PortsFile | undefined;
  while (ports === undefined) {
    if (exited) {
      await rm(dir, { recursive: true, force: true });
      throw new DspexError(ErrorCode.Unavailable, `nats-server exited during start-up: ${stderr.trim()}`, {
        retryable: false,
      });
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new DspexError(ErrorCode.Unavailable, `nats-server did not start in time: ${stderr.trim()}`);
    }
    ports = await readPorts(dir);
    if (ports === undefined) await sleep(20);
  }
  const url = ports.nats?.[0];
  if (url === undefined) throw new DspexError(ErrorCode.Internal, 'nats-server ports file has no client URL');
  const port = Number(new URL(url).port);
  const clusterUrl = ports.cluster?.[0];
  return new RunningServer(child, dir, url, port, clusterUrl, storeDir);
}

async function readPorts(dir: string): Promise<PortsFile | undefined> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ports'));
  const first = files[0];
  if (first === undefined) return undefined;
  try {
    return JSON.parse(await readFile(join(dir, first), 'utf8')) as PortsFile;
  } catch {
    return undefined; // written but not complete yet
  }
}

class RunningServer implements NatsServer {
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly port: number,
    readonly clusterUrl: string | undefined,
    readonly storeDir: string | undefined,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.child.exitCode === null && this.child.signalCode === null) {
        const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
        this.child.stdin?.end();
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
