"""Payloads of every event, their versioned type names and the topic each goes to.

Evolution is additive: new optional fields are fine; a breaking change is a new `.vN` type.
"""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import topics
from .enums import EntryChange, Program, ProposalKind, Relation, RemovalReason, Sex, Stage
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
    # 1 on the first submission, +1 on each resubmission after a return: the checks run again
    # on the household as it is now, and the case goes back to `submitted`.
    round: int = Field(default=1, ge=1)
    household_version: int | None = None
    # For an ineligibility (and the later deactivations): why the household should leave.
    removal_reason: RemovalReason | None = None


# "pending": the outside system has not answered yet (down, slow, rate limiting); it is asked
# again with backoff. "error" is kept for readers of v1 records and no longer produced.
CheckStatus = Literal["pending", "passed", "warning", "failed", "error"]


class CheckResult(BaseModel):
    name: str = Field(examples=["nik", "region", "dukcapil", "dtsen"])
    status: CheckStatus
    detail: str = ""
    # What the check found, without personal data (e.g. {"desil": 3}).
    evidence: dict[str, Any] = Field(default_factory=dict)


class ChecksCompleted(BaseModel):
    proposal_id: str
    household_id: str
    checks: list[CheckResult]
    passed: bool
    round: int = Field(default=1, ge=1)
    # The household's welfare rank as DTSEN/BPS has it (lowest desil among its members).
    desil: int | None = Field(default=None, ge=1, le=10)


class ChecksPending(BaseModel):
    """Some checks of a round wait on outside systems; the case shows which."""

    proposal_id: str
    household_id: str
    checks: list[CheckResult]
    waiting_on: list[str]
    round: int = Field(default=1, ge=1)


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
    kind: ProposalKind | None = None
    round: int | None = None
    # From `approved` on: the decree period the case goes into ("YYYY-MM"), set by the
    # approval's date and the programme's deadline (or rolled into the next period).
    period: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    # From `approved` on, for removals: why the household leaves the programme's roll.
    removal_reason: RemovalReason | None = None
    # The validated welfare rank (desil) and the programme tier it falls in (1 = first).
    tier: int | None = None


class Beneficiary(BaseModel):
    proposal_id: str
    household_id: str
    region_code: str
    change: EntryChange = EntryChange.ADDED
    reason: RemovalReason | None = None  # for removals


class DecreeIssued(BaseModel):
    """Deprecated (decree.decree_issued.v1): kept so old records can still be read and
    replayed, no longer published. A whole list in one message cannot pass ~7,500
    beneficiaries under Kafka's 1 MiB default; DecreeIssuedV2 and BeneficiaryStatusChanged
    replace it."""

    model_config = ConfigDict(json_schema_extra={"deprecated": True})

    decree_id: str
    number: str
    program: Program
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    issued_at: datetime
    count: int
    content_hash: str
    beneficiaries: list[Beneficiary]

    def changes(self) -> list["BeneficiaryStatusChanged"]:
        """The v1 record as the per-beneficiary events that replace it (same effect on replay)."""
        return [BeneficiaryStatusChanged(decree_id=self.decree_id, number=self.number, program=self.program,
                                         period=self.period, issued_at=self.issued_at, proposal_id=b.proposal_id,
                                         household_id=b.household_id, region_code=b.region_code, change=b.change,
                                         reason=b.reason)
                for b in self.beneficiaries]


class DecreeIssuedV2(BaseModel):
    """An SK issued: how many it lists, the hash of the list and where to read it; the list
    itself goes out as one BeneficiaryStatusChanged per entry."""

    decree_id: str
    number: str
    program: Program
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    issued_at: datetime
    count: int = Field(ge=0)
    content_hash: str
    list_url: str = Field(description="where the frozen list is read, paged: /v1/decrees/{id}/beneficiaries",
                          examples=["/v1/decrees/PKH-2026-12/beneficiaries"])


class BeneficiaryStatusChanged(BaseModel):
    """One entry of an issued SK: a household added to a programme's roll, or removed with a
    reason. Keyed by household id; no names or NIKs (those are read from the list)."""

    decree_id: str
    number: str
    program: Program
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    issued_at: datetime  # orders decrees of a programme (the roll, Cek Bansos)
    proposal_id: str
    household_id: str
    region_code: str
    change: EntryChange = EntryChange.ADDED
    reason: RemovalReason | None = None  # for removals


# type name -> (payload model, topic). The single table producers and consumers agree on.
EVENTS: dict[str, tuple[type[BaseModel], str]] = {
    "registry.household_registered.v1": (HouseholdRegistered, topics.HOUSEHOLDS),
    "registry.proposal_submitted.v1": (ProposalSubmitted, topics.PROPOSALS),
    "integration.checks_completed.v1": (ChecksCompleted, topics.CHECKS),
    "integration.checks_pending.v1": (ChecksPending, topics.CHECKS),
    "verification.case_stage_changed.v1": (CaseStageChanged, topics.CASES),
    "decree.decree_issued.v1": (DecreeIssued, topics.DECREES),  # deprecated: read, never published
    "decree.decree_issued.v2": (DecreeIssuedV2, topics.DECREES),
    "decree.beneficiary_status_changed.v1": (BeneficiaryStatusChanged, topics.DECREES),
}
DEPRECATED = frozenset({"decree.decree_issued.v1"})  # still read (replays), no longer published
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


def types_on(topic: str) -> frozenset[str]:
    """The event types that belong on a topic; anything else read there is refused."""
    return frozenset(name for name, (_, t) in EVENTS.items() if t == topic)


def parse_payload(envelope: Envelope) -> BaseModel:
    """The typed payload of an envelope; raises UnknownEventType or pydantic.ValidationError."""
    try:
        model = EVENTS[envelope.type][0]
    except KeyError:
        raise UnknownEventType(f"unknown event type {envelope.type!r}") from None
    return model.model_validate(envelope.payload)
