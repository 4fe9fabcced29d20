"""HTTP routes of verification: read a case, move it, approve a batch, the month's calendar."""

from calendar import monthrange
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from siks_kit.web.auth import CurrentActor
from siks_kit.web.problems import problem_responses
from siks_kit.runtime.service import deps_of

from .. import handlers
from ..commands import Approve, ApprovalOut, CalendarOut, CaseOut, CasesOut, HistoryOut, Validate, Verify, WindowOut, WithReason
from ..domain.case import Case
from ..domain.ladder import Action
from ..handlers import VerificationDeps

Deps = Annotated[VerificationDeps, Depends(deps_of)]
MAX_CASES_PER_READ = 100
router = APIRouter(prefix="/v1", tags=["cases"], responses=problem_responses(403, 404, 409))


def case_out(case: Case) -> CaseOut:
    return CaseOut(
        proposal_id=case.proposal_id, household_id=case.household_id, program=case.program, kind=case.kind,
        region_code=case.region_code, stage=case.stage, round=case.round, checks_round=case.checks.round,
        checks=list(case.checks.checks), checks_passed=case.checks.passed, waiting_on=case.waiting_on,
        dtsen_desil=case.checks.desil, desil=case.desil, tier=case.tier, period=case.period,
        removal_reason=case.removal_reason, approval_reference=case.approval_reference,
        decree_number=case.decree_number, opened_at=case.opened_at, version=case.version,
        history=[HistoryOut(stage=h.stage, actor=h.actor, role=h.role.value, at=h.at, round=h.round, reason=h.reason,
                            note=h.note) for h in case.history])


@router.get("/cases")
async def get_cases(actor: CurrentActor, deps: Deps,
                    proposal_id: Annotated[list[str], Query(min_length=1, max_length=MAX_CASES_PER_READ,
                                                            description="repeat for each case, up to 100")]) -> CasesOut:
    """Several cases in one request (one database read): a tool that follows many proposals
    asks for a hundred at a time instead of one request each."""
    cases, not_found, forbidden = await handlers.read_cases(deps, actor, proposal_id)
    return CasesOut(items=[case_out(c) for c in cases], not_found=not_found, forbidden=forbidden)


@router.get("/cases/{proposal_id}")
async def get_case(proposal_id: str, actor: CurrentActor, deps: Deps) -> CaseOut:
    return case_out(await handlers.read_case(deps, actor, proposal_id))


@router.post("/cases/{proposal_id}/verify")
async def verify(proposal_id: str, body: Verify, actor: CurrentActor, deps: Deps) -> CaseOut:
    return case_out(await handlers.move_case(deps, actor, proposal_id, Action.VERIFY, body))


@router.post("/cases/{proposal_id}/return")
async def return_case(proposal_id: str, body: WithReason, actor: CurrentActor, deps: Deps) -> CaseOut:
    return case_out(await handlers.move_case(deps, actor, proposal_id, Action.RETURN, body))


@router.post("/cases/{proposal_id}/validate")
async def validate(proposal_id: str, body: Validate, actor: CurrentActor, deps: Deps) -> CaseOut:
    return case_out(await handlers.move_case(deps, actor, proposal_id, Action.VALIDATE, body))


@router.post("/cases/{proposal_id}/reject")
async def reject(proposal_id: str, body: WithReason, actor: CurrentActor, deps: Deps) -> CaseOut:
    return case_out(await handlers.move_case(deps, actor, proposal_id, Action.REJECT, body))


@router.post("/approvals", tags=["approvals"])
async def approve(body: Approve, actor: CurrentActor, deps: Deps) -> ApprovalOut:
    approved, period = await handlers.approve_batch(deps, actor, body)
    return ApprovalOut(approved=[c.proposal_id for c in approved], reference=body.reference, count=len(approved),
                       period=period)


@router.get("/calendar", tags=["calendar"])
async def calendar(deps: Deps, month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None
                   ) -> CalendarOut:
    """Each programme's proposal window and approval deadline in a month (this month by default)."""
    cal = deps.rules.calendar
    if month is None:
        month = cal.local(deps.clock.now()).strftime("%Y-%m")
    year, mon = int(month[:4]), int(month[5:])
    length = monthrange(year, mon)[1]
    windows = [WindowOut(name=w.name, programs=w.programs, proposals_open=date(year, mon, min(w.first_day, length)),
                         proposals_close=date(year, mon, min(w.last_day, length)),
                         approvals_close=w.approval_deadline(year, mon)) for w in cal.windows]
    return CalendarOut(month=month, timezone=cal.timezone, any_day_kinds=cal.any_day_kinds, windows=windows)
