"""HTTP routes of the registry: thin, every rule lives in the domain, every route a response model."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from siks_contracts.enums import ProposalKind
from siks_kit.web.auth import CurrentActor
from siks_kit.web.batch import BatchResults, items_of
from siks_kit.web.problems import problem_responses
from siks_kit.runtime.service import deps_of

from .. import handlers
from ..commands import AmendHousehold, RegisterHousehold, SubmitProposal
from ..handlers import RegistryDeps
from ..views import HouseholdOut, HouseholdPage, ProposalOut, ScheduleOut, WindowOut

Deps = Annotated[RegistryDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1", responses=problem_responses(403, 404, 409))


@router.post("/households", status_code=201, tags=["households"], operation_id="register_household")
async def create_household(body: RegisterHousehold, actor: CurrentActor, deps: Deps, response: Response) -> HouseholdOut:
    created = await handlers.register_household(deps, actor, body)
    response.headers["Location"] = f"/v1/households/{created.id}"
    return created


class HouseholdBatch(BaseModel):
    items: items_of(RegisterHousehold)


class ProposalBatch(BaseModel):
    items: items_of(SubmitProposal)


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description=(
    "makes the request safe to repeat: the same key and body give the same results and create nothing twice"))]


@router.post("/households/batch", tags=["households"], operation_id="register_households")
async def create_households(body: HouseholdBatch, actor: CurrentActor, deps: Deps, request: Request,
                            idempotency_key: IdempotencyKey = None) -> BatchResults:
    """Up to 1,000 households; one result per item (its id, or the problem that kept it out).
    The good items are stored even when others are refused."""
    return await handlers.register_households(deps, actor, body.items, idempotency_key, request.url.path)


@router.get("/households/{household_id}", tags=["households"], operation_id="get_household")
async def get_household(household_id: str, actor: CurrentActor, deps: Deps) -> HouseholdOut:
    return await handlers.read_household(deps, actor, household_id)


@router.patch("/households/{household_id}", tags=["households"], operation_id="amend_household")
async def amend_household(household_id: str, body: AmendHousehold, actor: CurrentActor, deps: Deps) -> HouseholdOut:
    """Correct a household: `version` is the one read (stale: 409); `members` replaces the list."""
    return await handlers.amend_household(deps, actor, household_id, body)


@router.get("/households", tags=["households"], operation_id="search_households")
async def search_households(actor: CurrentActor, deps: Deps,
                            nik: Annotated[str | None, Query(pattern=r"^\d{16}$")] = None,
                            region: str | None = None, q: Annotated[str | None, Query(max_length=100)] = None,
                            limit: Annotated[int, Query(ge=1, le=500)] = 50,
                            offset: Annotated[int, Query(ge=0)] = 0) -> HouseholdPage:
    return await handlers.search_households(deps, actor, nik=nik, region=region, q=q, limit=limit, offset=offset)


@router.post("/proposals", status_code=201, tags=["proposals"], operation_id="submit_proposal")
async def create_proposal(body: SubmitProposal, actor: CurrentActor, deps: Deps, response: Response) -> ProposalOut:
    created = await handlers.submit_proposal(deps, actor, body)
    response.headers["Location"] = f"/v1/proposals/{created.id}"
    return created


@router.post("/proposals/batch", tags=["proposals"], operation_id="submit_proposals")
async def create_proposals(body: ProposalBatch, actor: CurrentActor, deps: Deps, request: Request,
                           idempotency_key: IdempotencyKey = None) -> BatchResults:
    """Up to 1,000 proposals; one result per item, as for households."""
    return await handlers.submit_proposals(deps, actor, body.items, idempotency_key, request.url.path)


@router.get("/proposals/{proposal_id}", tags=["proposals"], operation_id="get_proposal")
async def get_proposal(proposal_id: str, actor: CurrentActor, deps: Deps) -> ProposalOut:
    return await handlers.read_proposal(deps, actor, proposal_id)


@router.post("/proposals/{proposal_id}/resubmit", tags=["proposals"], operation_id="resubmit_proposal")
async def resubmit_proposal(proposal_id: str, actor: CurrentActor, deps: Deps) -> ProposalOut:
    """A returned proposal goes back up (round + 1) with the household as it is now."""
    return await handlers.resubmit_proposal(deps, actor, proposal_id)


@router.get("/schedule", tags=["proposals"], operation_id="get_schedule")
async def schedule(deps: Deps) -> ScheduleOut:
    """The proposal windows and which are open now (by the service's clock)."""
    now = deps.clock.now()
    cal = deps.calendar
    windows = []
    for w in cal.windows:
        is_open = cal.is_open(ProposalKind.PROGRAM, w.programs[0], now)
        windows.append(WindowOut(name=w.name, programs=list(w.programs), first_day=w.first_day,
                                 last_day=w.last_day, open=is_open,
                                 next_opening=None if is_open else cal.next_opening(w.programs[0], now)))
    return ScheduleOut(now=now, timezone=cal.timezone, windows=windows)
