"""HTTP routes of integration."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from siks_kit.auth import CurrentActor
from siks_kit.service import deps_of

from .. import handlers
from ..handlers import IntegrationDeps

Deps = Annotated[IntegrationDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1", tags=["checks"])


@router.get("/checks/{proposal_id}")
async def get_checks(proposal_id: str, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.read_checks(deps, actor, proposal_id)
