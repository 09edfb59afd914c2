"""A serving worker: one NATS connection, its own and its pool's subject, heartbeats, graceful drain.

Lifecycle: connect → subscribe → heartbeat ``ready`` (the announcement) → serve, flipping
``ready ⇄ busy`` as in-flight calls reach ``concurrency`` → on SIGTERM/SIGINT (or stdin EOF, or the
parent gone) ``draining``: unsubscribe, finish and answer in-flight calls → ``stopped`` → exit 0.

Heartbeats go out on the timer (every ``heartbeat_ms``) and at once only for the changes a node must
act on without waiting: the ``ready`` announcement, ``draining`` and ``stopped``. ``ready ⇄ busy``
flips with every call under load and rides the next timed heartbeat (the node counts its own calls
in flight; the worker answers 429 past its limit either way).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
import nats
from nats.aio.msg import Msg
from opentelemetry import trace as otel
from opentelemetry.trace import Span, SpanKind, StatusCode

from . import codec
from .connection import NatsSettings
from .errors import (
    BadRequest,
    DeadlineExceeded,
    Internal,
    Overloaded,
    PayloadTooLarge,
    Unavailable,
    WorkerError,
    from_exception,
    quote,
)
from .heartbeat import Identity, State, heartbeat, now_ms
from .identity import SIGNATURE_HEADER, Signer, key_for
from .logs import trace_context
from .measurements import MEASUREMENTS
from .optimize import Optimizations
from .optimize_request import CompileCall
from .protocol import Ping, PredictCall, parse_worker_request
from .runner import Prepared, Runner
from .tracing import extract_context

_TRACER = otel.get_tracer("dspex_worker")
log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 30.0
# Default in-flight calls of a worker (as the node's pool option): a real LM call waits on the
# network, so one process holds hundreds; a dummy-LM call only burns CPU.
IO_BOUND_CONCURRENCY = 512
DUMMY_CONCURRENCY = 4
# The node that started us is gone (stdin EOF, or re-parented): nobody waits for the calls in flight.
ORPHAN_DRAIN_S = 2.0
_HEADER_MAX = 1024
TRACE_MAX = 128  # a trace id echoed back longer than this is cut


@dataclass(frozen=True)
class WorkerOptions:
    nats: NatsSettings
    pool: str
    id: str
    concurrency: int = 4
    heartbeat_ms: int = 1000
    prefix: str = "dspex"
    node: str | None = None
    lm: str = "dummy"
    watch_stdin: bool = False
    max_payload: int = 1024 * 1024
    parent_pid: int | None = None  # exit when this process is no longer our parent
    drain_timeout_s: float = DRAIN_TIMEOUT_S
    # Worker keys by id (``""``: any id); with one for this id, heartbeats and replies are signed.
    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)


class Worker:
    def __init__(self, opts: WorkerOptions, runner: Runner) -> None:
        self.opts = opts
        self.runner = runner
        self.ident = Identity(
            id=opts.id, pool=opts.pool, concurrency=opts.concurrency, heartbeat_ms=opts.heartbeat_ms,
            lm=opts.lm, node=opts.node, started_at=now_ms(),
        )
        self.state: State = "starting"
        self.inflight = 0
        self.calls = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._nc: Any = None
        self._stop: asyncio.Event | None = None
        self._signals = 0
        self._drain_s = opts.drain_timeout_s
        self.own_subject = f"{opts.prefix}.pool.{opts.pool}.{opts.id}"
        self.pool_subject = f"{opts.prefix}.pool.{opts.pool}"
        self.hb_subject = f"{opts.prefix}.hb.worker.{opts.id}"
        key = key_for(dict(opts.keys), opts.id)
        self.signer = None if key is None else Signer(opts.id, key)
        self._seq = 0
        self.optimizations = Optimizations(  # `compile`
            runner.chooser, opts.id, opts.prefix, runner.dummy_delay_s, signer=self.signer)

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> int:
        """Serve until asked to stop; returns the process exit code."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGUSR1, self._collect)
        self._nc = await nats.connect(
            **self.opts.nats.connect_kwargs(), name=self.opts.id, max_reconnect_attempts=-1, reconnect_time_wait=1,
            error_cb=self._on_nats_error, disconnected_cb=self._on_disconnect, reconnected_cb=self._on_reconnect,
        )
        self.runner.attach(self._nc, self.opts.prefix)  # tool/reward callbacks ride this connection
        subs = [
            await self._nc.subscribe(self.own_subject, cb=self._on_msg),
            await self._nc.subscribe(self.pool_subject, queue=self.opts.pool, cb=self._on_msg),
        ]
        await self._nc.flush()
        self._set_state("ready")
        log.info("ready on %s and %s (queue %s), lm=%s, concurrency=%d",
                 self.own_subject, self.pool_subject, self.opts.pool, self.opts.lm, self.opts.concurrency)
        beats = asyncio.create_task(self._heartbeat_loop())
        if self.opts.watch_stdin:
            self._watch_stdin(loop)

        await self._stop.wait()
        code = await self._drain(subs)
        beats.cancel()
        return code

    def stop(self, reason: str, orphaned: bool = False) -> None:
        """Drain and exit; ``orphaned`` (our node or fork parent died) drains for ORPHAN_DRAIN_S at most."""
        if orphaned:
            self._drain_s = min(self._drain_s, ORPHAN_DRAIN_S)
        if self._stop is not None and not self._stop.is_set():
            log.info("stopping: %s", reason)
            self._stop.set()

    @staticmethod
    def _collect() -> None:
        """SIGUSR1: a full garbage collection now, logged (the startup bench reads PSS after it)."""
        found = gc.collect()
        log.info("SIGUSR1: full collection found %d unreachable object(s); %d object(s) frozen since the fork",
                 found, gc.get_freeze_count())

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.error("second %s while draining: exiting now", sig.name)
            os._exit(1)
        self.stop(f"received {sig.name}")

    async def _drain(self, subs: list[Any]) -> int:
        self.state = "draining"
        await self._publish_heartbeat()  # before anything else goes out (the `stopped` one included)
        for sub in subs:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # noqa: BLE001 - a dead connection must not block the exit
                log.warning("unsubscribe failed: %s", exc)
        code = 0
        if self._tasks:
            log.info("draining: waiting for %d in-flight call(s)", len(self._tasks))
            _, pending = await asyncio.wait(set(self._tasks), timeout=self._drain_s)
            if pending:
                log.error("drain timed out after %.0fs with %d call(s) still running",
                          self._drain_s, len(pending))
                code = 1
        self.state = "stopped"  # published right here, not by _set_state's background task
        try:
            await self._publish_heartbeat()
            await self._nc.flush(timeout=5)
            await self._nc.close()
        except Exception as exc:  # noqa: BLE001
            log.warning("closing the NATS connection failed: %s", exc)
        log.info("stopped after %d call(s)", self.calls)
        return code

    def _watch_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        """EOF on stdin means the parent (the Node runtime) died: stop."""

        def watch() -> None:
            try:
                while os.read(sys.stdin.fileno(), 4096):
                    pass
            except OSError:
                pass
            loop.call_soon_threadsafe(self.stop, "stdin closed: the node is gone", True)

        threading.Thread(target=watch, name="stdin-watch", daemon=True).start()

    # --- state and heartbeats -------------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        """A state change a node acts on at once: published now, not at the next timed heartbeat."""
        if state != self.state:
            self.state = state
            # The body is taken now: by the time the task runs the state may have moved on.
            asyncio.get_running_loop().create_task(self._send_heartbeat(self._heartbeat_message()))

    def _update_load_state(self) -> None:
        """``ready ⇄ busy``: recorded, carried by the next timed heartbeat (never a publish per call)."""
        if self.state in ("ready", "busy"):
            self.state = "busy" if self.inflight >= self.opts.concurrency else "ready"

    def _heartbeat_message(self) -> tuple[bytes, dict[str, str] | None]:
        """The next heartbeat as sent (body from ``heartbeat.heartbeat``, the one payload builder)."""
        self._seq += 1
        body = heartbeat(self.ident, state=self.state, inflight=self.inflight, calls=self.calls, seq=self._seq)
        data: bytes = msgpack.packb(body)
        headers = None if self.signer is None else {SIGNATURE_HEADER: self.signer.heartbeat(self.hb_subject, data)}
        return data, headers

    async def _publish_heartbeat(self) -> None:
        await self._send_heartbeat(self._heartbeat_message())

    async def _send_heartbeat(self, message: tuple[bytes, dict[str, str] | None]) -> None:
        data, headers = message
        try:
            await self._nc.publish(self.hb_subject, data, headers=headers)
        except Exception as exc:  # noqa: BLE001 - heartbeats are best effort
            log.warning("heartbeat publish failed: %s", exc)

    async def _heartbeat_loop(self) -> None:
        interval = self.opts.heartbeat_ms / 1000
        while True:
            await asyncio.sleep(interval)
            if self.opts.parent_pid is not None and os.getppid() != self.opts.parent_pid:
                self.stop("parent process is gone", orphaned=True)
            await self._publish_heartbeat()

    async def _on_nats_error(self, exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    async def _on_disconnect(self) -> None:
        log.warning("disconnected from NATS")

    async def _on_reconnect(self) -> None:
        log.info("reconnected to NATS")

    # --- requests -------------------------------------------------------------------------------

    async def _on_msg(self, msg: Msg) -> None:
        """Subscription callback: answer cheap things inline, start a task for a predict call.

        Never raises: a failure here is answered (when possible) and logged.
        """
        arrived = time.monotonic()
        as_json = codec.wants_json(msg.headers)
        raw_trace = codec.header(msg.headers, "Dspex-Trace")
        trace = codec.header_value(raw_trace, TRACE_MAX) if raw_trace else None
        try:
            request = self._admit(msg, as_json)
            if isinstance(request, Ping):
                await self._reply(msg, {"pong": True, "worker": self.opts.id}, as_json, trace)
                return
            prepared, timeout_s = request
        except WorkerError as err:
            await self._reply_error(msg, err, as_json, trace)
            return
        except Exception as exc:  # noqa: BLE001
            await self._reply_error(msg, from_exception(exc, trace), as_json, trace)
            return
        self.inflight += 1
        self._update_load_state()
        task = asyncio.create_task(self._serve(msg, prepared, timeout_s, arrived, as_json, trace))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _admit(self, msg: Msg, as_json: bool) -> Ping | tuple[Prepared | CompileCall, float | None]:
        """Decode, check and admit a request, or raise the error to answer with."""
        if len(msg.data) > self.opts.max_payload:
            raise PayloadTooLarge(
                f"request body is {len(msg.data)} bytes, over the limit of {self.opts.max_payload}",
                details={"field": "body", "limit": self.opts.max_payload},
            )
        request = parse_worker_request(codec.decode(msg.data, as_json))
        if isinstance(request, Ping):
            return request
        if self.state not in ("ready", "busy"):
            raise Unavailable(f"worker {self.opts.id} is {self.state}")
        timeout_s = self._remaining(msg)
        prepared = self.runner.prepare(request) if isinstance(request, PredictCall) else request
        if self.inflight >= self.opts.concurrency:
            raise Overloaded(f"worker {self.opts.id} is running {self.inflight} call(s), its limit")
        return prepared, timeout_s

    @staticmethod
    def _remaining(msg: Msg) -> float | None:
        raw = codec.header(msg.headers, "Dspex-Deadline")
        if raw is None or raw.strip() == "":
            return None
        try:
            deadline_ms = float(raw)
            if not math.isfinite(deadline_ms):
                raise ValueError(raw)
        except ValueError:
            raise BadRequest(f"Dspex-Deadline: expected unix milliseconds, got {quote(raw)}",
                             details={"field": "Dspex-Deadline"}) from None
        remaining = (deadline_ms - time.time() * 1000) / 1000
        if remaining <= 0:
            raise DeadlineExceeded(f"Dspex-Deadline passed {-remaining * 1000:.0f} ms before the call arrived")
        return remaining

    async def _serve(self, msg: Msg, p: Prepared | CompileCall, timeout_s: float | None, arrived: float,
                     as_json: bool, trace: str | None) -> None:
        """One call in its trace: every log line carries ``trace``, and its span (with the LM calls'
        spans under it) is a child of the node's attempt span (``traceparent``)."""
        parent = extract_context(codec.header(msg.headers, "traceparent"))
        module = "compile" if isinstance(p, CompileCall) else (p.built.spec.module if p.built.spec else "module")
        attributes = {"dspex.pool": self.opts.pool, "dspex.worker": self.opts.id, "dspex.module": module}
        if trace:
            attributes["dspex.trace"] = trace
        with trace_context(trace), _TRACER.start_as_current_span(
            f"dspex.worker {module}", context=parent, kind=SpanKind.SERVER, attributes=attributes,
        ) as span:
            await self._serve_call(msg, p, timeout_s, arrived, as_json, trace, span)

    async def _serve_call(self, msg: Msg, p: Prepared | CompileCall, timeout_s: float | None, arrived: float,
                          as_json: bool, trace: str | None, span: Span) -> None:
        in_dspy = 0.0
        try:
            try:
                if isinstance(p, CompileCall):  # docs/optimization.md
                    await self._reply(msg, await self.optimizations.run(self._nc, p, timeout_s), as_json, trace)
                    return
                t0 = time.monotonic()
                try:
                    outputs, usage = await self.runner.run(p, timeout_s)
                finally:
                    in_dspy = time.monotonic() - t0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes an error reply
                err = from_exception(exc, trace)
                MEASUREMENTS.call(str(err.code), in_dspy)
                span.set_status(StatusCode.ERROR, f"{err.code}: {err.message[:200]}")
                log.info("call failed: %s %s (trace=%s)", err.code, err.message[:200], trace)
                await self._reply_error(msg, err, as_json, trace)
                return
            body: dict[str, Any] = {
                "outputs": outputs,
                "worker": self.opts.id,
                "latency_ms": round((time.monotonic() - arrived) * 1000, 3),
            }
            if usage:
                body["usage"] = usage
            MEASUREMENTS.call("ok", in_dspy)
            if usage:
                span.set_attribute("gen_ai.usage.input_tokens", usage.get("prompt_tokens", 0))
                span.set_attribute("gen_ai.usage.output_tokens", usage.get("completion_tokens", 0))
            await self._reply(msg, body, as_json, trace)
        finally:
            self.calls += 1
            self.inflight -= 1
            self._update_load_state()

    async def _reply(self, msg: Msg, body: dict[str, Any], as_json: bool, trace: str | None,
                     extra: dict[str, str] | None = None) -> None:
        if not msg.reply:
            log.warning("request on %s has no reply subject; dropping the answer", msg.subject)
            return
        headers: dict[str, str] = dict(extra or {})
        if trace:
            headers["Dspex-Trace"] = trace
        if as_json:
            headers["Content-Type"] = codec.JSON
        # A header value holding CR/LF would corrupt (or add) header lines: every value is cleaned here.
        headers = {k: codec.header_value(v) for k, v in headers.items()}
        try:
            data = codec.encode(body, as_json)
        except Exception:  # the caller gets an error, never silence
            log.error("reply body could not be encoded (trace=%s)", trace, exc_info=True)
            err = Internal("internal error in the worker: the reply could not be encoded",
                           details={"cause": "EncodeError"})
            data = codec.encode(err.to_body(), as_json)
            headers["Nats-Service-Error-Code"] = str(err.status)
            headers["Nats-Service-Error"] = err.message
        if self.signer is not None:
            headers = self.signer.reply_headers(msg.reply, data, headers)
        try:
            await self._nc.publish(msg.reply, data, headers=headers or None)
        except Exception as exc:  # noqa: BLE001 - a NATS callback never throws
            log.error("reply publish failed: %s", exc)

    async def _reply_error(self, msg: Msg, err: WorkerError, as_json: bool, trace: str | None) -> None:
        text = codec.header_value(" ".join(err.message.split()), _HEADER_MAX)
        await self._reply(msg, err.to_body(), as_json, trace, {
            "Nats-Service-Error-Code": str(err.status),
            "Nats-Service-Error": text,
        })
