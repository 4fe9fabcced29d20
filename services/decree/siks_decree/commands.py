"""What the Minister and citizens send, and what they get back."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from siks_contracts.enums import Program
from siks_contracts.types import Nik, PersonName

PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class DraftDecree(_Strict):
    program: Program
    period: str = Field(pattern=PERIOD, examples=["2026-12"])


class StatusQuery(_Strict):
    nik: Nik
    name: Annotated[PersonName, Field(max_length=120)]


class DecreeOut(BaseModel):
    id: str
    program: Program
    period: str
    status: str = Field(description="drafting | draft | issued")
    number: str | None
    issued_at: datetime | None
    count: int
    content_hash: str | None
    drafted_at: datetime


class BeneficiaryRow(BaseModel):
    proposal_id: str
    household_id: str
    region_code: str
    kk_number: str
    head_nik: str
    head_name: str
    members: int
    change: str = Field(description="added | removed")
    reason: str = Field(description="for removals: ineligible, deceased, moved, duplicate, graduated")


class BeneficiaryList(BaseModel):
    decree: DecreeOut
    count: int
    items: list[BeneficiaryRow]


class CandidatesOut(BaseModel):
    program: Program
    period: str
    count: int
    proposal_ids: list[str]


class CandidateOut(BaseModel):
    proposal_id: str
    program: Program
    period: str = Field(description="the decree period the case goes into")
    decree_id: str | None = Field(description="the draft or decree holding it, if any")


class AbandonOut(BaseModel):
    id: str
    released: int


class ProgramStatus(BaseModel):
    program: Program
    status: str = Field(description="active | inactive")
    period: str
    sk_number: str
    since_period: str
    reason: str | None = None


class PublicStatusOut(BaseModel):
    name_masked: str
    status: str = Field(description="beneficiary (active in some programme) | not_listed")
    programs: list[ProgramStatus]
    region: str | None = None
