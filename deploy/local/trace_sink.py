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
spans: collections.deque[dict] = collections.deque(maxlen=MAX_SPANS)
app = FastAPI(title="SIKS local trace sink")


def _value(v: dict) -> object:
    for kind in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if kind in v:
            return v[kind]
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


@app.post("/v1/traces")
async def receive(request: Request) -> Response:
    req = ExportTraceServiceRequest()
    req.ParseFromString(await request.body())
    for rs in req.resource_spans:
        service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "?")
        for ss in rs.scope_spans:
            for s in ss.spans:
                d = MessageToDict(s)
                spans.append({
                    "service": service, "name": s.name, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(), "kind": int(s.kind),
                    "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                    "attributes": {a["key"]: _value(a["value"]) for a in d.get("attributes", [])},
                    "events": [{"name": e.get("name"), "attributes": {a["key"]: _value(a["value"])
                                                                     for a in e.get("attributes", [])}}
                               for e in d.get("events", [])],
                    "links": [{"trace_id": ln.trace_id.hex(), "span_id": ln.span_id.hex()} for ln in s.links],
                })
    return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


@app.get("/spans")
async def list_spans(trace_id: str | None = None, limit: int = 10_000) -> dict:
    found = [s for s in spans if trace_id is None or s["trace_id"] == trace_id]
    return {"count": len(found), "spans": found[-limit:]}


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok", "spans": len(spans)}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("SIKS_TRACE_SINK_PORT", "4318")),
                log_level="warning", access_log=False)
