"""The catalogue of errors a worker can put on the wire (docs/protocol.md, "Errors").

Every failure that reaches a caller is a :class:`WorkerError` with a stable ``code``, the HTTP-like
``status`` carried in ``Nats-Service-Error-Code`` and an explicit ``retryable`` flag. Foreign
exceptions (DSPy, litellm, bugs) are turned into one by :func:`from_exception`.
"""

from __future__ import annotations

import logging
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


_RETRYABLE_HTTP = {408, 409, 429}


def _litellm_retryable(exc: BaseException) -> bool:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status in _RETRYABLE_HTTP or status >= 500
    name = type(exc).__name__
    return any(k in name for k in ("RateLimit", "Timeout", "ServiceUnavailable", "APIConnection", "InternalServer"))


def from_exception(exc: BaseException) -> WorkerError:
    """Map any exception raised while running a call to the error sent back."""
    if isinstance(exc, WorkerError):
        return exc
    # Imported lazily: this module must stay importable without paying for DSPy.
    from dspy.utils.exceptions import AdapterParseError, LMError, is_retryable_lm_error

    if isinstance(exc, AdapterParseError):
        return LmError(f"the LM reply could not be parsed: {_first_line(exc)}", retryable=False)
    if isinstance(exc, LMError):
        details: dict[str, Any] = {"cause": type(exc).__name__}
        if exc.retry_after is not None:
            details["retry_after"] = exc.retry_after
        return LmError(str(exc) or type(exc).__name__, retryable=is_retryable_lm_error(exc), details=details)
    if type(exc).__module__.split(".")[0] == "litellm":
        return LmError(
            str(exc) or type(exc).__name__,
            retryable=_litellm_retryable(exc),
            details={"cause": type(exc).__name__},
        )
    log.error("internal error while running a call", exc_info=exc)
    return Internal(f"{type(exc).__name__}: {exc}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
