"""HTTP routes of verification: read a case, move it, approve a batch."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from siks_kit.auth import CurrentActor
from siks_kit.service import deps_of

from .. import handlers
from ..commands import Approve, Validate, Verify, WithReason
from ..handlers import VerificationDeps

Deps = Annotated[VerificationDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/cases/{proposal_id}")
async def get_case(proposal_id: str, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.read_case(deps, actor, proposal_id)


@router.post("/cases/{proposal_id}/verify")
async def verify(proposal_id: str, body: Verify, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.move_case(deps, actor, proposal_id, "verify", body)


@router.post("/cases/{proposal_id}/return")
async def return_case(proposal_id: str, body: WithReason, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.move_case(deps, actor, proposal_id, "return", body)


@router.post("/cases/{proposal_id}/validate")
async def validate(proposal_id: str, body: Validate, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.move_case(deps, actor, proposal_id, "validate", body)


@router.post("/cases/{proposal_id}/reject")
async def reject(proposal_id: str, body: WithReason, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.move_case(deps, actor, proposal_id, "reject", body)


@router.post("/approvals", tags=["approvals"])
async def approve(body: Approve, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.approve_batch(deps, actor, body)
