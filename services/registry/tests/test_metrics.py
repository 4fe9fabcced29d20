"""GET /metrics: Prometheus text, requests counted by route template, no id in any label."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from siks_kit.runtime.clock import FixedClock
from siks_testkit.memory import MemoryDatabase, MemoryTransport


def value(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def test_a_service_serves_its_metrics_by_route_template_with_no_id_in_any_label():
    from siks_registry.bootstrap import build_app

    with TestClient(build_app(database=MemoryDatabase(), transport=MemoryTransport(),
                              clock=FixedClock(datetime(2026, 12, 16, 2, tzinfo=UTC)))) as client:
        client.get("/v1/households/3204052609800001")  # 401: no token, but counted under the template
        resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert value(text, "http_server_request_duration_seconds_count", http_route="/v1/households/{household_id}",
                 http_request_method="GET", http_response_status_code="401") >= 1
    assert "3204052609800001" not in text
