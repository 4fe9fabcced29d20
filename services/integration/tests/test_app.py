"""The composed service (bootstrap) with fakes: GET /v1/checks and its response model, the
background retrier running in the service's lifetime, and the HTTP clients closed on shutdown."""

import asyncio
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from siks_contracts import topics
from siks_contracts.enums import Role
from siks_kit.web.auth import issue_token
from siks_kit.runtime.clock import FixedClock, SystemClock
from siks_testkit.memory import MemoryDatabase, MemoryTransport, Record
from siks_testkit.samples import proposal_submitted
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET
from siks_testkit.testing import envelope, wait_for
from siks_integration.bootstrap import build_app
from siks_integration.config import Settings

from siks_integration.domain.check_set import DukcapilAnswer
from siks_integration.outside.resilient import OutsideUnavailable

T0 = datetime(2026, 12, 16, 3, tzinfo=UTC)


class FakeDukcapil:
    def __init__(self, fail: int = 0) -> None:
        self.fail, self.calls = fail, 0

    async def verify(self, people) -> list[DukcapilAnswer]:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise OutsideUnavailable("dukcapil", "HTTP 503")
        return [DukcapilAnswer(True, True, True, True)] * len(people)


class FakeDtsen:
    async def desils(self, niks: list[str]) -> list[int | None]:
        return [{"3204052609800001": 4, "3204055912790001": 3}.get(nik) for nik in niks]


def auth(role=Role.SUPERVISOR_KABKOTA, region="32.04"):
    return {"Authorization": "Bearer " + issue_token(DEVELOPMENT_JWT_SECRET, sub="t", role=role, region=region)}


def deliver(client: TestClient, bus: MemoryTransport, p=None) -> None:
    record = Record(topics.PROPOSALS, "p-1", envelope(p or proposal_submitted()).model_dump_json().encode(), {})
    client.portal.call(bus.deliver, record)


def test_get_checks_shows_the_latest_round_its_verdict_desil_and_checks():
    db, bus = MemoryDatabase(), MemoryTransport()
    app = build_app(Settings(), database=db, transport=bus, clock=FixedClock(T0),
                    dukcapil=FakeDukcapil(), dtsen=FakeDtsen())
    with TestClient(app) as client:
        deliver(client, bus)
        r = client.get("/v1/checks/p-1", headers=auth())
        assert r.status_code == 200
        body = r.json()
        assert body == {
            "proposal_id": "p-1", "household_id": "h-1", "round": 1, "passed": True, "desil": 3, "waiting_on": [],
            "checks": [
                {"name": "nik", "status": "passed", "detail": "2 NIK(s) well formed", "evidence": {}},
                {"name": "region", "status": "passed", "detail": "village 32.04.05.2001 exists", "evidence": {}},
                {"name": "dukcapil", "status": "passed", "detail": "2 member(s) matched (padan)",
                 "evidence": {"members": 2, "matched": 2}},
                {"name": "dtsen", "status": "passed", "detail": "desil 3 (2 of 2 member(s) in DTSEN)",
                 "evidence": {"desil": 3, "members_found": 2}},
            ],
            "checked_at": "2026-12-16T03:00:00Z",
        }
        assert client.get("/v1/checks/p-1", headers=auth(region="33.22")).status_code == 403
        assert client.get("/v1/checks/nope", headers=auth()).status_code == 404
        schema = client.get("/openapi.json").json()
        ok = schema["paths"]["/v1/checks/{proposal_id}"]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": "#/components/schemas/ChecksOut"}


def test_the_services_own_retrier_finishes_a_pending_check_once_the_system_answers():
    db, bus = MemoryDatabase(), MemoryTransport()
    dukcapil = FakeDukcapil(fail=1)  # the first round of asking fails (one request for the household)
    settings = Settings(retry_first_seconds=0.05, retry_max_seconds=0.1)
    app = build_app(settings, database=db, transport=bus, clock=SystemClock(), dukcapil=dukcapil, dtsen=FakeDtsen())
    with TestClient(app) as client:
        deliver(client, bus)
        # The pending state is seen through the events below: reading it here would race the retrier.
        done = wait_for(lambda: client.get("/v1/checks/p-1", headers=auth()).json()["passed"],
                        "the retrier to complete the checks", deadline_s=10)
        assert done is True and dukcapil.calls == 2
        types = wait_for(lambda: [r.headers["event_type"] for r in bus.on(topics.CHECKS)][1:] and
                         [r.headers["event_type"] for r in bus.on(topics.CHECKS)], "both events relayed")
        assert types == ["integration.checks_pending.v1", "integration.checks_completed.v1"]


def test_the_http_clients_it_opens_are_closed_on_shutdown():
    app = build_app(Settings(standins_url="http://127.0.0.1:9"), database=MemoryDatabase(),
                    transport=MemoryTransport(), clock=FixedClock(T0))
    with TestClient(app):
        deps = app.state.runtime.deps
        clients = [close.__self__ for close in deps.closers]
        assert len(clients) == 2 and not any(c.is_closed for c in clients)
    assert all(c.is_closed for c in clients)
    assert asyncio.iscoroutinefunction(deps.close)
