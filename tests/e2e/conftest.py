"""End-to-end fixtures: the real local stack (Kafka, FerretDB, the services), started by
`make test` (deploy/local/stack.py run). Nothing here fakes anything."""

import os
import random

import pytest
from siks_client.ladder import Ladder, LadderError

pytestmark = pytest.mark.stack


@pytest.fixture(scope="session")
async def ladder():
    lad = Ladder()
    try:
        schedule = await lad.schedule()
    except Exception as exc:  # noqa: BLE001 - any failure here means the same thing
        pytest.fail(f"the stack is not running ({exc}); run the tests with `make test`")
    bansos = next(w for w in schedule["windows"] if "PKH" in w["programs"])
    if not bansos["open"]:
        pytest.fail(f"the stack's clock ({schedule['now']}) is outside the bansos window; restart it with "
                    "SIKS_NOW=2026-12-16T09:00:00+07:00 make up, or let `make test` start it")
    yield lad
    await lad.close()


class FreshFamilies:
    """Stand-in families not yet registered in this database (earlier runs used some)."""

    def __init__(self, ladder: Ladder) -> None:
        self.ladder = ladder
        self.rng = random.Random(os.getpid())

    async def register(self, region: str, traceparent: str | None = None):
        families = [f for f in await self.ladder.families(region=region, limit=10_000)
                    if all(m.get("alive", True) for m in f["members"])]  # the clean path
        self.rng.shuffle(families)
        for family in families:
            try:
                return family, await self.ladder.register(family, traceparent=traceparent)
            except LadderError as exc:
                if "-> 409" not in str(exc):
                    raise
        pytest.fail(f"every stand-in family of {region} is registered already: reset with "
                    "`make down && rm -rf var/stack`")


@pytest.fixture
def fresh(ladder) -> FreshFamilies:
    return FreshFamilies(ladder)
