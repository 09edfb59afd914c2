"""``dspex-worker``: serve DSPy modules to a dspex pool over NATS.

Modes: one worker (default); ``--count N`` workers forked from one pre-imported parent; ``--zygote``,
a fork server driven over stdin/stdout by the Node runtime (see zygote.py).

Nothing secret is taken from the command line: NATS credentials and the worker key come from the
node's pipe (``--secrets-fd``), the environment (``DSPEX_NATS_*``, ``DSPEX_WORKER_KEY``; removed from
``os.environ`` once read) or files (see connection.py, identity.py and docs/security.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys

from . import __version__
from .connection import ConnectionConfigError, read_handoff, resolve, take_secret_env
from .identity import parse_key, read_key_file
from .logs import configure_logging
from .worker import DUMMY_CONCURRENCY, IO_BOUND_CONCURRENCY, WorkerOptions

log = logging.getLogger("dspex_worker")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dspex-worker", description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--nats", default=None,
                   help="NATS server URL(s), comma-separated, tls:// for TLS "
                        "(env DSPEX_NATS_URL; default nats://127.0.0.1:4222)")
    p.add_argument("--nats-user", default=None, help="NATS user (password from --nats-password-file or "
                                                     "env DSPEX_NATS_PASSWORD; env DSPEX_NATS_USER)")
    p.add_argument("--nats-password-file", default=None, help="file whose first line is the NATS password")
    p.add_argument("--nats-token-file", default=None, help="file whose first line is the NATS token "
                                                           "(env DSPEX_NATS_TOKEN)")
    p.add_argument("--nkey-seed-file", default=None, help="nkey seed file (env DSPEX_NATS_NKEY_SEED_FILE)")
    p.add_argument("--creds", default=None, help=".creds file, operator/JWT mode (env DSPEX_NATS_CREDS_FILE)")
    p.add_argument("--tls-ca", default=None, help="CA of the server's certificate (env DSPEX_NATS_TLS_CA)")
    p.add_argument("--tls-cert", default=None, help="client certificate (env DSPEX_NATS_TLS_CERT)")
    p.add_argument("--tls-key", default=None, help="client certificate key (env DSPEX_NATS_TLS_KEY)")
    p.add_argument("--inbox-prefix", default=None,
                   help="inbox prefix for replies to this worker (env DSPEX_NATS_INBOX_PREFIX; default _INBOX_worker)")
    p.add_argument("--worker-key-file", default=None,
                   help="this worker's key, as `dspex worker key --id ID` prints it (env DSPEX_WORKER_KEY)")
    p.add_argument("--secrets-fd", type=int, default=None, help=argparse.SUPPRESS)  # the node's handoff pipe
    p.add_argument("--pool", default=None, help="pool name (required)")
    p.add_argument("--id", default=None, help="worker id (default <pool>-<8 hex>)")
    p.add_argument("--concurrency", type=_positive, default=None,
                   help=f"max in-flight calls (default {IO_BOUND_CONCURRENCY} with a real LM, "
                        f"{DUMMY_CONCURRENCY} with the dummy LM)")
    p.add_argument("--heartbeat-ms", type=_positive, default=1000, help="heartbeat period (default 1000)")
    p.add_argument("--prefix", default="dspex", help="subject prefix (default dspex)")
    p.add_argument("--node", default=None, help="id of the runtime node that spawned this worker")
    p.add_argument("--lm", default=None, help="LM name, overrides env DSPEX_LM (default dummy)")
    p.add_argument("--watch-stdin", action="store_true", help="exit cleanly when stdin reaches EOF")
    p.add_argument("--count", type=_positive, default=None, help="start N workers forked from one parent")
    p.add_argument("--zygote", action="store_true", help="fork server driven by JSON lines on stdin")
    p.add_argument("--max-payload", type=_positive, default=1024 * 1024,
                   help="largest accepted request body in bytes (default 1 MiB)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``dspex-worker``: runs the chosen mode, then exits the process at once.

    Interpreter teardown after importing DSPy and litellm takes seconds (module graph, atexit hooks,
    helper threads) and would hold up the node that waits for this process; by the time a mode
    returns every call is answered and every child reaped, so logs are flushed and we leave.
    """
    code = _run(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _run(argv: list[str] | None) -> int:
    from .lm import resolve_name

    args = parser().parse_args(argv)
    # Secrets first: out of the environment before anything else runs, off the pipe before it can fill.
    secret_env = take_secret_env(os.environ)
    try:
        handoff = None if args.secrets_fd is None else read_handoff(args.secrets_fd)
    except ConnectionConfigError as exc:
        parser().error(str(exc))
    if not args.pool:
        parser().error("--pool is required")
    if args.zygote and args.count:
        parser().error("--zygote and --count are exclusive")
    explicit_id = args.id is not None
    worker_id = args.id or f"{args.pool}-{secrets.token_hex(4)}"
    try:
        settings = resolve(
            nats_flag=args.nats, env=os.environ, secret_env=secret_env, handoff=handoff,
            flags={"nats_user": args.nats_user, "nats_password_file": args.nats_password_file,
                   "nats_token_file": args.nats_token_file, "nkey_seed_file": args.nkey_seed_file,
                   "creds": args.creds, "tls_ca": args.tls_ca, "tls_cert": args.tls_cert,
                   "tls_key": args.tls_key, "inbox_prefix": args.inbox_prefix},
        )
        keys = _worker_keys(args, secret_env, handoff)
    except ConnectionConfigError as exc:
        parser().error(str(exc))
    if args.count and "" in keys:
        parser().error("--count with one worker key: each worker needs the key of its own id "
                       "(dspex worker key --id ID-0 --id ID-1 …) and an explicit --id ID")
    lm = resolve_name(args.lm)
    concurrency = args.concurrency or (DUMMY_CONCURRENCY if lm == "dummy" else IO_BOUND_CONCURRENCY)
    opts = WorkerOptions(
        nats=settings, pool=args.pool, id=worker_id, concurrency=concurrency,
        heartbeat_ms=args.heartbeat_ms, prefix=args.prefix, node=args.node, lm=lm,
        watch_stdin=args.watch_stdin, max_payload=args.max_payload, keys=keys,
    )
    if args.zygote:
        configure_logging(f"zygote {args.pool}")
        from .zygote import run_zygote

        return run_zygote(opts)
    if args.count:
        configure_logging(f"{args.pool} x{args.count}")
        from .supervisor import run_count

        return run_count(opts, args.count, explicit_id)
    configure_logging(worker_id)
    from .bootstrap import import_dspy, warm_up
    from .serve import serve

    import_dspy()
    warm_up()
    return serve(opts)


def _worker_keys(args: argparse.Namespace, secret_env: dict[str, str],
                 handoff: dict[str, str] | None) -> dict[str, bytes]:
    """Worker keys by id: the node's handoff, else --worker-key-file, else env DSPEX_WORKER_KEY."""
    if handoff is not None and "worker_key" in handoff:
        return {"": parse_key(handoff["worker_key"], "--secrets-fd")}
    if args.worker_key_file is not None:
        return read_key_file(args.worker_key_file)
    if "DSPEX_WORKER_KEY" in secret_env:
        return {"": parse_key(secret_env["DSPEX_WORKER_KEY"], "DSPEX_WORKER_KEY")}
    return {}


if __name__ == "__main__":
    sys.exit(main())
