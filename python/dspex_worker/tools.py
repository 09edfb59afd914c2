"""Tools (and reward functions) served by runtime nodes on ``<prefix>.tool.<name>``, called over NATS.

A call's request names the tools it may use (``tools: [{name, description, parameters}]`` or
``options.reward: {kind: "tool", name}``); the worker builds a ``dspy.Tool`` per name whose function
is a NATS request/reply: body ``{args}`` in msgpack, reply ``{result}`` or an error reply. Nothing
else is ever called: a name the request did not list has no function here.

Every failure (the node's validation error, the tool's own exception, no responder, the deadline)
becomes :class:`ToolCallError`, which DSPy's ReAct turns into an observation for the model.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dspy
import msgpack

from .codec import header, to_plain
from .errors import LmError, WorkerError
from .protocol import check_tool_reply


def default_tool_timeout_s() -> float:
    """`DSPEX_TOOL_TIMEOUT_MS` (default 30000), read when a worker starts (after any fork)."""
    return float(os.environ.get("DSPEX_TOOL_TIMEOUT_MS", "30000") or 30000) / 1000


class ToolCallError(LmError):
    """A tool call that produced no result; its message is what the model sees.

    ReAct turns it into an observation. A reward function's failure that escapes BestOfN/Refine (their
    ``fail_count`` reached) becomes the call's reply: 502 like the modules' other failed attempts, with
    this message, which names the tool and never quotes a foreign exception.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, details={"cause": "ToolCallError"})


@dataclass(frozen=True)
class CallScope:
    """The running call, as tool functions need it: its absolute deadline (unix seconds)."""

    deadline: float | None


current_scope: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar("dspex_call_scope", default=None)


class ToolBridge:
    """Calls tools over the worker's NATS connection, bounded by the call's deadline."""

    def __init__(self, timeout_s: float | None = None) -> None:
        self.timeout_s = default_tool_timeout_s() if timeout_s is None else timeout_s
        self.nc: Any = None
        self.prefix = "dspex"
        self.loop: asyncio.AbstractEventLoop | None = None

    def attach(self, nc: Any, prefix: str) -> None:
        """Called by the serving worker once connected, from its event loop."""
        self.nc = nc
        self.prefix = prefix
        self.loop = asyncio.get_running_loop()

    def subject(self, name: str) -> str:
        return f"{self.prefix}.tool.{name}"

    def _timeout(self) -> float:
        scope = current_scope.get()
        if scope is None or scope.deadline is None:
            return self.timeout_s
        return max(0.0, min(self.timeout_s, scope.deadline - time.time()))

    async def call(self, name: str, args: Mapping[str, Any]) -> Any:
        """One tool call; returns the tool's result or raises :class:`ToolCallError`."""
        if self.nc is None:
            raise ToolCallError(f"tool {name}: this worker has no NATS connection to call tools with")
        timeout = self._timeout()
        if timeout <= 0:
            raise ToolCallError(f"tool {name}: the call's deadline passed before the tool was called")
        scope = current_scope.get()
        headers = {}
        if scope is not None and scope.deadline is not None:
            headers["Dspex-Deadline"] = str(int(scope.deadline * 1000))
        data = msgpack.packb({"args": to_plain(dict(args))}, use_bin_type=True)
        try:
            msg = await self.nc.request(self.subject(name), data, timeout=timeout, headers=headers or None)
        except TimeoutError:
            raise ToolCallError(f"tool {name} did not answer within {timeout:.1f}s") from None
        except Exception as exc:  # noqa: BLE001 - no responders, connection closed, …: all are observations
            if type(exc).__name__ == "NoRespondersError":
                raise ToolCallError(f"tool {name}: no runtime node serves it") from None
            raise ToolCallError(f"tool {name}: the call failed ({type(exc).__name__})") from None
        try:
            body = msgpack.unpackb(msg.data, raw=False)
        except Exception:  # noqa: BLE001
            raise ToolCallError(f"tool {name}: the reply is not msgpack") from None
        if header(msg.headers, "Nats-Service-Error-Code"):
            error = body.get("error") if isinstance(body, Mapping) else None
            text = error.get("message") if isinstance(error, Mapping) else None
            raise ToolCallError(f"tool {name} failed: {text or header(msg.headers, 'Nats-Service-Error')}")
        try:
            check_tool_reply(body)
        except WorkerError as exc:
            raise ToolCallError(f"tool {name}: malformed reply: {exc.message}") from None
        return body["result"]

    def call_sync(self, name: str, args: Mapping[str, Any]) -> Any:
        """The blocking form, for DSPy code that runs in a worker thread (BestOfN/Refine rewards)."""
        loop = self.loop
        if loop is None or not loop.is_running():
            raise ToolCallError(f"tool {name}: this worker has no NATS connection to call tools with")
        future = asyncio.run_coroutine_threadsafe(self.call(name, args), loop)
        return future.result(timeout=self.timeout_s + 1)

    def dspy_tool(self, spec: Mapping[str, Any]) -> dspy.Tool:
        """A ``dspy.Tool`` whose function calls ``spec['name']`` over NATS.

        ``parameters`` is the tool's JSON schema (an ``object``); DSPy shows its ``properties`` to the
        model and checks the model's arguments against them before the call.
        """
        name: str = spec["name"]
        parameters = spec.get("parameters") or {}
        properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
        bridge = self

        async def call_tool(**kwargs: Any) -> Any:
            return await bridge.call(name, kwargs)

        return dspy.Tool(
            call_tool,
            name=name,
            desc=spec.get("description") or "",
            args=dict(properties) if isinstance(properties, Mapping) else {},
        )
