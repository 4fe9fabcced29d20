"""HTTP routes of integration."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from siks_contracts.events import CheckStatus
from siks_kit.web.auth import CurrentActor
from siks_kit.web.problems import problem_responses
from siks_kit.runtime.service import deps_of

from .. import handlers
from ..domain.check_set import CheckSet
from ..handlers import IntegrationDeps

Deps = Annotated[IntegrationDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1", tags=["checks"], responses=problem_responses(403, 404))


class CheckOut(BaseModel):
    name: str = Field(examples=["nik", "region", "dukcapil", "dtsen"])
    status: CheckStatus
    detail: str
    # What the check found, without personal data, e.g. {"desil": 3, "members_found": 2}.
    evidence: dict[str, int | str | bool | None]


class ChecksOut(BaseModel):
    proposal_id: str
    household_id: str
    round: int = Field(description="the proposal's round these checks belong to (checks_round)")
    passed: bool | None = Field(description="null while an outside system has not answered")
    desil: int | None = Field(description="DTSEN's desil of the household (lowest among members); "
                                          "null if unknown or not answered yet")
    waiting_on: list[str] = Field(description="outside systems whose checks are still pending")
    checks: list[CheckOut]
    checked_at: datetime

    @classmethod
    def of(cls, cs: CheckSet) -> "ChecksOut":
        return cls(proposal_id=cs.proposal_id, household_id=cs.household_id, round=cs.round, passed=cs.passed,
                   desil=cs.desil, waiting_on=cs.waiting_on, checked_at=cs.checked_at,
                   checks=[CheckOut(name=c.name, status=c.status, detail=c.detail, evidence=dict(c.evidence))
                           for c in cs.checks])


@router.get("/checks/{proposal_id}", operation_id="get_checks", response_model=ChecksOut)
async def get_checks(proposal_id: str, actor: CurrentActor, deps: Deps) -> ChecksOut:
    return ChecksOut.of(await handlers.read_checks(deps, actor, proposal_id))
