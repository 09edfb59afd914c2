import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { DspexError, ErrorCode } from '../errors.js';
import { pipePythonLog } from '../telemetry/python-logs.js';
import type { NatsAuth } from '../nats/nats-connect.js';
import { HANDOFF_FD, handoffJson } from './connection.js';

/** How a pool's local worker processes are started. */
export interface WorkerLaunchOptions {
  /** The worker command, e.g. `['/path/.venv/bin/dspex-worker']`. */
  command: string[];
  /** Server URLs the workers connect to, without credentials (they are on the workers' argv). */
  servers: string[];
  /** Login, TLS and inbox prefix of the workers: handed over on a pipe, never argv or env. */
  auth: NatsAuth;
  /** The key of worker `id` from the cluster worker secret; unset in open mode. */
  keyOf?: (id: string) => Buffer;
  prefix: string;
  pool: string;
  nodeId: string;
  concurrency: number;
  heartbeatMs: number;
  /** DSPy model name for the workers (`DSPEX_LM`); unset keeps the worker's default. */
  lm: string | undefined;
  /** The workers' whole environment (see worker-env.ts): not the node's. */
  env: Record<string, string>;
  /** Devices the pool owns: each worker gets one in `CUDA_VISIBLE_DEVICES` ({@link DeviceAssigner}). */
  devices?: readonly string[] | undefined;
  logger: Logger;
}

/**
 * Which of a pool's devices each of its live workers holds: a new worker gets the device the
 * fewest live workers hold (the first such in the list), so a pool of N workers on N devices gives
 * each its own, and a restarted worker takes the one its predecessor freed.
 */
export class DeviceAssigner {
  private readonly held = new Map<string, string>();

  constructor(private readonly devices: readonly string[]) {}

  /** The device for worker `id` (replacing what it held), or undefined when the pool owns none. */
  take(id: string): string | undefined {
    if (this.devices.length === 0) return undefined;
    this.held.delete(id);
    const count = new Map<string, number>(this.devices.map((d) => [d, 0]));
    for (const d of this.held.values()) count.set(d, (count.get(d) ?? 0) + 1);
    let best = this.devices[0]!;
    for (const d of this.devices) if (count.get(d)! < count.get(best)!) best = d;
    this.held.set(id, best);
    return best;
  }

  release(id: string): void {
    this.held.delete(id);
  }

  /** Worker id → device, for status and tests. */
  holders(): ReadonlyMap<string, string> {
    return this.held;
  }
}

/** The extra environment of worker `id`: its device, if the pool owns any. */
function deviceEnv(devices: DeviceAssigner, id: string): Record<string, string> {
  const device = devices.take(id);
  return device === undefined ? {} : { CUDA_VISIBLE_DEVICES: device };
}

export interface WorkerExitInfo {
  id: string;
  pid: number;
  code: number | null;
  signal: string | null;
}

/**
 * Starts and signals the worker processes of one pool on this host. `exit` events report every
 * process that ended, whatever the cause.
 */
export interface WorkerLauncher {
  /**
   * Starts a worker process; `onExit` is called once when this very process ends (a restart under
   * the same id is a new process with its own callback).
   */
  spawn(id: string, onExit: (info: WorkerExitInfo) => void): Promise<number>;
  signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): void;
  onExit(listener: (info: WorkerExitInfo) => void): () => void;
  /** Stops every process of this launcher (SIGTERM, then SIGKILL after `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

function workerArgs(o: WorkerLaunchOptions): string[] {
  const args = [
    '--nats',
    o.servers.join(','),
    '--secrets-fd',
    String(HANDOFF_FD),
    '--pool',
    o.pool,
    '--prefix',
    o.prefix,
    '--node',
    o.nodeId,
    '--concurrency',
    String(o.concurrency),
    '--heartbeat-ms',
    String(o.heartbeatMs),
  ];
  if (o.lm !== undefined) args.push('--lm', o.lm);
  return args;
}

/** stdio of a worker process: the handoff pipe is fd 3. */
type Stdio = ['pipe', 'pipe' | 'ignore', 'pipe', 'pipe'];

/** Writes the handoff on the child's fd 3 and closes it; a child that died early is reported by its exit. */
function handOff(child: ChildProcess, json: string): void {
  const pipe = child.stdio[HANDOFF_FD] as Writable | null | undefined;
  if (pipe === null || pipe === undefined) return;
  pipe.on('error', () => undefined);
  pipe.end(json);
}

