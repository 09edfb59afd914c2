"""logs.py: records become one JSON line each, with the pino level, fields and the call's trace id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dspex_worker.logs import JsonFormatter, log_format, pino_level, trace_context


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("w-1"))
    log = logging.getLogger("dspex_worker.test_logs")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log, stream
    log.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_level_message_logger_and_label(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = capture
    log.warning("queue %s is %d deep", "general", 7)
    [rec] = lines(stream)
    assert rec["level"] == "warn" and rec["msg"] == "queue general is 7 deep"
    assert rec["logger"] == "dspex_worker.test_logs" and rec["worker"] == "w-1" and isinstance(rec["pid"], int)
    assert "trace" not in rec


def test_extra_fields_are_fields_and_never_overwrite_the_formatters_own(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = capture
    log.info("done", extra={"signature": "q -> a", "latency_ms": 12.5, "worker": "spoof", "obj": object()})
    [rec] = lines(stream)
    assert rec["signature"] == "q -> a" and rec["latency_ms"] == 12.5
    assert rec["worker"] == "w-1" and rec["extra_worker"] == "spoof"
    assert str(rec["obj"]).startswith("<object object")


def test_the_trace_id_comes_from_the_context(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    with trace_context("4bf92f3577b34da6a3ce929d0e0e4736"):
        log.debug("in a call")
    log.debug("after")
    first, second = lines(stream)
    assert first["trace"] == "4bf92f3577b34da6a3ce929d0e0e4736" and first["level"] == "debug"
    assert "trace" not in second


def test_an_exception_travels_as_error_with_its_stack(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("call failed")
    [rec] = lines(stream)
    err = rec["error"]
    assert isinstance(err, dict)
    assert rec["level"] == "error" and err["type"] == "ValueError" and err["message"] == "bad\nvalue"
    assert "Traceback" in err["stack"]


@given(st.text(max_size=200))
def test_any_message_stays_on_one_line(message: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, (), None)
    out = JsonFormatter("w").format(record)
    assert "\n" not in out and json.loads(out)["msg"] == message


def test_levels_map_to_pino_names() -> None:
    assert [pino_level(n) for n in (5, 10, 20, 30, 40, 50)] == ["trace", "debug", "info", "warn", "error", "fatal"]


def test_format_is_json_unless_a_terminal_or_asked() -> None:
    assert log_format({}, isatty=False) == "json"
    assert log_format({}, isatty=True) == "text"
    assert log_format({"DSPEX_LOG_FORMAT": "text"}, isatty=False) == "text"
    assert log_format({"DSPEX_LOG_FORMAT": "JSON"}, isatty=True) == "json"
