"""What the registry answers: the response models of every route (interface v1 shapes)."""

from datetime import date, datetime

from pydantic import BaseModel
from siks_contracts.enums import Program, ProposalKind, Relation, RemovalReason, Sex

from .domain.household import Household
from .domain.proposal import Proposal


class AddressOut(BaseModel):
    street: str
    rt: str
    rw: str


class MemberOut(BaseModel):
    nik: str
    name: str
    sex: Sex
    birth_date: date
    birth_place: str
    relation: Relation


class ProgrammeOut(BaseModel):
    program: Program
    status: str  # "active" | "inactive"
    period: str
    decree_number: str
    decree_id: str
    proposal_id: str
    reason: RemovalReason | None = None


class HouseholdOut(BaseModel):
    id: str
    version: int
    status: str  # "registered" | "beneficiary"
    kk_number: str
    region_code: str
    address: AddressOut
    members: list[MemberOut]
    # Free-form DTKS/Regsosek answers, stored as given (interface v1).
    housing: dict[str, object]
    assets: dict[str, object]
    programs: list[ProgrammeOut]
    open_proposals: dict[str, str]  # programme -> the proposal holding its slot
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, h: Household) -> "HouseholdOut":
        return cls(
            id=h.id, version=h.version, status=h.status, kk_number=h.kk_number, region_code=h.region_code,
            address=AddressOut(street=h.address.street, rt=h.address.rt, rw=h.address.rw),
            members=[MemberOut(nik=m.nik, name=m.name, sex=m.sex, birth_date=m.birth_date,
                               birth_place=m.birth_place, relation=m.relation) for m in h.members],
            housing=dict(h.housing), assets=dict(h.assets),
            programs=[ProgrammeOut(program=p.program, status="active" if p.active else "inactive", period=p.period,
                                   decree_number=p.decree_number, decree_id=p.decree_id, proposal_id=p.proposal_id,
                                   reason=p.reason) for p in h.programs],
            open_proposals={str(k): v for k, v in h.open_proposals.items()},
            created_at=h.created_at, updated_at=h.updated_at)


class HouseholdPage(BaseModel):
    items: list[HouseholdOut]
    limit: int
    offset: int


class ProposalOut(BaseModel):
    id: str
    household_id: str
    kind: ProposalKind
    program: Program
    status: str  # submitted | returned | rejected | approved | decreed
    round: int
    submitted_at: datetime
    reason: str | None
    region_code: str
    updated_at: datetime | None

    @classmethod
    def of(cls, p: Proposal) -> "ProposalOut":
        return cls(id=p.id, household_id=p.household_id, kind=p.kind, program=p.program, status=p.status,
                   round=p.round, submitted_at=p.submitted_at, reason=p.reason, region_code=p.region_code,
                   updated_at=p.updated_at)


class WindowOut(BaseModel):
    name: str
    programs: list[Program]
    first_day: int
    last_day: int
    open: bool
    next_opening: datetime | None


class ScheduleOut(BaseModel):
    now: datetime
    timezone: str
    windows: list[WindowOut]