const signalName = (signal: number | null): string | null => {
  if (signal === null) return null;
  const names: Record<number, string> = {
    9: 'SIGKILL',
    15: 'SIGTERM',
    2: 'SIGINT',
    6: 'SIGABRT',
    11: 'SIGSEGV',
  };
  return names[signal] ?? `signal ${signal}`;
};

interface ZygoteEvent {
  event: 'ready' | 'spawned' | 'exited' | 'error';
  id?: string;
  pid?: number;
  code?: number | null;
  signal?: number | null;
  message?: string;
}

/**
 * Launches workers by forking them from one pre-imported Python parent (the zygote), so a pool of N
 * workers costs one DSPy import instead of N. The zygote reads commands on stdin and reports on
 * stdout; when this process dies its stdin closes and the zygote stops its children.
 */
export class ZygoteLauncher implements WorkerLauncher {
  private readonly events = new EventEmitter();
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<
    string,
    { resolve: (pid: number) => void; reject: (e: Error) => void; onExit: (info: WorkerExitInfo) => void }
  >();
  private readonly exitHandlers = new Map<number, (info: WorkerExitInfo) => void>();
  private readonly live = new Map<string, number>();
  private closing = false;
  readonly devices: DeviceAssigner;

  constructor(private readonly options: WorkerLaunchOptions) {
    this.devices = new DeviceAssigner(options.devices ?? []);
  }

  /** Starts the zygote now rather than at the first spawn (warm start). */
  start(): Promise<void> {
    this.ready ??= this.startZygote();
    return this.ready;
  }

