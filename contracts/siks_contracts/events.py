"""Payloads of every event, their versioned type names and the topic each goes to.

Evolution is additive: new optional fields are fine; a breaking change is a new `.vN` type.
"""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from . import topics
from .enums import Program, ProposalKind, Relation, Sex, Stage
from .envelope import Envelope


class MemberSnapshot(BaseModel):
    nik: str
    name: str
    sex: Sex
    birth_date: date
    relation: Relation


class HouseholdSnapshot(BaseModel):
    """What a check or a decree needs to know of a household; personal data, never logged."""

    household_id: str
    kk_number: str
    region_code: str
    members: list[MemberSnapshot]


class HouseholdRegistered(BaseModel):
    household_id: str
    region_code: str
    member_count: int
    version: int


class ProposalSubmitted(BaseModel):
    proposal_id: str
    household_id: str
    kind: ProposalKind
    program: Program
    reason: str | None = None
    submitted_at: datetime
    household: HouseholdSnapshot


CheckStatus = Literal["passed", "warning", "failed", "error"]


class CheckResult(BaseModel):
    name: str = Field(examples=["nik", "region", "dukcapil"])
    status: CheckStatus
    detail: str = ""


class ChecksCompleted(BaseModel):
    proposal_id: str
    household_id: str
    checks: list[CheckResult]
    passed: bool


class CaseStageChanged(BaseModel):
    proposal_id: str
    household_id: str
    program: Program
    region_code: str
    stage: Stage
    previous_stage: Stage | None = None
    at: datetime
    reason_code: str | None = None
    note: str | None = None
    desil: int | None = Field(default=None, ge=1, le=10)
    approval_reference: str | None = None
    # Present from `approved` on: the decree needs the members to answer Cek Bansos.
    household: HouseholdSnapshot | None = None


class Beneficiary(BaseModel):
    proposal_id: str
    household_id: str
    region_code: str


class DecreeIssued(BaseModel):
    decree_id: str
    number: str
    program: Program
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    issued_at: datetime
    count: int
    content_hash: str
    beneficiaries: list[Beneficiary]


# type name -> (payload model, topic). The single table producers and consumers agree on.
EVENTS: dict[str, tuple[type[BaseModel], str]] = {
    "registry.household_registered.v1": (HouseholdRegistered, topics.HOUSEHOLDS),
    "registry.proposal_submitted.v1": (ProposalSubmitted, topics.PROPOSALS),
    "integration.checks_completed.v1": (ChecksCompleted, topics.CHECKS),
    "verification.case_stage_changed.v1": (CaseStageChanged, topics.CASES),
    "decree.decree_issued.v1": (DecreeIssued, topics.DECREES),
}
_TYPE_OF = {model: name for name, (model, _) in EVENTS.items()}


class UnknownEventType(ValueError):
    pass


def type_of(model: type[BaseModel]) -> str:
    return _TYPE_OF[model]


def topic_of(event_type: str) -> str:
    try:
        return EVENTS[event_type][1]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def parse_payload(envelope: Envelope) -> BaseModel:
    """The typed payload of an envelope; raises UnknownEventType or pydantic.ValidationError."""
    try:
        model = EVENTS[envelope.type][0]
    except KeyError:
        raise UnknownEventType(f"unknown event type {envelope.type!r}") from None
    return model.model_validate(envelope.payload)
