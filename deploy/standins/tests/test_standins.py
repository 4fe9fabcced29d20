"""The stand-ins: a valid, deterministic population and the Dukcapil/DTSEN endpoints."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from fastapi.testclient import TestClient
from lokal.nik import parse_nik
from lokal.wilayah import wilayah_name

from siks_standins import app as app_module
from siks_standins.app import create_app
from siks_standins.config import Settings
from siks_standins.population import (
    FAMILIES_PER_VILLAGE,
    REFERENCE_DATE,
    build_population,
    choose_villages,
    population,
)

SEED = 42


@pytest.fixture(scope="module")
def pop():
    return population(SEED)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(seed=SEED))) as c:
        yield c


def _decode_nik(nik: str) -> tuple[str, date, str, str]:
    """Our own reading of PP KK CC DDMMYY SSSS: (district digits, birth date, sex, serial)."""
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "F" if day > 40 else "M"
    year = 2000 + yy if yy <= REFERENCE_DATE.year % 100 else 1900 + yy
    return nik[:6], date(year, month, day - 40 if sex == "F" else day), sex, nik[12:]


def test_villages_are_real_desa_in_two_provinces():
    villages = choose_villages()
    assert len(villages) == 6
    assert len({v.code[:2] for v in villages}) == 2
    assert len({v.code[:5] for v in villages}) == 3
    for v in villages:
        assert v.code[9] == "2", v.code  # desa, not kelurahan
        assert 1 <= int(v.code[3:5]) <= 69  # kabupaten, not kota
        assert wilayah_name(v.code) == v.name


def test_every_nik_is_well_formed(pop):
    assert len(pop.people) > 500
    for p in pop.people:
        assert len(p.nik) == 16 and p.nik.isdigit()
        assert not p.nik.startswith("9999")
        district, born, sex, serial = _decode_nik(p.nik)
        assert district == p.region_code[:8].replace(".", "")
        assert born.isoformat() == p.birth_date
        assert sex == p.sex
        assert serial != "0000"
        # A second, independent reader: lokal-id's own NIK parser.
        info = parse_nik(p.nik, lookup_wilayah=wilayah_name, reference_date=REFERENCE_DATE)
        assert info.valid and not info.warnings, (info.errors, info.warnings)
        assert info.birth_date == p.birth_date
    assert len(pop.by_nik) == len(pop.people)  # NIKs are unique


def test_women_carry_day_plus_40(pop):
    women = [p for p in pop.people if p.sex == "F"]
    assert women
    for p in women:
        assert int(p.nik[6:8]) == int(p.birth_date[8:10]) + 40


def test_families_and_kk_numbers(pop):
    kks = [f.kk_number for f in pop.families]
    assert len(set(kks)) == len(kks) == 6 * FAMILIES_PER_VILLAGE
    for f in pop.families:
        assert len(f.kk_number) == 16 and f.kk_number.isdigit()
        assert f.kk_number[:6] == f.region_code[:8].replace(".", "")
        issued = date(2000 + int(f.kk_number[10:12]), int(f.kk_number[8:10]), int(f.kk_number[6:8]))
        assert issued < REFERENCE_DATE
        assert f.kk_number[12:] != "0000"
        assert [m.relation for m in f.members].count("head") == 1
        assert f.members[0].relation == "head"
        assert all(m.kk_number == f.kk_number and m.desil == f.desil for m in f.members)
        assert 1 <= f.desil <= 10
    relations = {p.relation for p in pop.people}
    assert {"head", "spouse", "child", "parent"} <= relations
    assert any(not p.alive for p in pop.people)  # a few deceased, for the "meninggal" path


def test_population_is_deterministic():
    a, b = build_population(SEED), build_population(SEED)
    assert a is not b
    assert a.people == b.people and a.families == b.families
    assert build_population(SEED + 1).people != a.people


def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_population_region_filter_and_limit(client, pop):
    body = client.get("/_population", params={"region": "32.04", "limit": 10000}).json()
    assert body["total"] == len(body["people"]) > 0
    assert all(p["region_code"].startswith("32.04.") for p in body["people"])
    assert body["total"] == sum(p.region_code.startswith("32.04.") for p in pop.people)

    # Whole segments only: "32.0" is no region, and "3204" means "32.04".
    assert client.get("/_population", params={"region": "32.0"}).status_code == 422
    undotted = client.get("/_population", params={"region": "3204", "limit": 10000}).json()
    assert undotted["total"] == body["total"]

    village = pop.villages[-1].code
    in_village = client.get("/_population", params={"region": village, "limit": 10000}).json()["people"]
    assert in_village and {p["region_code"] for p in in_village} == {village}

    assert len(client.get("/_population", params={"limit": 7}).json()["people"]) == 7
    assert len(client.get("/_population").json()["people"]) == 100  # the default limit
    too_many = client.get("/_population", params={"limit": 10001})
    assert too_many.status_code == 422
    assert too_many.headers["content-type"] == "application/problem+json"


def test_population_families(client, pop):
    village = pop.villages[0].code
    body = client.get("/_population/families", params={"region": village, "limit": 3}).json()
    assert body["total"] == FAMILIES_PER_VILLAGE and len(body["families"]) == 3
    fam = body["families"][0]
    assert set(fam) == {"kk_number", "region_code", "address", "desil", "members"}
    assert set(fam["address"]) == {"street", "rt", "rw"}
    assert fam["members"][0]["relation"] == "head"
    assert set(fam["members"][0]) == {
        "nik", "name", "sex", "birth_date", "birth_place", "relation", "kk_number", "region_code", "alive", "desil",
    }


def test_verify_found_and_matching(client, pop):
    p = next(x for x in pop.people if x.alive)
    r = client.post("/dukcapil/v1/verify", json={
        "nik": p.nik, "name": f"  {p.name.upper()}  ", "birth_date": p.birth_date, "kk_number": p.kk_number,
    })
    assert r.status_code == 200
    assert r.json() == {"found": True, "nik_match": True, "name_match": True,
                        "birth_date_match": True, "kk_match": True, "alive": True}


def test_verify_mismatches_and_unasked_fields(client, pop):
    p = pop.people[0]
    other_kk = pop.families[1].kk_number
    r = client.post("/dukcapil/v1/verify", json={"nik": p.nik, "name": p.name + " Wijaya",
                                                 "birth_date": "1901-01-01", "kk_number": other_kk}).json()
    assert r["found"] is True and r["nik_match"] is True
    assert r["name_match"] is False and r["birth_date_match"] is False and r["kk_match"] is False

    only_nik = client.post("/dukcapil/v1/verify", json={"nik": p.nik}).json()
    assert only_nik["name_match"] is None and only_nik["birth_date_match"] is None and only_nik["kk_match"] is None


def test_verify_reports_deceased(client, pop):
    dead = next(p for p in pop.people if not p.alive)
    assert client.post("/dukcapil/v1/verify", json={"nik": dead.nik}).json()["alive"] is False


def test_verify_in_bulk_answers_each_person_in_order_as_one_at_a_time_would(client, pop):
    people = [{"nik": p.nik, "name": p.name, "birth_date": p.birth_date} for p in pop.people[:5]]
    people.insert(2, {"nik": "3204050101010099", "name": "Siapa"})
    people.append({"nik": pop.people[0].nik, "name": "Nama Lain"})
    r = client.post("/dukcapil/v1/verify/batch", json={"people": people})
    assert r.status_code == 200
    one_by_one = [client.post("/dukcapil/v1/verify", json=one).json() for one in people]
    assert r.json()["results"] == one_by_one
    assert [x["found"] for x in one_by_one][2] is False and one_by_one[-1]["name_match"] is False
    assert client.post("/dukcapil/v1/verify/batch", json={"people": [{"nik": "1"}] * 1001}).status_code == 422


def test_verify_unknown_nik_is_not_found_not_404(client, pop):
    unknown = "3204050101010099"
    assert unknown not in pop.by_nik
    r = client.post("/dukcapil/v1/verify", json={"nik": unknown, "name": "Siapa Saja"})
    assert r.status_code == 200
    assert r.json()["found"] is False and r.json()["nik_match"] is False and r.json()["name_match"] is None


def test_dtsen_desil(client, pop):
    p = pop.people[5]
    assert client.get(f"/dtsen/v1/desil/{p.nik}").json() == {"nik_found": True, "desil": p.desil}
    missing = client.get("/dtsen/v1/desil/3204050101010099")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404


def test_injected_failures_hit_only_outside_routes(pop):
    nik = pop.people[0].nik
    with TestClient(create_app(Settings(seed=SEED, failure_rate=1.0))) as c:
        r = c.get(f"/dtsen/v1/desil/{nik}")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 503
        assert c.post("/dukcapil/v1/verify", json={"nik": nik}).status_code == 503
        # The back door and the probes stay up, so demos and orchestrators still work.
        assert c.get("/_population", params={"limit": 1}).status_code == 200
        assert c.get("/readyz").status_code == 200


def test_partial_failure_rate_is_replayable(pop):
    nik = pop.people[0].nik

    def statuses() -> list[int]:
        with TestClient(create_app(Settings(seed=SEED, failure_rate=0.5))) as c:
            return [c.get(f"/dtsen/v1/desil/{nik}").status_code for _ in range(40)]

    first = statuses()
    assert set(first) == {200, 503}
    assert statuses() == first


def test_latency_is_injected(monkeypatch, pop):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(app_module, "_sleep", fake_sleep)
    with TestClient(create_app(Settings(seed=SEED, latency_ms=250))) as c:
        c.get(f"/dtsen/v1/desil/{pop.people[0].nik}")
        c.get("/healthz")
    assert slept == [0.25]  # once, for the DTSEN call only


def test_logs_carry_no_nik_or_name(client, pop, caplog):
    p = pop.people[3]
    with caplog.at_level(logging.DEBUG):
        client.get(f"/dtsen/v1/desil/{p.nik}")
        client.get("/dtsen/v1/desil/3204050101010099")
        client.post("/dukcapil/v1/verify", json={"nik": p.nik, "name": p.name})
    # httpx logs the URL on the test client's side: that is the caller, not the stand-in.
    server = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "/dtsen/v1/desil/{nik}" in server  # the access line is there, templated
    assert p.nik not in server and "3204050101010099" not in server
    assert p.name not in server
