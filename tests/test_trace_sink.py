"""The local trace sink keeps at most MAX_SPANS spans, the oldest going first, and answers by
trace id with the spans converted only when asked for."""

import importlib.util
from pathlib import Path

from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

spec = importlib.util.spec_from_file_location("trace_sink", Path(__file__).parents[1] / "deploy/local/trace_sink.py")
sink = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sink)


def _request(service: str, trace: int, count: int) -> bytes:
    spans = [Span(trace_id=trace.to_bytes(16, "big"), span_id=(trace * 100 + i).to_bytes(8, "big"), name=f"s{i}",
                  kind=Span.SPAN_KIND_CONSUMER, attributes=[KeyValue(key="n", value=AnyValue(int_value=i))])
             for i in range(count)]
    rs = ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])
    rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    return ExportTraceServiceRequest(resource_spans=[rs]).SerializeToString()


def test_the_sink_keeps_a_bounded_number_of_spans_and_answers_by_trace(monkeypatch):
    monkeypatch.setattr(sink, "MAX_SPANS", 10)
    monkeypatch.setattr(sink, "received", type(sink.received)())
    monkeypatch.setattr(sink, "held", 0)
    with TestClient(sink.app) as client:
        for trace in (1, 2, 3):
            client.post("/v1/traces", content=_request("registry", trace, 4),
                        headers={"content-type": "application/x-protobuf"})
        assert client.get("/healthz").json()["spans"] <= 10  # trace 1's four went first
        assert client.get("/spans", params={"trace_id": f"{1:032x}"}).json()["count"] == 0
        found = client.get("/spans", params={"trace_id": f"{3:032x}"}).json()["spans"]
        assert [(s["service"], s["name"], s["attributes"]["n"], s["kind"]) for s in found] == [
            ("registry", f"s{i}", str(i), 5) for i in range(4)]
        assert client.get("/spans", params={"trace_id": "not hex"}).json() == {"count": 0, "spans": []}
        assert len(client.get("/spans", params={"limit": 3}).json()["spans"]) == 3
