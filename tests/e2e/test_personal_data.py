"""No log of the running stack holds a NIK, a KK number or a name in the clear (UU 27/2022),
after the paths that log the most: a registration and its proposal through to the checks, a
duplicate registration, a refused NIK and a Cek Bansos query."""

import os
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from siks_client.ladder import LadderError, household_body
from siks_contracts.enums import Role

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
LOGS = Path(os.environ.get("SIKS_STATE", ROOT / "var" / "stack")) / "logs"
VILLAGE = "33.22.01.2001"


async def test_no_log_holds_a_nik_kk_number_or_name_in_the_clear(ladder, fresh):
    if not any(LOGS.glob("*.log")):
        pytest.fail(f"no stack logs under {LOGS}: run the tests with `make test`")
    family, household = await fresh.register(VILLAGE)
    proposal = await ladder.propose(household, "PKH")
    await ladder.wait_case(proposal["id"], VILLAGE)

    with pytest.raises(LadderError, match="-> 409"):
        await ladder.register(family)  # the same family again
    refused = household_body(family)
    first = refused["members"][0]
    refused_nik = first["nik"][:6] + "99" + first["nik"][8:]  # day 99: no such birth date
    first["nik"] = refused_nik
    resp = await ladder.http.post(f"{ladder.endpoints.registry}/v1/households", json=refused,
                                  headers=ladder.headers(Role.OPERATOR_DESA, VILLAGE))
    assert resp.status_code == 422
    member = family["members"][0]
    assert member["nik"] not in str(await ladder.public_status(member["nik"], member["name"]))

    personal = {family["kk_number"], refused_nik}
    for m in family["members"]:
        personal |= {m["nik"], m["name"], quote(m["name"]), quote_plus(m["name"])}  # as typed, as in a URL
    logs = {p.name: p.read_text(errors="replace") for p in LOGS.glob("*.log")}
    leaked = {name: sorted(s for s in personal if s in text) for name, text in logs.items()}
    assert {name: found for name, found in leaked.items() if found} == {}
    assert "registry.log" in logs and "decree.log" in logs  # the services' logs were read
