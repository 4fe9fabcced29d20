"""End-to-end fixtures: the real local stack (Kafka, FerretDB, the services), started by
`make test` (deploy/local/stack.py run). Nothing here fakes anything."""

import json
import os
import random
import uuid

import pytest
from siks_client.ladder import Ladder, LadderError
from siks_contracts import topics
from siks_testkit.testing import read_topic

pytestmark = pytest.mark.stack
BOOTSTRAP = f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}"


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

    async def register(self, region: str, traceparent: str | None = None, desil_at_most: int = 10):
        families = [f for f in await self.ladder.families(region=region, limit=10_000)
                    if all(m.get("alive", True) for m in f["members"])  # the clean path
                    and f["desil"] <= desil_at_most]  # within the programme's rule
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


@pytest.fixture
def proposed_again(ladder, fresh):
    """For tests that put an event on Kafka themselves: a fresh household proposed through
    the API, and a copy of its real proposal event under a new proposal id and event id (the
    same household proposed again)."""

    async def make(village: str):
        family, household = await fresh.register(village)
        proposal = await ladder.propose(household, "PKH")
        await ladder.wait_case(proposal["id"], village)
        key = proposal["id"].encode()
        (original,) = await read_topic(BOOTSTRAP, topics.PROPOSALS, lambda r: r.key == key)
        event = json.loads(original.value)
        event["payload"]["proposal_id"], event["event_id"] = str(uuid.uuid4()), str(uuid.uuid4())
        return family, household, event

    return make
