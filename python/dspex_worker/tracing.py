"""OpenTelemetry tracing for a worker: a no-op unless an OTLP endpoint is configured.

Configured by the standard variables (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` used as is, else
``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``; ``OTEL_SERVICE_NAME``; ``OTEL_SDK_DISABLED``) or
the ``endpoint`` argument. Spans go out over OTLP/HTTP in protobuf, the protocol the node's exporter
uses too. The SDK is imported only when tracing is on, so an untraced worker pays nothing for it.

A call's parent comes from the node as a W3C ``traceparent``: :func:`extract_context` turns it into
an OpenTelemetry context to start the worker's span in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass
class Tracing:
    """What :func:`configure_tracing` set up; ``enabled`` is False for the no-op."""

    enabled: bool
    url: str | None
    tracer: trace.Tracer
    _provider: Any = None

    def flush(self, timeout_ms: int = 10_000) -> bool:
        """Export the spans that ended so far; False if that timed out."""
        return bool(self._provider.force_flush(timeout_ms)) if self._provider is not None else True

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def traces_url(endpoint: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The URL spans are posted to, or None when tracing is off."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if endpoint is None:
        specific = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if specific:
            return specific
        endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None
    return None if endpoint is None else endpoint.rstrip("/") + "/v1/traces"


def configure_tracing(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    attributes: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    set_global: bool = True,
    immediate: bool = False,
) -> Tracing:
    """Set up tracing as configured; returns the no-op when no endpoint is.

    ``set_global`` registers the provider process-wide (OpenTelemetry allows that once per process);
    ``immediate`` exports each span as it ends instead of in batches (tests).
    """
    env = os.environ if env is None else env
    url = traces_url(endpoint, env)
    if url is None:
        return Tracing(enabled=False, url=None, tracer=trace.get_tracer("dspex_worker"))
    # Imported here: the SDK and the exporter (protobuf) are only worth loading when tracing is on.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = service_name or env.get("OTEL_SERVICE_NAME", "").strip() or "dspex-worker"
    provider = TracerProvider(resource=Resource.create({"service.name": name, **(attributes or {})}))
    exporter = OTLPSpanExporter(endpoint=url)
    provider.add_span_processor(SimpleSpanProcessor(exporter) if immediate else BatchSpanProcessor(exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    return Tracing(enabled=True, url=url, tracer=provider.get_tracer("dspex_worker"), _provider=provider)


def extract_context(traceparent: str | None) -> Context | None:
    """The OpenTelemetry context of a W3C ``traceparent`` header, or None when absent or invalid."""
    if not traceparent:
        return None
    ctx = _PROPAGATOR.extract({"traceparent": traceparent})
    span = trace.get_current_span(ctx)
    return ctx if span.get_span_context().is_valid else None
