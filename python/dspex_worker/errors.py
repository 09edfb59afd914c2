"""The catalogue of errors a worker can put on the wire (docs/protocol.md, "Errors").

Every failure that reaches a caller is a :class:`WorkerError` with a stable ``code``, the HTTP-like
``status`` carried in ``Nats-Service-Error-Code`` and an explicit ``retryable`` flag. Foreign
exceptions (DSPy, litellm, bugs) are turned into one by :func:`from_exception`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


class WorkerError(Exception):
    """An error reply: ``{"error": {code, message, retryable, details?}}``."""

    code = "internal"
    status = 500
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if retryable is not None:
            self.retryable = retryable

    def to_body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "retryable": self.retryable}
        if self.details:
            err["details"] = self.details
        return {"error": err}


class BadRequest(WorkerError):
    code, status = "bad_request", 400


class PayloadTooLarge(WorkerError):
    code, status = "payload_too_large", 400


class NotFound(WorkerError):
    code, status = "not_found", 404


class DeadlineExceeded(WorkerError):
    code, status, retryable = "deadline_exceeded", 408, True


class ValidationFailed(WorkerError):
    code, status = "validation_failed", 422


class Overloaded(WorkerError):
    code, status, retryable = "overloaded", 429, True


class Internal(WorkerError):
    code, status = "internal", 500


class LmError(WorkerError):
    code, status = "lm_error", 502


class Unavailable(WorkerError):
    code, status, retryable = "unavailable", 503, True


def field_error(cls: type[WorkerError], field: str, message: str) -> WorkerError:
    """An error about one request field, named in the message and in ``details.field``."""
    return cls(f"{field}: {message}", details={"field": field})


QUOTE_LIMIT = 64


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A request value for an error message: a short literal, never the ``repr`` of an arbitrary object.

    Strings are cut to ``limit`` characters (``repr`` escapes control characters), numbers, booleans
    and null are written out, anything else is named by its wire type (``a map``, ``a list``, …).
    """
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "…")
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    if isinstance(value, int | float):
        text = str(value)
        return text if len(text) <= limit else f"a {len(text)}-digit number"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    return "a value of another type"


def type_name(value: object) -> str:
    """The wire (JSON-ish) name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, bytes | bytearray):
        return "binary"
    return type(value).__name__


_RETRYABLE_HTTP = {408, 409, 429}


def _litellm_retryable(exc: BaseException) -> bool:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _RETRYABLE_HTTP or status >= 500
    name = type(exc).__name__
    return any(k in name for k in ("RateLimit", "Timeout", "ServiceUnavailable", "APIConnection", "InternalServer"))


def from_exception(exc: BaseException, trace: str | None = None) -> WorkerError:
    """Map any exception raised while running a call to the error sent back.

    Only a :class:`WorkerError`'s own message crosses the wire. The text of anything else (an LM
    provider's message, a bug's exception, a traceback) may quote configuration, keys or the
    environment: it is logged here with the request's trace id, and the reply carries a stable
    message and the exception's class name in ``details.cause``.
    """
    if isinstance(exc, WorkerError):
        return exc
    # Imported lazily: this module must stay importable without paying for DSPy.
    from dspy.utils.exceptions import AdapterParseError, LMError, is_retryable_lm_error

    cause = type(exc).__name__
    if isinstance(exc, AdapterParseError):
        log.info("LM reply not parsed (trace=%s): %s", trace, _first_line(exc))
        return LmError("the LM reply could not be parsed into the signature's outputs", retryable=False,
                       details={"cause": cause})
    if isinstance(exc, LMError):
        log.warning("LM call failed (trace=%s): %s: %s", trace, cause, exc)
        details: dict[str, Any] = {"cause": cause}
        if isinstance(exc.retry_after, int | float) and not isinstance(exc.retry_after, bool):
            details["retry_after"] = exc.retry_after
        return LmError(f"the LM call failed ({cause})", retryable=is_retryable_lm_error(exc), details=details)
    if type(exc).__module__.split(".")[0] == "litellm":
        log.warning("LM call failed (trace=%s): %s: %s", trace, cause, exc)
        details = {"cause": cause}
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            details["status"] = status
        return LmError(f"the LM call failed ({cause})", retryable=_litellm_retryable(exc), details=details)
    log.error("internal error while running a call (trace=%s)", trace, exc_info=exc)
    return Internal("internal error in the worker (logged with the request's trace id)", details={"cause": cause})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
