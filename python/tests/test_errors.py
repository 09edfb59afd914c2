"""How failures inside DSPy map to wire errors."""

from __future__ import annotations

import dspy
from dspy.utils.exceptions import AdapterParseError, LMAuthError, LMRateLimitError, LMServerError

from dspex_worker.errors import from_exception


def test_rate_limits_and_server_errors_are_retryable_lm_errors() -> None:
    for exc in (LMRateLimitError("slow down", retry_after=2.0), LMServerError("502 from upstream")):
        err = from_exception(exc)
        assert (err.status, err.code, err.retryable) == (502, "lm_error", True)
    assert from_exception(LMRateLimitError("x", retry_after=2.0)).details == {
        "cause": "LMRateLimitError", "retry_after": 2.0}


def test_auth_errors_and_parse_errors_are_not_retryable() -> None:
    assert from_exception(LMAuthError("bad key")).retryable is False
    sig = dspy.Signature("q -> a")
    err = from_exception(AdapterParseError("ChatAdapter", sig, "garbage"))
    assert (err.status, err.code, err.retryable) == (502, "lm_error", False)


def test_anything_else_is_internal() -> None:
    err = from_exception(ZeroDivisionError("boom"))
    assert (err.status, err.code, err.retryable) == (500, "internal", False)
    assert err.to_body() == {"error": {"code": "internal", "message": "ZeroDivisionError: boom", "retryable": False}}
