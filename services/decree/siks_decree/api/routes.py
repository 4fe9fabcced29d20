"""HTTP routes of decree: the Minister's SK, its frozen list, and public Cek Bansos."""

from typing import Annotated

import os

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from siks_contracts.enums import Program
from siks_kit.web.auth import CurrentActor
from siks_kit.web.problems import problem_responses
from siks_kit.runtime.service import deps_of

from .. import handlers
from ..commands import (PERIOD, AbandonOut, BeneficiaryList, CandidateOut, CandidatesOut, DecreeOut, DraftDecree,
                        PublicStatusOut, StatusQuery)
from ..domain.decree import Decree
from ..handlers import DecreeDeps
from . import exports

Deps = Annotated[DecreeDeps, Depends(deps_of)]
router = APIRouter(prefix="/v1", responses=problem_responses(403, 404, 409))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _public_limit(request: Request) -> None:
    request.app.state.public_rate_limit(request)


def decree_out(d: Decree) -> DecreeOut:
    return DecreeOut(id=d.id, program=d.program, period=d.period, status=d.status.value, number=d.number,
                     issued_at=d.issued_at, count=d.count, content_hash=d.content_hash, drafted_at=d.drafted_at)


@router.post("/decrees", status_code=201, tags=["decrees"])
async def draft(body: DraftDecree, actor: CurrentActor, deps: Deps) -> DecreeOut:
    """Drafts the programme's decree for the period; drafting again refreshes the same draft."""
    return decree_out(await handlers.draft(deps, actor, body))


@router.get("/decrees/candidates", tags=["decrees"])
async def candidates(actor: CurrentActor, deps: Deps, program: Program,
                     period: Annotated[str, Query(pattern=PERIOD)]) -> CandidatesOut:
    """How many approved cases wait for a decree of this programme and period."""
    return CandidatesOut(**await handlers.candidate_count(deps, actor, program, period))


@router.get("/decrees/candidates/{proposal_id}", tags=["decrees"])
async def candidate(proposal_id: str, actor: CurrentActor, deps: Deps) -> CandidateOut:
    """Which programme period (and draft) an approved case goes into."""
    return CandidateOut(**await handlers.candidate(deps, actor, proposal_id))


@router.post("/decrees/{decree_id}/issue", tags=["decrees"])
async def issue(decree_id: str, actor: CurrentActor, deps: Deps) -> DecreeOut:
    """Issues the SK; issuing an issued decree again answers with it and changes nothing."""
    return decree_out(await handlers.issue(deps, actor, decree_id))


@router.delete("/decrees/{decree_id}", tags=["decrees"])
async def abandon(decree_id: str, actor: CurrentActor, deps: Deps) -> AbandonOut:
    """Drops a draft; its cases wait for the next draft again."""
    return AbandonOut(id=decree_id, released=await handlers.abandon(deps, actor, decree_id))


@router.get("/decrees/{decree_id}", tags=["decrees"])
async def read(decree_id: str, actor: CurrentActor, deps: Deps) -> DecreeOut:
    return decree_out(await handlers.read_decree(deps, decree_id))


@router.get("/decrees/{decree_id}/beneficiaries", tags=["decrees"], response_model=BeneficiaryList,
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
async def beneficiaries(decree_id: str, actor: CurrentActor, deps: Deps,
                        format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json") -> StreamingResponse:
    """The frozen list, within the caller's region, in proposal order: JSON, or a file
    (`format=csv|xlsx`). Streamed as the rows are read, whatever the list's size."""
    decree, rows = await handlers.beneficiaries(deps, actor, decree_id)
    about = decree_out(decree).model_dump(mode="json")
    if format == "json":
        return StreamingResponse(exports.json_stream(about, rows), media_type="application/json")
    attachment = {"Content-Disposition": f'attachment; filename="sk-{decree_id}.{format}"'}
    if format == "csv":
        return StreamingResponse(exports.csv_stream(rows), media_type="text/csv", headers=attachment)
    path = await exports.xlsx_file(about, rows)
    return StreamingResponse(exports.file_stream(path), media_type=XLSX,
                             headers={**attachment, "Content-Length": str(os.path.getsize(path))})


@router.post("/public/status", tags=["public"], dependencies=[Depends(_public_limit)],
             responses=problem_responses(429))
async def public_status(body: StatusQuery, deps: Deps) -> PublicStatusOut:
    """Cek Bansos: status by NIK and name, masked. No token needed; rate limited."""
    return PublicStatusOut(**await handlers.public_status(deps, body.nik, body.name))


@router.get("/public/status", tags=["public"], dependencies=[Depends(_public_limit)], deprecated=True,
            responses=problem_responses(429))
async def public_status_by_query(deps: Deps, nik: Annotated[str, Query(pattern=r"^\d{16}$")],
                                 name: Annotated[str, Query(min_length=1, max_length=120)]) -> PublicStatusOut:
    """Cek Bansos by query string (deprecated: URLs end up in logs; use POST)."""
    return PublicStatusOut(**await handlers.public_status(deps, nik, name))
