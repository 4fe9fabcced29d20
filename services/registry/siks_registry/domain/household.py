"""The Household aggregate: every rule about a household and its members lives here.

- one head, no NIK twice, each member's sex and birth date agreeing with the NIK, the KK
  number agreeing with the household's region and not issued in the future (`_refusals_of`);
- amendments with optimistic concurrency, and which NIK claims move with the members (`amend`);
- what a decree does to the household's programmes (`apply_decree`);
- when a NIK claim left behind is provably dead and may be taken over (`claim_is_dead`).

No I/O, no clock (`now` comes in), no stored dicts: the store maps documents to these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from siks_contracts.enums import EntryChange, Program, Relation, RemovalReason, Sex
from siks_contracts.events import (
    BeneficiaryStatusChanged,
    HouseholdRegistered,
    HouseholdSnapshot,
    MemberSnapshot,
)
from siks_contracts.identity import InvalidIdentifier, mask_nik, parse_nik
from siks_contracts.regions import province_of

from .refusals import FieldError, Refused, conflict, invalid

# Household status in the register: a beneficiary is active in at least one programme.
REGISTERED = "registered"
BENEFICIARY = "beneficiary"

_JAKARTA = ZoneInfo("Asia/Jakarta")  # KK issue dates are local (Dukcapil) dates

# Provinces made out of another since the 16-digit numbers came into use (new -> parent). A
# family card issued before the split keeps the parent's code until it is reissued.
_PROVINCE_SPLITS = {
    "19": "16",  # Kepulauan Bangka Belitung from Sumatera Selatan (2000)
    "21": "14",  # Kepulauan Riau from Riau (2002)
    "36": "32",  # Banten from Jawa Barat (2000)
    "65": "64",  # Kalimantan Utara from Kalimantan Timur (2012)
    "75": "71",  # Gorontalo from Sulawesi Utara (2000)
    "76": "73",  # Sulawesi Barat from Sulawesi Selatan (2004)
    "82": "81",  # Maluku Utara from Maluku (1999)
    "92": "91",  # Papua Barat from Papua (2003)
    "93": "91", "94": "91", "95": "91",  # Papua Selatan, Tengah, Pegunungan from Papua (2022)
    "96": "92",  # Papua Barat Daya from Papua Barat (2022)
}


@dataclass(frozen=True)
class Member:
    nik: str
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    birth_place: str = ""

    def __repr__(self) -> str:  # personal data stays out of stray log lines
        return f"Member(nik={mask_nik(self.nik)!r}, relation={self.relation.value!r})"


@dataclass(frozen=True)
class Address:
    street: str
    rt: str
    rw: str


@dataclass(frozen=True)
class ProgrammeStatus:
    """Where the household stands in one programme, as its latest decree left it."""

    program: Program
    active: bool
    period: str
    decree_id: str
    decree_number: str
    proposal_id: str
    reason: RemovalReason | None = None  # why it left, for an inactive programme


@dataclass(frozen=True)
class Amendment:
    """A correction: `version` is the one the operator read; None leaves a field as it is."""

    version: int
    address: Address | None = None
    housing: Mapping[str, object] | None = None
    assets: Mapping[str, object] | None = None
    kk_number: str | None = None
    members: tuple[Member, ...] | None = None


@dataclass(frozen=True)
class Registration:
    household: Household
    event: HouseholdRegistered


@dataclass(frozen=True)
class Amended:
    household: Household
    claim: tuple[str, ...]  # NIKs of members added: to be claimed before the write
    release: tuple[str, ...]  # NIKs of members removed: released after the write


@dataclass(frozen=True)
class Household:
    id: str
    kk_number: str
    region_code: str
    address: Address
    members: tuple[Member, ...]
    housing: Mapping[str, object] = field(default_factory=dict)
    assets: Mapping[str, object] = field(default_factory=dict)
    version: int = 1
    programs: tuple[ProgrammeStatus, ...] = ()
    # One open proposal per programme: programme -> the proposal holding its slot.
    open_proposals: Mapping[Program, str] = field(default_factory=dict)
    slots_taken_at: Mapping[Program, datetime] = field(default_factory=dict)  # when each slot was reserved
    applied_decrees: tuple[str, ...] = ()  # decree ids already applied: a redelivery changes nothing
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str = ""

    # ------------------------------------------------------------------ reading
    @property
    def status(self) -> str:
        return BENEFICIARY if any(p.active for p in self.programs) else REGISTERED

    @property
    def niks(self) -> tuple[str, ...]:
        return tuple(m.nik for m in self.members)

    def holds(self, nik: str) -> bool:
        return nik in self.niks

    def is_active_in(self, program: Program) -> bool:
        return any(p.program == program and p.active for p in self.programs)

    def slot_holder(self, program: Program) -> str | None:
        return self.open_proposals.get(program)

    def slot_taken_at(self, program: Program) -> datetime | None:
        return self.slots_taken_at.get(program)

    def snapshot(self) -> HouseholdSnapshot:
        return HouseholdSnapshot(
            household_id=self.id, kk_number=self.kk_number, region_code=self.region_code,
            members=[MemberSnapshot(nik=m.nik, name=m.name, sex=m.sex, birth_date=m.birth_date,
                                    relation=m.relation) for m in self.members])

    def matches(self, *, region_prefix: str | None, name_part: str | None) -> bool:
        """The search's conditions, for a household found another way (by a member's NIK): in
        the region (a code prefix), and some member's name holding `name_part`, any case."""
        if region_prefix and not self.region_code.startswith(region_prefix):
            return False
        return not name_part or any(name_part.casefold() in m.name.casefold() for m in self.members)

    # ------------------------------------------------------------------ deciding
    @classmethod
    def register(cls, household_id: str, *, kk_number: str, region_code: str, address: Address,
                 members: tuple[Member, ...], housing: Mapping[str, object], assets: Mapping[str, object],
                 by: str, now: datetime) -> Registration:
        _require_consistent(kk_number, region_code, members, now)
        household = cls(id=household_id, kk_number=kk_number, region_code=region_code, address=address,
                        members=tuple(members), housing=dict(housing), assets=dict(assets), version=1,
                        created_at=now, updated_at=now, created_by=by)
        event = HouseholdRegistered(household_id=household_id, region_code=region_code,
                                    member_count=len(members), version=1)
        return Registration(household, event)

    def amend(self, change: Amendment, now: datetime) -> Amended:
        """A correction read at `change.version`: refused when the household moved on since
        (409), or when the result breaks a household rule (422). `members` replaces the list;
        the NIKs of members added are to be claimed, those of members removed released."""
        if change.version != self.version:
            raise conflict(f"the household is at version {self.version}, not {change.version}: "
                           "it changed since it was read; read it again and redo the change",
                           current_version=self.version)
        members = self.members if change.members is None else tuple(change.members)
        kk_number = change.kk_number or self.kk_number
        _require_consistent(kk_number, self.region_code, members, now)
        before, after = set(self.niks), {m.nik for m in members}
        amended = replace(
            self, members=members, kk_number=kk_number,
            address=change.address or self.address,
            housing=dict(change.housing) if change.housing is not None else self.housing,
            assets=dict(change.assets) if change.assets is not None else self.assets,
            version=self.version + 1, updated_at=now)
        return Amended(amended, tuple(sorted(after - before)), tuple(sorted(before - after)))

    def apply_decree(self, entry: BeneficiaryStatusChanged, now: datetime) -> Household | None:
        """An issued decree's entry for this household: added -> active in the programme with
        the period and SK; removed -> inactive with the reason and SK. The proposal's slot is
        released. None when this decree was applied already (a redelivery)."""
        if entry.household_id != self.id or entry.decree_id in self.applied_decrees:
            return None
        added = entry.change == EntryChange.ADDED
        standing = ProgrammeStatus(program=entry.program, active=added, period=entry.period,
                                   decree_id=entry.decree_id, decree_number=entry.number,
                                   proposal_id=entry.proposal_id,
                                   reason=None if added else (entry.reason or RemovalReason.INELIGIBLE))
        slots = {p: pid for p, pid in self.open_proposals.items()
                 if not (p == entry.program and pid == entry.proposal_id)}
        return replace(self, programs=(*(p for p in self.programs if p.program != entry.program), standing),
                       open_proposals=slots, applied_decrees=(*self.applied_decrees, entry.decree_id),
                       version=self.version + 1, updated_at=now)


