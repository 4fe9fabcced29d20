"""What callers send: validated at the edge, so handlers only see well-formed input."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from siks_contracts.enums import Program, ProposalKind, Relation, Sex
from siks_contracts.types import FreeText, KkNumber, Nik, PersonName, VillageCode


class _Strict(BaseModel):
    # Validation errors never quote the input back: it may be personal data.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Address(_Strict):
    street: str = Field(min_length=1, max_length=200)
    rt: str = Field(pattern=r"^\d{1,3}$")
    rw: str = Field(pattern=r"^\d{1,3}$")


class MemberIn(_Strict):
    nik: Nik
    name: Annotated[PersonName, Field(max_length=120)]
    sex: Sex
    birth_date: date
    birth_place: str = Field(default="", max_length=120)
    relation: Relation


class RegisterHousehold(_Strict):
    kk_number: KkNumber
    region_code: VillageCode
    address: Address
    members: list[MemberIn] = Field(min_length=1, max_length=30)
    # Housing and assets follow the DTKS/Regsosek forms; free-form for now, stored as given.
    housing: dict[str, object] = Field(default_factory=dict)
    assets: dict[str, object] = Field(default_factory=dict)


class SubmitProposal(_Strict):
    household_id: str
    kind: ProposalKind
    program: Program
    reason: Annotated[FreeText, Field(max_length=1000)] | None = None


class AmendHousehold(_Strict):
    """A correction (PATCH): `version` is the one read; an absent field stays as it is;
    `members` replaces the whole list (NIK claims follow the members)."""

    version: int = Field(ge=1)
    address: Address | None = None
    housing: dict[str, object] | None = None
    assets: dict[str, object] | None = None
    kk_number: KkNumber | None = None
    members: list[MemberIn] | None = Field(default=None, min_length=1, max_length=30)
