"""HTTP routes of decree: the Minister's SK, its frozen list, and public Cek Bansos."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from siks_kit.auth import CurrentActor
from siks_contracts.enums import Program
from siks_kit.service import deps_of

from .. import handlers
from ..commands import DraftDecree
from . import exports
from ..handlers import DecreeDeps

Deps = Annotated[DecreeDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1")


def _public_limit(request: Request) -> None:
    request.app.state.public_rate_limit(request)


@router.post("/decrees", status_code=201, tags=["decrees"])
async def draft(body: DraftDecree, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.draft(deps, actor, body)


@router.get("/decrees/candidates", tags=["decrees"])
async def candidates(actor: CurrentActor, deps: Deps, program: Program,
                     period: Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]) -> dict[str, Any]:
    """How many approved cases wait for a decree of this programme and period."""
    return await handlers.candidate_count(deps, actor, program, period)


@router.post("/decrees/{decree_id}/issue", tags=["decrees"])
async def issue(decree_id: str, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.issue(deps, actor, decree_id)


@router.get("/decrees/{decree_id}", tags=["decrees"])
async def read(decree_id: str, actor: CurrentActor, deps: Deps) -> dict[str, Any]:
    return await handlers.read_decree(deps, decree_id)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/decrees/{decree_id}/beneficiaries", tags=["decrees"])
async def beneficiaries(decree_id: str, actor: CurrentActor, deps: Deps,
                        format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json") -> Any:
    """The frozen list, within the caller's region: JSON, or a file (`format=csv|xlsx`)."""
    decree, rows = await handlers.beneficiaries(deps, actor, decree_id)
    if format == "json":
        return {"decree": decree, "count": len(rows), "items": rows}
    body, media = (exports.as_csv(rows), "text/csv") if format == "csv" else (exports.as_xlsx(decree, rows), XLSX)
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="sk-{decree_id}.{format}"'})


@router.get("/public/status", tags=["public"], dependencies=[Depends(_public_limit)])
async def public_status(deps: Deps, nik: Annotated[str, Query(pattern=r"^\d{16}$")],
                        name: Annotated[str, Query(min_length=1, max_length=120)]) -> dict[str, Any]:
    """Cek Bansos: status by NIK and name, masked. No token needed; rate limited."""
    return await handlers.public_status(deps, nik, name)
