"""Point 3 on the real stack: no NIK is ever active in two households, under concurrent requests.

Registrations race for a shared person; corrections race to move a person between households.
Afterwards the person is listed by exactly one household, and the claim (what a search by
NIK reads) names that household."""

import asyncio

import httpx
import pytest
from siks_client.ladder import household_body
from siks_contracts.enums import Role

pytestmark = pytest.mark.stack
VILLAGE = "32.04.06.2003"  # used by no other e2e file
ROUNDS = 3
RACERS = 6


async def holders(ladder, nik: str) -> list[str]:
    """Households listing the person, read from the village's households (not the claim)."""
    found, offset = [], 0
    while True:
        page = (await ladder.http.get(f"{ladder.endpoints.registry}/v1/households",
                                      params={"region": VILLAGE, "limit": 500, "offset": offset},
                                      headers=ladder.headers(Role.AUDITOR))).json()
        found += [h["id"] for h in page["items"] if any(m["nik"] == nik for m in h["members"])]
        if len(page["items"]) < 500:
            return found
        offset += 500


async def claimed_by(ladder, nik: str) -> list[str]:
    """What a search by NIK says: it reads the claim, then the household it names."""
    resp = await ladder.http.get(f"{ladder.endpoints.registry}/v1/households", params={"nik": nik},
                                 headers=ladder.headers(Role.AUDITOR))
    return [h["id"] for h in resp.json()["items"]]


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_concurrent_registrations_sharing_a_person_exactly_one_wins(ladder, round_):
    families = await ladder.unregistered_families(VILLAGE, want=RACERS)
    shared = next(m for m in household_body(families[0])["members"] if m["relation"] == "head")
    bodies = [household_body(families[0])] + [
        {**(b := household_body(f)), "members": [*b["members"], {**shared, "relation": "other"}]} for f in families[1:]]
    headers = ladder.headers(Role.OPERATOR_DESA, VILLAGE)
    async with httpx.AsyncClient(base_url=ladder.endpoints.registry, timeout=60,
                                 limits=httpx.Limits(max_connections=RACERS)) as http:
        answers = await asyncio.gather(*(http.post("/v1/households", json=body, headers=headers) for body in bodies))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (RACERS - 1), [a.text[:200] for a in answers if a.status_code != 409]
    (winner,) = [a.json()["id"] for a in answers if a.status_code == 201]
    for loser in (a for a in answers if a.status_code == 409):
        assert winner not in loser.text and VILLAGE not in loser.text and shared["nik"] not in loser.text
    assert await holders(ladder, shared["nik"]) == [winner]
    assert await claimed_by(ladder, shared["nik"]) == [winner]
    # The losers left no claim behind: each family can be entered now, without the shared person.
    for family, answer in zip(families, answers, strict=True):
        if answer.status_code == 409 and not any(m["nik"] == shared["nik"] for m in family["members"]):
            assert (await ladder.register(family))["id"]


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_concurrent_corrections_moving_a_person_leave_them_in_one_household(ladder, round_):
    # Two members at least, so the person moving out is not the head.
    source, left, right = await ladder.unregistered_families(VILLAGE, min_members=2, want=3)
    a, b, c = [await ladder.register(f) for f in (source, left, right)]
    body_a = household_body(source)
    person = next(m for m in body_a["members"] if m["relation"] != "head")
    headers = ladder.headers(Role.OPERATOR_DESA, VILLAGE)

    def moving_in(h, family):
        members = household_body(family)["members"] + [{**person, "relation": "other"}]
        return http.patch(f"/v1/households/{h['id']}", json={"version": h["version"], "members": members},
                          headers=headers)

    async with httpx.AsyncClient(base_url=ladder.endpoints.registry, timeout=60) as http:
        leave = http.patch(f"/v1/households/{a['id']}", headers=headers, json={
            "version": a["version"], "members": [m for m in body_a["members"] if m["nik"] != person["nik"]]})
        answers = await asyncio.gather(leave, moving_in(b, left), moving_in(c, right), moving_in(b, left))
    assert answers[0].status_code == 200  # leaving never conflicts
    assert all(x.status_code in (200, 409) for x in answers), [x.text[:200] for x in answers]
    assert sum(x.status_code == 200 for x in answers[1:]) <= 1  # at most one took the person in
    listed = await holders(ladder, person["nik"])
    assert len(listed) <= 1 and await claimed_by(ladder, person["nik"]) == listed

    # Settled: the person has left a, so whichever household tries now gets them (or has them).
    if not listed:
        fresh_b = await ladder.household(b["id"], VILLAGE)
        moved = await ladder.amend(b, fresh_b["version"],
                                   members=household_body(left)["members"] + [{**person, "relation": "other"}])
        assert any(m["nik"] == person["nik"] for m in moved["members"])
        listed = [b["id"]]
    assert await holders(ladder, person["nik"]) == listed == await claimed_by(ladder, person["nik"])
