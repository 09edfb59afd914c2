"""The ``compile`` op on the event loop: progress events, the cancel subject and the reply.

``{op: "compile", run_id, optimizer, module, signature, instructions?, state?, trainset, valset?,
metric, settings?}`` (checked into a :class:`~dspex_worker.optimize_request.CompileCall`). The optimizer
runs in a thread (:mod:`optimize_thread`); the event loop keeps serving. While it runs the worker

- publishes progress on ``<prefix>.events.optimize.<run_id>`` (msgpack ``{run_id, worker, optimizer,
  status, done, total, best_score, last_score, at}``, at most every 250 ms, and a last one at the end);
- answers cancel requests on ``<prefix>.optimize.cancel.<run_id>``: a flag checked before every LM
  call and every metric call, so cancellation takes effect between evaluations.

The reply is ``{run_id, optimizer, status: "completed", state, score, evaluations, worker,
latency_ms}`` (``state`` is DSPy's ``dump_state()`` JSON, ``score`` the compiled program's mean metric
on the valset) or ``{..., status: "cancelled"}`` without a state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgpack

from .errors import BadRequest, DeadlineExceeded, from_exception, quote
from .identity import Signer
from .lm import LmChooser
from .optimize_request import CompileCall
from .optimize_thread import Cancelled, Control, run_compile

PROGRESS_EVERY_S = 0.25


def estimated_total(call: CompileCall) -> int:
    """Metric calls the run will make, roughly (bootstraps stop early; MIPROv2 subsamples)."""
    s, n_train = call.settings, len(call.trainset)
    n_val = len(call.valset or call.trainset)
    match call.optimizer:
        case "BootstrapFewShot":
            return n_train * int(s.get("max_rounds", 1)) + n_val
        case "BootstrapFewShotWithRandomSearch":
            ncp = int(s.get("num_candidate_programs", 16))
            return (ncp + 3) * n_val + ncp * n_train + n_val
        case "COPRO":
            return int(s.get("breadth", 10)) * int(s.get("depth", 3)) * n_train + n_val
        case "MIPROv2":
            trials = int(s.get("num_trials", 10))
            batch = min(int(s.get("minibatch_size", 35)), n_val) if s.get("minibatch", True) else n_val
            return int(s.get("num_candidates", 6)) * n_train + trials * batch + 2 * n_val
    return n_train + n_val



class Optimizations:
    """Runs compile requests for one worker: progress events, cancel subjects, the reply body."""

    def __init__(self, chooser: LmChooser, worker_id: str, prefix: str, delay_s: float = 0.0,
                 signer: Signer | None = None) -> None:
        self.chooser = chooser
        self.signer = signer  # signs cancel acknowledgements (docs/security.md)
        self.delay_s = delay_s
        self.worker_id = worker_id
        self.prefix = prefix
        self.running: dict[str, Control] = {}

    async def run(self, nc: Any, call: CompileCall, timeout_s: float | None) -> dict[str, Any]:
        if call.run_id in self.running:
            raise BadRequest(f"run_id {quote(call.run_id)} is already running on this worker",
                             details={"field": "run_id"})
        control = Control()
        control.deadline = None if timeout_s is None else time.time() + timeout_s
        self.running[call.run_id] = control
        started = time.monotonic()
        total = estimated_total(call)
        subject = f"{self.prefix}.events.optimize.{call.run_id}"

        async def emit(status: str, error: str | None = None) -> None:
            event: dict[str, Any] = {
                "run_id": call.run_id, "worker": self.worker_id, "optimizer": call.optimizer,
                "status": status, "done": control.done, "total": max(total, control.done),
                "best_score": control.best_score, "last_score": control.last_score,
                "at": int(time.time() * 1000),
            }
            if error is not None:
                event["error"] = error
            with contextlib.suppress(Exception):  # progress is best effort
                await nc.publish(subject, msgpack.packb(event))

        async def on_cancel(msg: Any) -> None:
            control.cancel.set()
            if msg.reply:
                data = msgpack.packb({"run_id": call.run_id, "worker": self.worker_id, "cancelled": True})
                headers = None if self.signer is None else self.signer.reply_headers(msg.reply, data)
                with contextlib.suppress(Exception):
                    await nc.publish(msg.reply, data, headers=headers)

        sub = await nc.subscribe(f"{self.prefix}.optimize.cancel.{call.run_id}", cb=on_cancel)
        await nc.flush()
        await emit("running")
        task = asyncio.ensure_future(asyncio.to_thread(run_compile, call, control, self.chooser, self.delay_s))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=PROGRESS_EVERY_S)
                if not task.done():
                    await emit("running")
            try:
                result = task.result()
            except Cancelled:
                if control.cancel.is_set():
                    await emit("cancelled")
                    return self._reply(call, started, control, "cancelled")
                await emit("failed", "deadline passed")
                raise DeadlineExceeded("Dspex-Deadline passed while the optimizer was running") from None
            except Exception as exc:
                await emit("failed", from_exception(exc).message)
                raise
            await emit("completed")
            return {**self._reply(call, started, control, "completed"), **result}
        finally:
            control.cancel.set()  # a worker shutting down mid-run stops the thread at its next check
            self.running.pop(call.run_id, None)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _reply(self, call: CompileCall, started: float, control: Control, status: str) -> dict[str, Any]:
        return {
            "run_id": call.run_id, "optimizer": call.optimizer, "status": status,
            "evaluations": control.done, "worker": self.worker_id,
            "latency_ms": round((time.monotonic() - started) * 1000, 3),
        }

