"""``dspex-worker``: serve DSPy modules to a dspex pool over NATS.

Modes: one worker (default); ``--count N`` workers forked from one pre-imported parent; ``--zygote``,
a fork server driven over stdin/stdout by the Node runtime (see zygote.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys

from . import __version__
from .logs import configure_logging
from .worker import WorkerOptions

log = logging.getLogger("dspex_worker")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dspex-worker", description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--nats", default=os.environ.get("DSPEX_NATS_URL", "nats://127.0.0.1:4222"),
                   help="NATS server URL (env DSPEX_NATS_URL; default nats://127.0.0.1:4222)")
    p.add_argument("--pool", default=None, help="pool name (required)")
    p.add_argument("--id", default=None, help="worker id (default <pool>-<8 hex>)")
    p.add_argument("--concurrency", type=_positive, default=4, help="max in-flight calls (default 4)")
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
    if not args.pool:
        parser().error("--pool is required")
    if args.zygote and args.count:
        parser().error("--zygote and --count are exclusive")
    explicit_id = args.id is not None
    worker_id = args.id or f"{args.pool}-{secrets.token_hex(4)}"
    opts = WorkerOptions(
        nats_url=args.nats, pool=args.pool, id=worker_id, concurrency=args.concurrency,
        heartbeat_ms=args.heartbeat_ms, prefix=args.prefix, node=args.node, lm=resolve_name(args.lm),
        watch_stdin=args.watch_stdin, max_payload=args.max_payload,
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


if __name__ == "__main__":
    sys.exit(main())
