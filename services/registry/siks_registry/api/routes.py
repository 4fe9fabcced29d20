"""HTTP routes of the registry: thin, every rule lives in handlers and domain."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from siks_kit.auth import CurrentActor
from siks_kit.service import deps_of

from .. import handlers
from ..commands import RegisterHousehold, SubmitProposal
from ..handlers import RegistryDeps

Deps = Annotated[RegistryDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1")


@router.post("/households", status_code=201, tags=["households"])
async def create_household(body: RegisterHousehold, actor: CurrentActor, deps: Deps, response: Response) -> dict[str, Any]:
    created = await handlers.register_household(deps, actor, body)
    response.headers["Location"] = f"/v1/households/{created['id']}"
    return created


@router.get("/households/{household_id}", tags=["households"])
async def get_household(household_id: str, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.read_household(deps, actor, household_id)


@router.get("/households", tags=["households"])
async def search_households(actor: CurrentActor, deps: Deps,
                            nik: Annotated[str | None, Query(pattern=r"^\d{16}$")] = None,
                            region: str | None = None, q: Annotated[str | None, Query(max_length=100)] = None,
                            limit: Annotated[int, Query(ge=1, le=500)] = 50,
                            offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    return await handlers.search_households(deps, actor, nik=nik, region=region, q=q, limit=limit, offset=offset)


@router.post("/proposals", status_code=201, tags=["proposals"])
async def create_proposal(body: SubmitProposal, actor: CurrentActor, deps: Deps, response: Response) -> dict[str, Any]:
    created = await handlers.submit_proposal(deps, actor, body)
    response.headers["Location"] = f"/v1/proposals/{created['id']}"
    return created


@router.get("/proposals/{proposal_id}", tags=["proposals"])
async def get_proposal(proposal_id: str, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.read_proposal(deps, actor, proposal_id)


@router.get("/schedule", tags=["proposals"])
async def schedule(deps: Deps) -> dict[str, Any]:
    """The proposal windows and which are open now (by the service's clock)."""
    now = deps.clock.now()
    cal = deps.calendar
    windows = []
    for w in cal.windows:
        is_open = cal.is_open(handlers.ProposalKind.PROGRAM, w.programs[0], now)
        windows.append({"name": w.name, "programs": [str(p) for p in w.programs], "first_day": w.first_day,
                        "last_day": w.last_day, "open": is_open,
                        "next_opening": None if is_open else cal.next_opening(w.programs[0], now).isoformat()})
    return {"now": now.isoformat(), "timezone": cal.timezone, "windows": windows}
