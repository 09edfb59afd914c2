"""How failures inside DSPy map to wire errors."""

from __future__ import annotations

import json
import logging

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError, LMAuthError, LMRateLimitError, LMServerError

from dspex_worker.codec import header_value
from dspex_worker.errors import from_exception, quote


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


def test_anything_else_is_internal_with_a_stable_message_and_the_text_only_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "canary-in-an-exception"
    with caplog.at_level(logging.ERROR, logger="dspex_worker.errors"):
        err = from_exception(KeyError(secret, {"env": secret}), trace="trace-42")
    assert (err.status, err.code, err.retryable) == (500, "internal", False)
    assert err.to_body() == {"error": {
        "code": "internal", "message": "internal error in the worker (logged with the request's trace id)",
        "retryable": False, "details": {"cause": "KeyError"}}}
    assert secret in caplog.text and "trace-42" in caplog.text


@pytest.mark.parametrize("exc", [
    LMAuthError("Incorrect API key provided: canary-key-1234"),
    LMRateLimitError("org canary-key-1234 over quota", retry_after=1.5),
    LMServerError("upstream said canary-key-1234"),
])
def test_lm_errors_keep_the_provider_text_out_of_the_reply(exc: Exception) -> None:
    err = from_exception(exc, trace="t")
    assert "canary" not in json.dumps(err.to_body())
    assert err.message == f"the LM call failed ({type(exc).__name__})"
    assert err.details is not None and err.details["cause"] == type(exc).__name__


def test_a_parse_failure_does_not_quote_the_lm_reply() -> None:
    sig = dspy.Signature("q -> a")
    err = from_exception(AdapterParseError("ChatAdapter", sig, "canary-in-the-lm-output"))
    assert "canary" not in json.dumps(err.to_body())


@pytest.mark.parametrize(("value", "quoted"), [
    ("short", "'short'"),
    ("x" * 100, repr("x" * 64 + "…")),
    ("a\r\nInjected: yes", repr("a\r\nInjected: yes")),
    (None, "null"),
    (True, "true"),
    (3, "3"),
    (10 ** 100, "a 101-digit number"),
    ({"env": "secret"}, "a map"),
    ([1, 2], "a list"),
    (b"\x00", "binary data"),
    (object(), "a value of another type"),
])
def test_request_values_are_quoted_short_and_never_by_repr_of_an_object(value: object, quoted: str) -> None:
    assert quote(value) == quoted


def test_header_values_lose_control_characters_and_length() -> None:
    assert header_value("a\r\nNats-Service-Error-Code: 200\x00\x7f\u2028b") == "a  Nats-Service-Error-Code: 200   b"
    assert len(header_value("x" * 5000)) == 1024
    assert header_value("é" * 10, limit=4) == "éééé"
