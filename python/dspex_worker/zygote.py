"""``--zygote``: import and warm DSPy once, then fork workers on command from the Node runtime.

stdout carries only JSON lines (events); stdin carries JSON-line commands:

- ``{"op":"spawn","id":"<worker id>"}`` → ``{"event":"spawned","id":…,"pid":…}``; optional keys
  ``pool``, ``concurrency``, ``heartbeat_ms``, ``node``, ``lm``, ``prefix``, ``max_payload`` override
  the zygote's arguments for that child, ``env`` (a map of strings) is added to its environment and
  ``key`` (64 hex digits) is the child's worker key (it signs heartbeats and replies with it)
- ``{"op":"kill","id":…,"signal":"TERM"|"KILL"|"INT"}``
- every child exit → ``{"event":"exited","id":…,"pid":…,"code":int|null,"signal":int|null}``
- a command that cannot be carried out → ``{"event":"error","op":…,"id":…,"message":…}``

EOF on stdin (or SIGTERM/SIGINT) stops every child (SIGTERM, up to 30 s, then SIGKILL) and exits.
When the node that started the zygote died (it is no longer the zygote's parent: kill -9, a crash),
nobody waits for those calls any more: the children get SIGTERM and 2 s, then SIGKILL.
The zygote asks Linux for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), so a node killed in
the middle of anything still ends its workers. The loop is a plain ``select`` over stdin and a
signal wakeup pipe: no threads, no event loop.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import sys
from typing import Any

from .bootstrap import import_dspy, warm_up
from .forking import Exit, Forker, freeze_heap, set_parent_death_signal
from .protocol import is_token
from .worker import DRAIN_TIMEOUT_S, WorkerOptions

log = logging.getLogger(__name__)

# The node names its workers <pool>-<node>-<slot>: two 64-character tokens and a number.
WORKER_ID_MAX = 140
SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT}
NODE_GONE_GRACE_S = 2.0


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Zygote:
    def __init__(self, template: WorkerOptions) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.forker = Forker(template, close_in_child=lambda: [self._wake_r, self._wake_w])
        self.stopping = False
        self._buf = b""
        self.parent = os.getppid()

    def node_gone(self) -> bool:
        """The process that started us is no longer our parent (it died; we were re-parented)."""
        return os.getppid() != self.parent

    def run(self) -> int:
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        emit({"event": "ready", "pid": os.getpid()})
        sel = selectors.DefaultSelector()
        stdin = sys.stdin.fileno()
        sel.register(stdin, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        while not self.stopping:
            for key, _ in sel.select(timeout=1.0):
                if key.fd == stdin:
                    self._read_stdin(stdin)
                else:
                    self._drain_wakeups()
            self._report(self.forker.reap())
        sel.close()
        if self.node_gone():
            log.warning("zygote: the node is gone; stopping %d worker(s) within %.0fs",
                        len(self.forker.children), NODE_GONE_GRACE_S)
            self.forker.stop_all(NODE_GONE_GRACE_S, self._report_one)
            return 0
        log.info("zygote stopping %d worker(s)", len(self.forker.children))
        # Stdin's EOF can arrive before the kernel re-parents us (a killed node's descriptors close
        # first), so the node may turn out gone only while its workers drain: then cut it short.
        self.forker.stop_all(
            DRAIN_TIMEOUT_S + 2, self._report_one, cut_short=(self.node_gone, NODE_GONE_GRACE_S)
        )
        return 0

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        log.info("zygote received %s", signal.Signals(signum).name)
        self.stopping = True

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _read_stdin(self, fd: int) -> None:
        data = os.read(fd, 65536)
        if not data:
            log.info("zygote stdin closed")
            self.stopping = True
            return
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            if line.strip():
                self._command(line)

    def _command(self, line: bytes) -> None:
        try:
            cmd = json.loads(line)
        except ValueError:
            emit({"event": "error", "message": f"not a JSON line: {line[:200]!r}"})
            return
        if not isinstance(cmd, dict):
            emit({"event": "error", "message": "a command must be a JSON object"})
            return
        op, worker_id = cmd.get("op"), cmd.get("id")
        if not isinstance(worker_id, str) or not is_token(worker_id, WORKER_ID_MAX):
            # It becomes a subject token (<prefix>.pool.<pool>.<id>, <prefix>.hb.worker.<id>).
            emit({"event": "error", "op": op,
                  "message": f"id must be 1-{WORKER_ID_MAX} letters, digits, '_' or '-'"})
            return
        if op == "spawn":
            if self.forker.pid_of(worker_id) is not None:
                emit({"event": "error", "op": op, "id": worker_id, "message": "a worker with this id is running"})
                return
            try:
                overrides, env = spawn_options(cmd)
            except ValueError as exc:
                emit({"event": "error", "op": op, "id": worker_id, "message": str(exc)})
                return
            pid = self.forker.spawn(worker_id, overrides, env)
            emit({"event": "spawned", "id": worker_id, "pid": pid})
        elif op == "kill":
            target = self.forker.pid_of(worker_id)
            sig = SIGNALS.get(str(cmd.get("signal", "TERM")).upper().removeprefix("SIG"))
            if target is None or sig is None:
                emit({"event": "error", "op": op, "id": worker_id,
                      "message": "no such worker" if target is None else f"unknown signal {cmd.get('signal')!r}"})
                return
            try:
                os.kill(target, sig)
            except ProcessLookupError:
                pass
        else:
            emit({"event": "error", "op": op, "id": worker_id, "message": f"unknown op {op!r}"})

    def _report(self, exits: list[Exit]) -> None:
        for ex in exits:
            self._report_one(ex)

    def _report_one(self, ex: Exit) -> None:
        log.info("worker %s (pid %d) exited code=%s signal=%s", ex.id, ex.pid, ex.code, ex.signal)
        emit({"event": "exited", "id": ex.id, "pid": ex.pid, "code": ex.code, "signal": ex.signal})


# Optional per-spawn overrides of the zygote's own worker arguments, so one zygote can serve many pools.
_OVERRIDES: dict[str, type] = {
    "pool": str, "node": str, "lm": str, "prefix": str,
    "concurrency": int, "heartbeat_ms": int, "max_payload": int,
}


def spawn_options(cmd: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The worker options and environment a ``spawn`` command overrides (ValueError when malformed)."""
    overrides: dict[str, Any] = {}
    for key, kind in _OVERRIDES.items():
        if cmd.get(key) is None:
            continue
        value = cmd[key]
        positive = not isinstance(value, int) or value >= 1
        if not isinstance(value, kind) or isinstance(value, bool) or not positive:
            raise ValueError(f"{key} must be {'a positive integer' if kind is int else 'a string'}")
        if key in ("pool", "node") and not is_token(value):
            raise ValueError(f"{key} must be 1-64 letters, digits, '_' or '-'")
        overrides[key] = value
    env = cmd.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ValueError("env must be a map of strings")
    worker_key = cmd.get("key")
    if worker_key is not None:
        if not isinstance(worker_key, str) or len(worker_key) != 64:
            raise ValueError("key must be 64 hex digits")
        try:
            overrides["keys"] = {"": bytes.fromhex(worker_key)}
        except ValueError:
            raise ValueError("key must be 64 hex digits") from None
    return overrides, env


def run_zygote(template: WorkerOptions) -> int:
    set_parent_death_signal(signal.SIGTERM)  # the node died: stop (see Zygote.node_gone)
    import_dspy()
    warm_up()
    freeze_heap()
    return Zygote(template).run()
