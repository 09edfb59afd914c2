"""``--count N``: a hand-started group of N workers forked from one pre-imported parent.

The parent restarts a child that dies abnormally (after a short pause), forwards SIGTERM/SIGINT to
every child and exits once they all have.
"""

from __future__ import annotations

import logging
import secrets
import signal
import time

from .bootstrap import import_dspy, warm_up
from .forking import Exit, Forker, freeze_heap
from .worker import DRAIN_TIMEOUT_S, WorkerOptions

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0


def child_ids(template: WorkerOptions, count: int, explicit_id: bool) -> list[str]:
    if explicit_id:
        return [f"{template.id}-{i}" for i in range(count)]
    return [f"{template.pool}-{secrets.token_hex(4)}" for _ in range(count)]


def run_count(template: WorkerOptions, count: int, explicit_id: bool) -> int:
    import_dspy()
    warm_up()
    freeze_heap()
    forker = Forker(template)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            forker.signal_all(signal.SIGKILL)
            return
        stopping = True
        log.info("received %s: stopping %d worker(s)", signal.Signals(signum).name, len(forker.children))
        forker.signal_all(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for worker_id in child_ids(template, count, explicit_id):
        forker.spawn(worker_id)

    restarts: list[tuple[float, str]] = []
    while forker.children or (restarts and not stopping):
        time.sleep(0.1)
        for ex in forker.reap():
            _log_exit(ex)
            if not stopping and not ex.clean:
                restarts.append((time.monotonic() + RESTART_PAUSE_S, ex.id))
        due = [r for r in restarts if r[0] <= time.monotonic()]
        for r in due:
            restarts.remove(r)
            if not stopping:
                forker.spawn(r[1])
    if forker.children:
        forker.stop_all(DRAIN_TIMEOUT_S, _log_exit)
    return 0


def _log_exit(ex: Exit) -> None:
    level = logging.INFO if ex.clean else logging.WARNING
    log.log(level, "worker %s (pid %d) exited code=%s signal=%s", ex.id, ex.pid, ex.code, ex.signal)