# ---------------------------------------------------------------------- rules of the members
def check_members(members: tuple[Member, ...] | list[Member], today: date | None = None) -> list[FieldError]:
    """Every way the members list breaks a rule, each naming the member by position."""
    if not members:
        return [FieldError("/members", "a household needs at least one member")]
    errors: list[FieldError] = []
    heads = sum(1 for m in members if m.relation == Relation.HEAD)
    if heads != 1:
        errors.append(FieldError("/members", f"a household needs exactly one head; found {heads}"))
    first_at: dict[str, int] = {}
    for i, m in enumerate(members):
        if m.nik in first_at:
            errors.append(FieldError(f"/members/{i}/nik", f"member {i} has the same NIK as member {first_at[m.nik]}"))
        else:
            first_at[m.nik] = i
        errors += _identity_errors(i, m, today)
    return errors


def _identity_errors(i: int, m: Member, today: date | None) -> list[FieldError]:
    """Sex and birth date as the NIK writes them (DDMMYY, day + 40 for women). The NIK itself
    is never quoted: it is personal data, and the caller has it."""
    try:
        info = parse_nik(m.nik)
    except InvalidIdentifier as exc:  # the edge refuses these first; kept for callers that skip it
        return [FieldError(f"/members/{i}/nik", f"member {i}: {exc}")]
    errors = []
    if info.sex != m.sex.value:
        says = "a woman's (birth day + 40)" if info.sex == "F" else "a man's (birth day as written)"
        errors.append(FieldError(f"/members/{i}/sex", f"member {i}'s sex does not agree with the NIK, which is {says}"))
    if not info.matches_birth_date(m.birth_date):
        errors.append(FieldError(f"/members/{i}/birth_date",
                                 f"member {i}'s birth date does not agree with the day, month and year (modulo 100) "
                                 "written in the NIK"))
    elif today is not None and m.birth_date > today:
        errors.append(FieldError(f"/members/{i}/birth_date", f"member {i}'s birth date is in the future"))
    return errors


