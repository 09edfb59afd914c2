import { z } from 'zod';
import { NatsAuthSchema, oneLogin } from '../nats/nats-connect.js';
import { isForbiddenWorkerEnv } from './env.js';

/** How a node starts its local workers (`worker` of the runtime config). */
export const WorkerOptionsSchema = z.strictObject({
  /**
   * Worker command. @default env `DSPEX_WORKER_BIN`, else this package's `python/.venv`, else the
   * venv of `dspex worker install` in the user cache dir, else `dspex-worker` on PATH
   */
  command: z.array(z.string().min(1)).min(1).optional(),
  /** `zygote` forks workers from one pre-imported Python parent; `direct` starts each alone. */
  launcher: z.enum(['zygote', 'direct']).default('zygote'),
  /**
   * NATS URL(s) the local workers connect to. Credentials written in it (`nats://worker:pw@host`)
   * are handed to the workers on a pipe, never on their command line. @default the node's servers
   */
  natsUrl: z.string().min(1).optional(),
  /**
   * How local workers log in (`user`/`pass`, `token`, `nkeySeedFile`, `credsFile`), their TLS
   * and inbox prefix (default `_INBOX_worker`). Unset login or TLS: the node's own (logged as a
   * warning: give workers the `worker` user of nats.conf). Handed over on a pipe, never argv/env.
   */
  nats: NatsAuthSchema.superRefine(oneLogin).optional(),
  /**
   * Cluster worker secret (at least 16 bytes): workers sign heartbeats and replies with a key
   * derived from it and their id, and nodes drop what does not verify (docs/security.md).
   * Prefer `secretFile`. Unset: open mode, worker identity is not checked.
   */
  secret: z.string().min(1).optional(),
  /**
   * File holding the cluster worker secret on its first line; further lines are previous secrets
   * still accepted during a rotation (docs/security.md).
   */
  secretFile: z.string().min(1).optional(),
  /**
   * Names of further variables of the node's environment to pass to local workers. Workers get
   * an explicit environment (docs/security.md), never the node's whole one; NATS and dspex
   * credentials cannot be named here.
   */
  passEnv: z
    .array(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
        .refine((name) => !isForbiddenWorkerEnv(name), 'NATS and dspex credentials never reach a worker'),
    )
    .default([]),
  /** Environment variables (values) for every pool's workers; a pool's `env` wins. */
  env: z.record(z.string(), z.string()).default({}),
  /** Default DSPy model name for every pool. @default env `DSPEX_LM`, else the worker's `dummy` */
  lm: z.string().min(1).optional(),
});
export type WorkerOptions = z.input<typeof WorkerOptionsSchema>;
export type ResolvedWorkerOptions = z.output<typeof WorkerOptionsSchema>;
