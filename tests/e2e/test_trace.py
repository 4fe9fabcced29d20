"""One trace from the operator's HTTP submit through registry, Kafka, integration and back to
verification with the check result; and no NIK or name in any span attribute."""

import os
import secrets

import httpx
import pytest

pytestmark = pytest.mark.stack
SINK = f"http://127.0.0.1:{os.environ.get('SIKS_TRACE_SINK_PORT', '4318')}"
CONSUMER = 5  # OTLP SpanKind
VILLAGE = "32.01.02.2001"


def _personal_strings(family) -> set[str]:
    return {m["nik"] for m in family["members"]} | {m["name"] for m in family["members"]} | {family["kk_number"]}


def _texts(span) -> list[str]:
    values = list(span["attributes"].values()) + [span["name"]]
    for event in span["events"]:
        values += list(event["attributes"].values())
    return [str(v) for v in values]


async def test_one_trace_spans_the_flow_and_carries_no_personal_data(ladder, fresh):
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    family, household = await fresh.register(VILLAGE)
    proposal = await ladder.propose(household, "PKH", traceparent=traceparent)
    await ladder.wait_case(proposal["id"], VILLAGE)

    async with httpx.AsyncClient(base_url=SINK) as sink:
        async def whole_trace():
            # Each service exports in its own batches: wait until every part has arrived.
            spans = (await sink.get("/spans", params={"trace_id": trace_id})).json()["spans"]
            consumed = {(s["service"], t) for s in spans if s["kind"] == CONSUMER for t in _texts(s)}
            arrived = {("integration", "siks.registry.proposals.v1"),
                       ("verification", "siks.integration.checks.v1")} <= consumed
            submit = any(s["attributes"].get("http.route") == "/v1/proposals" for s in spans)
            return spans if arrived and submit else None

        spans = await ladder.wait_until(whole_trace, "the trace to reach verification with the checks")

    services = {s["service"] for s in spans}
    assert {"registry", "integration", "verification"} <= services
    http_submit = [s for s in spans if s["service"] == "registry" and s["attributes"].get("http.route") == "/v1/proposals"]
    assert http_submit and http_submit[0]["parent_span_id"] != ""  # continued our traceparent, not a new root
    consumed = {(s["service"], t) for s in spans if s["kind"] == CONSUMER for t in _texts(s) if t.startswith("siks.")}
    assert ("integration", "siks.registry.proposals.v1") in consumed
    assert ("verification", "siks.integration.checks.v1") in consumed

    personal = _personal_strings(family)
    leaks = [(s["service"], s["name"], t) for s in spans for t in _texts(s) for p in personal if p in t]
    assert leaks == []

    # A human step later starts its own trace, linked back to the proposal's first one.
    await ladder.verify(proposal["id"], VILLAGE)
    async with httpx.AsyncClient(base_url=SINK) as sink:
        async def linked_verify():
            recent = (await sink.get("/spans", params={"limit": 5000})).json()["spans"]
            return [s for s in recent if s["attributes"].get("http.route", "").endswith("/verify")
                    and any(link["trace_id"] == trace_id for link in s["links"])]

        (verify_span, *_) = await ladder.wait_until(linked_verify, "the verify span linked to the first trace")
    assert verify_span["trace_id"] != trace_id


async def test_public_status_query_never_reaches_a_span_in_the_clear(ladder):
    nik, name = "3322015507810001", "Sri Wahyuni"
    trace_id = secrets.token_hex(16)
    async with httpx.AsyncClient(base_url=ladder.endpoints.decree) as http:
        await http.get("/v1/public/status", params={"nik": nik, "name": name},
                       headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    async with httpx.AsyncClient(base_url=SINK) as sink:
        async def spans():
            return (await sink.get("/spans", params={"trace_id": trace_id})).json()["spans"]

        found = await ladder.wait_until(spans, "the public status span")
    texts = [t for s in found for t in _texts(s)]
    assert texts and not [t for t in texts if nik in t or "Wahyuni" in t or "Sri" in t]
