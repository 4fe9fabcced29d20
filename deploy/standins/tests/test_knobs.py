"""The knobs of the outside systems (PUT /_knobs/{system}): outage, latency, error rate and
rate limit, each for one system only, and a way back to normal. Time is moved by hand."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from siks_standins import app as app_module
from siks_standins.app import SYSTEMS, create_app
from siks_standins.config import Settings
from siks_standins.population import population

SEED = 42


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def nik() -> str:
    return population(SEED).people[0].nik


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock):
    with TestClient(create_app(Settings(seed=SEED), clock=clock)) as c:
        yield c


def dtsen(c: TestClient, nik: str) -> int:
    return c.get(f"/dtsen/v1/desil/{nik}").status_code


def dukcapil(c: TestClient, nik: str) -> int:
    return c.post("/dukcapil/v1/verify", json={"nik": nik}).status_code


def test_every_system_has_knobs_and_they_start_quiet(client):
    knobs = client.get("/_knobs").json()
    assert set(knobs) == set(SYSTEMS) == {"dukcapil", "dtsen", "bpjs", "dapodik", "himbara"}
    assert all(k == {"outage": False, "latency_ms": 0.0, "error_rate": 0.0, "rate_limit": None}
               for k in knobs.values())


def test_an_outage_of_one_system_is_503_for_it_alone_and_ends_when_turned_off(client, nik):
    r = client.put("/_knobs/dukcapil", json={"outage": True})
    assert r.status_code == 200 and r.json()["outage"] is True
    down = client.post("/dukcapil/v1/verify", json={"nik": nik})
    assert down.status_code == 503 and down.headers["content-type"] == "application/problem+json"
    assert down.headers["Retry-After"] == "1" and "dukcapil" in down.json()["detail"]
    assert dtsen(client, nik) == 200  # DTSEN is not affected
    assert client.get("/_population", params={"limit": 1}).status_code == 200  # nor the back door
    assert client.get("/_knobs").json()["dukcapil"]["outage"] is True
    client.put("/_knobs/dukcapil", json={"outage": False})
    assert dukcapil(client, nik) == 200


def test_error_rate_gives_seeded_random_503s(clock, nik):
    def run() -> list[int]:
        with TestClient(create_app(Settings(seed=SEED), clock=clock)) as c:
            c.put("/_knobs/dtsen", json={"error_rate": 0.5})
            return [dtsen(c, nik) for _ in range(40)]

    first = run()
    assert set(first) == {200, 503}
    assert run() == first  # replayable from the seed


def test_rate_limit_answers_429_with_retry_after_and_refills_with_time(client, clock, nik):
    client.put("/_knobs/dukcapil", json={"rate_limit": 2})
    assert [dukcapil(client, nik) for _ in range(3)] == [200, 200, 429]
    limited = client.post("/dukcapil/v1/verify", json={"nik": nik})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"
    assert dtsen(client, nik) == 200  # another system, its own limit
    clock.t += 0.5  # half a second at 2 per second: one more request
    assert [dukcapil(client, nik) for _ in range(2)] == [200, 429]


def test_slow_rate_limits_ask_to_wait_longer(client, clock, nik):
    client.put("/_knobs/dtsen", json={"rate_limit": 0.25})  # one request every four seconds
    assert dtsen(client, nik) == 200
    r = client.get(f"/dtsen/v1/desil/{nik}")
    assert r.status_code == 429 and r.headers["Retry-After"] == "4"
    clock.t += 4
    assert dtsen(client, nik) == 200


def test_latency_knob(monkeypatch, client, nik):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(app_module, "_sleep", fake_sleep)
    client.put("/_knobs/dtsen", json={"latency_ms": 1500})
    dtsen(client, nik)
    dukcapil(client, nik)
    assert slept == [1.5]


def test_knobs_for_systems_without_routes_yet_are_kept(client):
    r = client.put("/_knobs/himbara", json={"outage": True, "latency_ms": 10, "error_rate": 0.1, "rate_limit": 5})
    assert r.status_code == 200
    assert client.get("/_knobs").json()["himbara"] == {"outage": True, "latency_ms": 10, "error_rate": 0.1,
                                                       "rate_limit": 5}


def test_unknown_systems_and_nonsense_values_are_refused(client):
    assert client.put("/_knobs/bank", json={"outage": True}).status_code == 404
    for bad in ({"error_rate": 1.5}, {"latency_ms": -1}, {"rate_limit": 0}, {"outage": "sometimes"}):
        r = client.put("/_knobs/dukcapil", json=bad)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", bad


def test_reset_puts_every_system_back(client, nik):
    client.put("/_knobs/dukcapil", json={"outage": True})
    client.put("/_knobs/dtsen", json={"rate_limit": 1})
    knobs = client.delete("/_knobs").json()
    assert all(not k["outage"] and k["rate_limit"] is None for k in knobs.values())
    assert dukcapil(client, nik) == 200


def test_the_environment_sets_where_reset_returns_to():
    with TestClient(create_app(Settings(seed=SEED, latency_ms=5, failure_rate=0.1))) as c:
        c.put("/_knobs/dukcapil", json={"outage": True})
        assert c.delete("/_knobs").json()["dukcapil"] == {"outage": False, "latency_ms": 5.0, "error_rate": 0.1,
                                                          "rate_limit": None}


def test_dtsen_answers_a_household_in_one_request_and_obeys_its_knobs(client):
    people = client.get("/_population", params={"limit": 2}).json()["people"]
    niks = [p["nik"] for p in people] + ["3204050101010099"]
    answer = client.post("/dtsen/v1/desil", json={"niks": niks}).json()["results"]
    assert [r["found"] for r in answer] == [True, True, False] and answer[2]["desil"] is None
    assert client.put("/_knobs/dtsen", json={"outage": True}).status_code == 200
    assert client.post("/dtsen/v1/desil", json={"niks": niks}).status_code == 503
