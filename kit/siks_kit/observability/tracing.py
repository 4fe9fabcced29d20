"""OpenTelemetry for a service: provider from the standard OTEL_* environment, PyMongo and
FastAPI instrumentation, and helpers that carry trace context through the outbox."""

import contextlib
import logging
import os
import weakref
from collections.abc import Iterator, Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags
from siks_contracts.envelope import TraceContext

from siks_kit.observability.redaction import redact_attribute

log = logging.getLogger(__name__)
_provider: TracerProvider | None = None
# The SDK builds a deprecated InstrumentationInfo (under catch_warnings) on every get_tracer
# call, 6% of a service's event loop at 80 requests/s: one tracer per provider, asked for once.
_bus_tracers: "weakref.WeakKeyDictionary[trace.TracerProvider, trace.Tracer]" = weakref.WeakKeyDictionary()


def _bus_tracer() -> trace.Tracer:
    provider = trace.get_tracer_provider()
    try:
        return _bus_tracers[provider]
    except (KeyError, TypeError):
        tracer = provider.get_tracer("siks.bus")
        with contextlib.suppress(TypeError):  # a provider that takes no weak reference is asked each time
            _bus_tracers[provider] = tracer
        return tracer


class RedactingExporter(SpanExporter):
    """Wraps the real exporter; every attribute, event and link is masked on the way out."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    @staticmethod
    def _clean(attrs):
        return {k: redact_attribute(k, v) for k, v in (attrs or {}).items()}

    def _copy(self, span: ReadableSpan) -> ReadableSpan:
        from opentelemetry.sdk.trace import Event

        attributes = self._clean(span.attributes)
        if not span.events and span.instrumentation_scope and attributes == dict(span.attributes or {}):
            return span  # nothing to mask (most spans: a record processed, a command sent)
        events = [Event(e.name, self._clean(e.attributes), e.timestamp) for e in span.events]
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=attributes, events=events, links=span.links,
            kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope or InstrumentationScope("siks"),
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self._copy(s) for s in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _otlp_exporter() -> SpanExporter | None:
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return None  # DESIGN: with no endpoint set nothing is exported
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: use http/protobuf or grpc")
    return OTLPSpanExporter()  # reads endpoint, headers and timeout from the environment itself


def setup_tracing(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Once per process: the global provider, PyMongo instrumented (statements never captured)."""
    global _provider
    if _provider is not None:
        return _provider
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporter = exporter or _otlp_exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter), schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    PymongoInstrumentor().instrument(tracer_provider=provider, capture_statement=False)
    _provider = provider
    return provider


def instrument_fastapi(app, provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # One span per request: the ASGI "http send/receive" sub-spans (four a request) say
    # nothing an operator needs and cost CPU in every service and in the collector.
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics",
                                       exclude_spans=["receive", "send"])


def current_trace_context() -> TraceContext | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if "traceparent" not in carrier:
        return None
    return TraceContext(traceparent=carrier["traceparent"], tracestate=carrier.get("tracestate"))


def attach(trace_ctx: TraceContext | None) -> object | None:
    """Makes a stored trace context current (the relay continues the writer's trace)."""
    if trace_ctx is None:
        return None
    return otel_context.attach(propagate.extract(trace_headers(trace_ctx)))


def detach(token: object | None) -> None:
    if token is not None:
        otel_context.detach(token)


MESSAGING = {"messaging.system": "kafka"}


def current_headers() -> dict[str, str]:
    """The current trace context as record headers (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def trace_headers(trace_ctx: TraceContext | None) -> dict[str, str]:
    """A stored trace context as W3C carrier headers (`traceparent`, `tracestate`)."""
    if trace_ctx is None:
        return {}
    return {"traceparent": trace_ctx.traceparent, **({"tracestate": trace_ctx.tracestate} if trace_ctx.tracestate else {})}


@contextlib.contextmanager
def consuming(topic: str, headers: Mapping[str, str], stored: TraceContext | None) -> Iterator[None]:
    """The span of handling one event, in the trace of the write that published it: the
    record's `traceparent` header (the producer's span) or else the one stored in the envelope.
    Records come in batches, and each one continues its own trace."""
    carrier = {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}
    if "traceparent" not in carrier:
        carrier = trace_headers(stored)
    parent = propagate.extract(carrier) if carrier else otel_context.Context()
    with _bus_tracer().start_as_current_span(f"{topic} process", context=parent, kind=SpanKind.CONSUMER,
                                      attributes={**MESSAGING, "messaging.destination.name": topic,
                                                  "messaging.operation": "process"}):
        yield


def span_context_of(trace_ctx: TraceContext) -> SpanContext | None:
    parts = trace_ctx.traceparent.split("-")
    if len(parts) != 4:
        return None
    try:
        return SpanContext(int(parts[1], 16), int(parts[2], 16), is_remote=True,
                           trace_flags=TraceFlags(int(parts[3], 16)))
    except ValueError:
        return None


def link_current_span(trace_ctx: TraceContext | None) -> None:
    """A human step days later starts its own trace; link it to the proposal's first trace."""
    if trace_ctx is None:
        return
    linked = span_context_of(trace_ctx)
    span = trace.get_current_span()
    if linked is not None and span.is_recording():
        span.add_link(linked, {"siks.link": "proposal_origin"})


__all__ = ["Link", "setup_tracing", "instrument_fastapi", "current_trace_context", "attach", "detach",
           "link_current_span", "RedactingExporter"]
