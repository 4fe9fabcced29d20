"""Integration use cases: check a proposal's household against the outside world."""

from dataclasses import dataclass
from typing import Any

from siks_contracts.actor import Actor, system_actor
from siks_contracts.envelope import Envelope, new_envelope
from siks_contracts.events import ChecksCompleted, ProposalSubmitted
from siks_kit.auth import require_scope
from siks_kit.clock import Clock
from siks_kit.outbox import outbox_entry
from siks_kit.problems import NotFound
from siks_kit.store import Database

from .domain.checks import nik_check, overall_passed, region_check
from .outside.checks import dukcapil_check
from .outside.dukcapil import Dukcapil
from .store.checks import CheckStore

SERVICE = "integration"


@dataclass
class IntegrationDeps:
    checks: CheckStore
    dukcapil: Dukcapil
    clock: Clock

    @classmethod
    def build(cls, db: Database, clock: Clock, dukcapil: Dukcapil) -> "IntegrationDeps":
        return cls(CheckStore(db), dukcapil, clock)

    async def prepare(self) -> None:
        await self.checks.prepare()


async def on_proposal_submitted(deps: IntegrationDeps, envelope: Envelope, p: ProposalSubmitted) -> None:
    if await deps.checks.exists(p.proposal_id):
        return  # redelivered: the result is stored and its event is in (or through) the outbox
    results = [nik_check(p.household), region_check(p.household), await dukcapil_check(deps.dukcapil, p.household)]
    now = deps.clock.now()
    completed = ChecksCompleted(proposal_id=p.proposal_id, household_id=p.household_id, checks=results,
                                passed=overall_passed(results))
    event = new_envelope(payload=completed, occurred_at=now, producer=SERVICE, actor=system_actor(SERVICE),
                         region_code=p.household.region_code, causation=envelope)
    await deps.checks.add({"_id": p.proposal_id, "household_id": p.household_id,
                           "region_code": p.household.region_code, "program": p.program.value,
                           "checks": [r.model_dump() for r in results], "passed": completed.passed,
                           "checked_at": now, "outbox": [outbox_entry(event, p.proposal_id)]})


async def read_checks(deps: IntegrationDeps, actor: Actor, proposal_id: str) -> dict[str, Any]:
    doc = await deps.checks.get(proposal_id)
    if doc is None:
        raise NotFound(f"checks for proposal {proposal_id}")
    require_scope(actor, doc["region_code"])
    return {"proposal_id": proposal_id, "household_id": doc["household_id"], "passed": doc["passed"],
            "checked_at": doc["checked_at"], "checks": doc["checks"]}
