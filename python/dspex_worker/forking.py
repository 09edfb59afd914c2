"""Forking serving workers from a parent that imported and warmed DSPy once (zygote, ``--count``).

The parent holds no event loop, thread or NATS connection when it forks; each child builds its own,
and dies with its parent (``PR_SET_PDEATHSIG``: SIGKILL, plus a ``getppid`` check in the heartbeat
loop). Before forking, the parent freezes its heap (:func:`freeze_heap`): the objects of the DSPy
import move to the collector's permanent generation, so a child's collections never write to their
pages and the pages stay shared between the children.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .logs import configure_logging
from .worker import WorkerOptions

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Exit:
    id: str
    pid: int
    code: int | None
    signal: int | None

    @property
    def clean(self) -> bool:
        return self.code == 0


def set_parent_death_signal(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` when the parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        log.warning("prctl unavailable: %s", exc)


def freeze_heap() -> None:
    """Collect once, then keep every object alive now out of all later collections (before a fork).

    Python's advice for fork servers (``gc.freeze``): a collection in a child touches the header of
    every object it walks, which copies the page; frozen objects are never walked. The parent's own
    collector stays off (it only reads commands and forks); each child turns its own back on.
    ``DSPEX_GC_FREEZE=0`` skips all of it (the startup bench measures both ways in one run).
    """
    if os.environ.get("DSPEX_GC_FREEZE", "1") == "0":
        return
    gc.collect()
    gc.disable()
    gc.freeze()


def _become_worker(opts: WorkerOptions, parent_pid: int, close_fds: list[int], env: dict[str, str]) -> int:
    """Runs in the child right after fork; returns its exit code."""
    os.environ.update(env)
    # Reset what the parent installed: its wakeup fd, handlers and private descriptors.
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    # The parent's stdin is its command channel and its stdout is protocol-only: keep off both.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    configure_logging(opts.id)
    gc.enable()  # the parent's may be off (freeze_heap); objects allocated before the fork stay frozen
    # SIGKILL: a worker whose fork parent is gone has nobody to report its exit to the node, which
    # already counts it dead (docs/pools.md).
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:
        return 1  # the parent died before prctl took effect
    from .serve import serve

    return serve(dataclasses.replace(opts, parent_pid=parent_pid, watch_stdin=False))


class Forker:
    """Forks workers from ``template`` (each with its own id) and reaps them."""

    def __init__(self, template: WorkerOptions, close_in_child: Callable[[], list[int]] = list) -> None:
        self.template = template
        self.children: dict[int, str] = {}
        self._close_in_child = close_in_child

    def pid_of(self, worker_id: str) -> int | None:
        return next((pid for pid, wid in self.children.items() if wid == worker_id), None)

    def spawn(self, worker_id: str, overrides: dict[str, Any] | None = None,
              env: dict[str, str] | None = None) -> int:
        """Fork a worker; ``overrides`` replace template options, ``env`` is added to its environment."""
        opts = dataclasses.replace(self.template, id=worker_id, **(overrides or {}))
        parent = os.getpid()
        if not gc.isenabled():  # frozen by freeze_heap: what the parent allocated since the last fork
            gc.freeze()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # child: never return into the parent's code
            code = 1
            try:
                code = _become_worker(opts, parent, self._close_in_child(), env or {})
            except BaseException:
                logging.getLogger(__name__).exception("worker crashed")
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = worker_id
        log.info("forked worker %s as pid %d", worker_id, pid)
        return pid

    def reap(self) -> list[Exit]:
        exits: list[Exit] = []
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            worker_id = self.children.pop(pid, None)
            if worker_id is None:
                continue
            if os.WIFSIGNALED(status):
                exits.append(Exit(worker_id, pid, None, os.WTERMSIG(status)))
            else:
                exits.append(Exit(worker_id, pid, os.waitstatus_to_exitcode(status), None))
        return exits

    def signal_all(self, sig: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop_all(
        self,
        timeout_s: float,
        on_exit: Callable[[Exit], None],
        cut_short: tuple[Callable[[], bool], float] | None = None,
    ) -> None:
        """SIGTERM every child, wait up to ``timeout_s``, SIGKILL what is left.

        ``cut_short = (condition, grace_s)``: once ``condition()`` holds, wait at most ``grace_s``
        more (the node died while its workers drained: nobody waits for their calls any more).
        """
        self.signal_all(signal.SIGTERM)
        start = time.monotonic()
        deadline = start + timeout_s
        shortened = False
        while self.children and time.monotonic() < deadline:
            if cut_short is not None and not shortened and cut_short[0]():
                shortened = True
                deadline = min(deadline, time.monotonic() + cut_short[1])
            for ex in self.reap():
                on_exit(ex)
            time.sleep(0.05)
        if self.children:
            log.error("%d worker(s) did not stop in %.0fs: killing", len(self.children), timeout_s)
            self.signal_all(signal.SIGKILL)
            while self.children:
                for ex in self.reap():
                    on_exit(ex)
                time.sleep(0.02)
