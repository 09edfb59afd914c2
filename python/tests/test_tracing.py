"""tracing.py: off unless configured; when configured, a span reaches an OTLP/HTTP receiver."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from dspex_worker.tracing import configure_tracing, extract_context, traces_url


class _Receiver:
    """A tiny OTLP/HTTP receiver: decodes each ExportTraceServiceRequest into its spans."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, str], object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        receiver.spans.extend((resource, span) for span in ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.server.shutdown()


def test_is_a_no_op_without_an_endpoint() -> None:
    tracing = configure_tracing(env={}, set_global=False)
    assert not tracing.enabled and tracing.url is None
    with tracing.tracer.start_as_current_span("x") as span:
        assert not span.is_recording()
    assert traces_url(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_SDK_DISABLED": "true"}) is None


def test_does_not_import_the_sdk_when_off() -> None:
    code = ("import sys; from dspex_worker.tracing import configure_tracing; configure_tracing(env={}); "
            "print('opentelemetry.sdk' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={})
    assert out.stdout.strip() == "False"


def test_reads_the_standard_variables() -> None:
    assert traces_url(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318/"}) == "http://h:4318/v1/traces"
    assert traces_url(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318",
                           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:9/x"}) == "http://t:9/x"
    assert traces_url("http://o:1", env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:9/x"}) == "http://o:1/v1/traces"


def test_exports_a_span_under_the_callers_traceparent(receiver: _Receiver) -> None:
    tracing = configure_tracing("dspex-worker-test", endpoint=receiver.url, set_global=False, immediate=True,
                                attributes={"dspex.worker": "w1"})
    assert tracing.enabled and tracing.url == receiver.url + "/v1/traces"
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with tracing.tracer.start_as_current_span("dspex.worker.predict", context=extract_context(parent)) as span:
        span.set_attribute("dspex.module", "Predict")
    assert tracing.flush()
    tracing.shutdown()
    [(resource, got)] = receiver.spans
    assert resource["service.name"] == "dspex-worker-test" and resource["dspex.worker"] == "w1"
    assert got.name == "dspex.worker.predict"
    assert got.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert got.parent_span_id.hex() == "00f067aa0ba902b7"
    attrs = {kv.key: kv.value.string_value for kv in got.attributes}
    assert attrs == {"dspex.module": "Predict"}


@pytest.mark.parametrize("header", [None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
def test_ignores_a_missing_or_invalid_traceparent(header: str | None) -> None:
    assert extract_context(header) is None
