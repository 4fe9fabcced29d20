"""Case actions as sent by supervisors, validators and regents, and what they get back."""

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from siks_contracts.enums import ProposalKind, Program, RemovalReason, Stage
from siks_contracts.events import CheckResult
from siks_contracts.types import FreeText

Note = Annotated[FreeText, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Verify(_Strict):
    note: Note | None = None


class Validate(_Strict):
    desil: int | None = Field(default=None, ge=1, le=10,
                              description="BPS's welfare rank; omit to confirm DTSEN's (shown in the checks)")
    desil_reason: Annotated[FreeText, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="required when `desil` overrides DTSEN's rank")
    note: Note | None = None


class WithReason(_Strict):
    reason_code: Annotated[FreeText, Field(min_length=1, max_length=64)]
    note: Note | None = None


class Approve(_Strict):
    case_ids: list[str] = Field(min_length=1, max_length=5000)
    reference: Annotated[FreeText, Field(min_length=1, max_length=120)] = Field(
        description="the berita acara number")
    date: dt.date | None = Field(default=None, description="the approval's date (Asia/Jakarta); today if omitted")
    roll_over: bool = Field(default=False, description="after the programme's deadline, put the cases into the "
                                                       "next period instead of refusing")
    note: Note | None = None


class HistoryOut(BaseModel):
    stage: Stage
    actor: str
    role: str
    at: dt.datetime
    round: int
    reason: str | None = None
    note: str | None = None


class CaseOut(BaseModel):
    proposal_id: str
    household_id: str
    program: Program
    kind: ProposalKind
    region_code: str
    stage: Stage
    round: int
    checks_round: int
    checks: list[CheckResult]
    checks_passed: bool | None
    waiting_on: list[str] = Field(description="roles, outside systems or the decree the case waits for")
    dtsen_desil: int | None = None
    desil: int | None = None
    tier: int | None = None
    period: str | None = None
    removal_reason: RemovalReason | None = None
    approval_reference: str | None = None
    decree_number: str | None = None
    opened_at: dt.datetime
    version: int
    history: list[HistoryOut]



class CasesOut(BaseModel):
    """`GET /v1/cases?proposal_id=...`: the cases asked for that the caller may read."""
    items: list[CaseOut]
    not_found: list[str] = Field(description="ids of no case (or of a proposal whose case is not open yet)")
    forbidden: list[str] = Field(description="ids of cases outside the caller's area")

class ApprovalOut(BaseModel):
    approved: list[str]
    reference: str
    count: int
    period: str | None = Field(description="the decree period the cases go into")


class WindowOut(BaseModel):
    name: str
    programs: list[Program]
    proposals_open: dt.date
    proposals_close: dt.date
    approvals_close: dt.date


class CalendarOut(BaseModel):
    month: str
    timezone: str
    any_day_kinds: list[ProposalKind]
    windows: list[WindowOut]