def check_kk_number(kk_number: str, region_code: str, today: date) -> list[FieldError]:
    """What the KK number's structure lets us check against the household.

    Only the province is compared: regencies and districts are split (pemekaran) every few
    years and a family card keeps the code it was issued under until it is reissued, so a
    regency or district that differs is normal; a province that differs is not, save for the
    few provinces made out of another (_PROVINCE_SPLITS). The issue date's year is read as
    20YY: family cards of the 16-digit SIAK form were issued from the 2000s on, and a 19YY
    reading would make every date "in the past" and the check empty."""
    errors = []
    kk_province, home = kk_number[:2], province_of(region_code)
    if kk_province != home and _PROVINCE_SPLITS.get(home) != kk_province:
        errors.append(FieldError("/kk_number", "the KK number's province code is not the household's province"))
    day, month, yy = int(kk_number[6:8]), int(kk_number[8:10]), int(kk_number[10:12])
    try:
        issued = date(2000 + yy, month, day)
    except ValueError:
        issued = None  # 29 Feb of a 19YY-only leap year: the structure check upstream allowed it
    if issued is not None and issued > today:
        errors.append(FieldError("/kk_number", "the KK number's issue date (DDMMYY) is in the future"))
    return errors


def _require_consistent(kk_number: str, region_code: str, members: tuple[Member, ...], now: datetime) -> None:
    today = now.astimezone(_JAKARTA).date()
    errors = check_kk_number(kk_number, region_code, today) + check_members(members, today)
    if errors:
        raise invalid("; ".join(e.detail for e in errors), errors)


# ---------------------------------------------------------------------- NIK claims
def claim_is_dead(*, claimed_at: datetime | None, holder: Household | None, holder_pending_since: datetime | None,
                  nik: str, now: datetime, lease: timedelta) -> bool:
    """A NIK claim (one document per NIK, naming its household) may be taken over only when it
    is provably dead: older than the lease AND its household is gone, never finished its
    registration, or no longer lists the person (a correction that stopped half-way). A
    younger claim may belong to a registration or correction still under way."""
    if claimed_at is not None and now - claimed_at < lease:
        return False
    if holder is None:
        return True
    if holder_pending_since is not None:
        return now - holder_pending_since >= lease
    return not holder.holds(nik)


def refusal_for_claim(position: int) -> Refused:
    """A person held by another household: says so without naming it, its id or its region."""
    return Refused(409, f"member {position} is already registered in another household",
                   (FieldError(f"/members/{position}/nik", "already registered in another household"),))
