"""GET /metrics on the running services: after one household climbs to its checks, each
service reports the batches it consumed and how far behind it is, per topic and partition
(read from the real Kafka consumer), what its outbox published, and no NIK anywhere."""

import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from siks_contracts import topics

pytestmark = pytest.mark.stack
VILLAGE = "32.01.02.2001"


def _series(text: str, name: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples if s.name == name}


async def test_each_service_reports_its_batches_lag_and_outbox_without_personal_data(ladder, fresh):
    family, household = await fresh.register(VILLAGE)
    proposal = await ladder.propose(household, "PKH")
    await ladder.wait_case(proposal["id"], VILLAGE)
    endpoints = ladder.endpoints
    async with httpx.AsyncClient(timeout=10) as http:
        texts = {name: (await http.get(f"{getattr(endpoints, name)}/metrics")).text
                 for name in ("registry", "integration", "verification", "decree")}

    consumed = _series(texts["integration"], "siks_consumer_batch_size_count")
    assert consumed[(("topic", topics.PROPOSALS),)] >= 1
    lag = _series(texts["integration"], "siks_consumer_lag")
    assert lag and {dict(k)["topic"] for k in lag} == {topics.PROPOSALS} and all(v >= 0 for v in lag.values())
    assert _series(texts["registry"], "siks_outbox_published_total")[(("collection", "proposals"),)] >= 1
    assert (("system", "dukcapil"),) in _series(texts["integration"], "siks_breaker_state")
    assert _series(texts["integration"], "siks_breaker_held")[(("system", "dukcapil"),)] == 0  # none waits
    routes = {dict(k)["http_route"] for k in _series(texts["registry"], "http_server_request_duration_seconds_count")}
    assert "/v1/proposals" in routes and "/v1/households" in routes
    niks = {m["nik"] for m in family["members"]}
    for text in texts.values():
        assert not niks & set(re.findall(r"\d{16}", text))
