"""A tiny OTLP/HTTP trace receiver for the local stack (no Jaeger here): it keeps the last
spans in memory and answers `GET /spans?trace_id=` so tests and the demo can read traces."""

import collections
import os

import uvicorn
from fastapi import FastAPI, Request, Response
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

MAX_SPANS = 500_000
# Spans as they arrived, parsed (protobuf's C parser) but not converted: turning every span into
# a dict on arrival was most of the sink's CPU under load, and only the spans asked for need it.
# (service name, its spans) per resource, oldest first; at most MAX_SPANS spans in all.
received: collections.deque[tuple[str, list]] = collections.deque()
held = 0
app = FastAPI(title="SIKS local trace sink")


def _value(v: dict) -> object:
    for kind in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if kind in v:
            return v[kind]
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def _as_dict(service: str, s) -> dict:
    d = MessageToDict(s)
    return {
        "service": service, "name": s.name, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
        "parent_span_id": s.parent_span_id.hex(), "kind": int(s.kind),
        "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
        "attributes": {a["key"]: _value(a["value"]) for a in d.get("attributes", [])},
        "events": [{"name": e.get("name"), "attributes": {a["key"]: _value(a["value"])
                                                         for a in e.get("attributes", [])}}
                   for e in d.get("events", [])],
        "links": [{"trace_id": ln.trace_id.hex(), "span_id": ln.span_id.hex()} for ln in s.links],
    }


@app.post("/v1/traces")
async def receive(request: Request) -> Response:
    global held
    req = ExportTraceServiceRequest()
    req.ParseFromString(await request.body())
    for rs in req.resource_spans:
        service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "?")
        got = [s for ss in rs.scope_spans for s in ss.spans]
        received.append((service, got))
        held += len(got)
    while held > MAX_SPANS:  # the oldest go first
        _, gone = received.popleft()
        held -= len(gone)
    return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


@app.get("/spans")
async def list_spans(trace_id: str | None = None, limit: int = 10_000) -> dict:
    try:
        wanted = bytes.fromhex(trace_id) if trace_id is not None else None
    except ValueError:
        return {"count": 0, "spans": []}
    found = [(service, s) for service, got in received for s in got if wanted is None or s.trace_id == wanted]
    return {"count": len(found), "spans": [_as_dict(service, s) for service, s in found[-limit:]]}


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok", "spans": held}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("SIKS_TRACE_SINK_PORT", "4318")),
                log_level="warning", access_log=False)