  private startZygote(): Promise<void> {
    const [bin, ...pre] = this.options.command;
    if (bin === undefined) throw new DspexError(ErrorCode.Internal, 'empty worker command');
    const stdio: Stdio = ['pipe', 'pipe', 'pipe', 'pipe'];
    const child = spawn(bin, [...pre, '--zygote', ...workerArgs(this.options)], {
      stdio,
      env: this.options.env,
    });
    this.child = child;
    // The zygote's children inherit the login; each one's key comes with its spawn command.
    handOff(child, handoffJson(this.options.auth));
    const log = this.options.logger.child({ pool: this.options.pool, zygote: child.pid });
    pipePythonLog(child.stderr, log);
    return new Promise<void>((resolve, reject) => {
      child.once('error', (error) =>
        reject(
          new DspexError(ErrorCode.Unavailable, `cannot start ${bin}: ${error.message}`, { cause: error }),
        ),
      );
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let event: ZygoteEvent;
        try {
          event = JSON.parse(line) as ZygoteEvent;
        } catch {
          log.warn({ line }, 'zygote wrote a line that is not JSON');
          return;
        }
        this.handle(event, resolve);
      });
      child.once('exit', (code, signal) => {
        log.warn({ code, signal }, 'worker zygote exited');
        reject(
          new DspexError(ErrorCode.Unavailable, `worker zygote exited (${code ?? signal}) before ready`),
        );
        this.ready = undefined;
        this.child = undefined;
        // Its children die with it (PDEATHSIG); report them so their supervisors restart them.
        for (const [id, pid] of this.live)
          this.events.emit('exit', { id, pid, code: null, signal: 'SIGKILL' });
        this.live.clear();
        for (const [id, p] of this.pending)
          p.reject(new DspexError(ErrorCode.Unavailable, `zygote died spawning ${id}`));
        this.pending.clear();
      });
    });
  }

  private handle(event: ZygoteEvent, ready: () => void): void {
    switch (event.event) {
      case 'ready':
        ready();
        return;
      case 'spawned': {
        if (event.id === undefined || event.pid === undefined) return;
        const pending = this.pending.get(event.id);
        this.pending.delete(event.id);
        this.live.set(event.id, event.pid);
        if (pending !== undefined) this.exitHandlers.set(event.pid, pending.onExit);
        pending?.resolve(event.pid);
        return;
      }
      case 'exited': {
        if (event.id === undefined) return;
        if (this.live.get(event.id) === event.pid) {
          this.live.delete(event.id);
          if (!this.pending.has(event.id)) this.devices.release(event.id);
        }
        this.exited({
          id: event.id,
          pid: event.pid ?? -1,
          code: event.code ?? null,
          signal: signalName(event.signal ?? null),
        });
        return;
      }
      case 'error': {
        const id = event.id;
        if (id === undefined) return;
        this.pending.get(id)?.reject(new DspexError(ErrorCode.Unavailable, event.message ?? 'spawn failed'));
        this.pending.delete(id);
        return;
      }
      default: {
        const never: never = event.event;
        this.options.logger.warn({ event: never }, 'unknown zygote event');
      }
    }
  }

  private exited(info: WorkerExitInfo): void {
    const handler = this.exitHandlers.get(info.pid);
    this.exitHandlers.delete(info.pid);
    handler?.(info);
    this.events.emit('exit', info);
  }

  async spawn(id: string, onExit: (info: WorkerExitInfo) => void): Promise<number> {
    if (this.closing) throw new DspexError(ErrorCode.Unavailable, 'launcher is closing');
    await this.start();
    // A restart reuses the id of a process that was just killed: wait for the zygote to reap it,
    // or it refuses the spawn as a duplicate.
    if (this.live.has(id)) await this.exitOf(id, 5000);
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onExit });
      const key = this.options.keyOf?.(id).toString('hex');
      const env = deviceEnv(this.devices, id);
      const command = {
        op: 'spawn',
        id,
        ...(key !== undefined && { key }),
        ...(Object.keys(env).length > 0 && { env }),
      };
      this.child?.stdin?.write(JSON.stringify(command) + '\n');
    });
  }

  private exitOf(id: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const listener = (info: WorkerExitInfo): void => {
        if (info.id === id) done();
      };
      function done(): void {
        clearTimeout(timer);
        off();
        resolve();
      }
      const off = this.onExit(listener);
    });
  }

  signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): void {
    const pid = this.live.get(id);
    if (pid === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      // already gone; the zygote reports its exit
    }
  }

  onExit(listener: (info: WorkerExitInfo) => void): () => void {
    this.events.on('exit', listener);
    return () => this.events.off('exit', listener);
  }

  async close(graceMs = 35_000): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // EOF on stdin: the zygote terminates its children, waits for them, and exits.
    child.stdin?.end();
    const timer = setTimeout(() => {
      for (const pid of this.live.values()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Launches each worker as its own process (`--watch-stdin`: it exits when we die). Each start pays a
 * full DSPy import; kept for comparison in the start-up bench and for hosts where fork is unwanted.
 */
export class DirectLauncher implements WorkerLauncher {
  private readonly events = new EventEmitter();
  private readonly children = new Map<string, ChildProcess>();
  readonly devices: DeviceAssigner;

  constructor(private readonly options: WorkerLaunchOptions) {
    this.devices = new DeviceAssigner(options.devices ?? []);
  }

  spawn(id: string, onExit: (info: WorkerExitInfo) => void): Promise<number> {
    const [bin, ...pre] = this.options.command;
    if (bin === undefined) throw new DspexError(ErrorCode.Internal, 'empty worker command');
    const stdio: Stdio = ['pipe', 'ignore', 'pipe', 'pipe'];
    const child = spawn(bin, [...pre, '--watch-stdin', '--id', id, ...workerArgs(this.options)], {
      stdio,
      env: { ...this.options.env, ...deviceEnv(this.devices, id) },
    });
    this.children.set(id, child);
    handOff(child, handoffJson(this.options.auth, this.options.keyOf?.(id)));
    pipePythonLog(child.stderr, this.options.logger.child({ pool: this.options.pool, worker: id }));
    child.once('exit', (code, signal) => {
      if (this.children.get(id) === child) {
        this.children.delete(id);
        this.devices.release(id);
      }
      const info = { id, pid: child.pid ?? -1, code, signal };
      onExit(info);
      this.events.emit('exit', info);
    });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? -1));
      child.once('error', (error) =>
        reject(
          new DspexError(ErrorCode.Unavailable, `cannot start ${bin}: ${error.message}`, { cause: error }),
        ),
      );
    });
  }

  signal(id: string, signal: 'SIGTERM' | 'SIGKILL'): void {
    this.children.get(id)?.kill(signal);
  }

  onExit(listener: (info: WorkerExitInfo) => void): () => void {
    this.events.on('exit', listener);
    return () => this.events.off('exit', listener);
  }

  async close(graceMs = 35_000): Promise<void> {
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
