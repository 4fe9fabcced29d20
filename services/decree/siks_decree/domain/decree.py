"""The Minister's decree (SK Mensos) and its entries: which approved cases a draft takes, how
the frozen list is hashed and numbered, and how issuing works. One decree per programme and
period; a change approved after a period's decree was issued goes into the next period's.
No I/O and no clock: the caller passes `now` and what was read."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from siks_contracts.actor import Actor
from siks_contracts.enums import EntryChange, Program, ProposalKind, RemovalReason, Stage
from siks_contracts.events import BeneficiaryStatusChanged, CaseStageChanged, DecreeIssuedV2, HouseholdSnapshot


class Status(StrEnum):
    DRAFTING = "drafting"  # claiming candidates; a draft that dies here is taken over or released
    DRAFT = "draft"
    ISSUED = "issued"


# A draft still `drafting` after this long was abandoned by a crash: the next draft takes it over.
DRAFTING_LEASE = timedelta(minutes=2)


class DecreeRefused(Exception):
    def __init__(self, detail: str, status: int = 409, **facts: object) -> None:
        super().__init__(detail)
        self.detail, self.status, self.facts = detail, status, facts


def period_of(at: datetime, timezone: str = "Asia/Jakarta") -> str:
    """The decree period ("YYYY-MM") a moment falls in, in Indonesian time."""
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:])
    return f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"


def decree_id_of(program: Program | str, period: str) -> str:
    """One decree per programme and period: its id says which, so two drafts are one."""
    return f"{Program(program).value}-{period}"


def decree_number(sequence: int, year: int) -> str:
    """Kepmensos style: "<n>/HUK/<year>"."""
    return f"{sequence}/HUK/{year}"


def normalise_name(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Entry:
    """One row of a decree: a household added to the programme's roll, or removed with a reason."""

    proposal_id: str
    household_id: str
    region_code: str
    change: EntryChange
    household: HouseholdSnapshot
    reason: RemovalReason | None = None
    tier: int | None = None


@dataclass(frozen=True)
class Candidate:
    """An approved case waiting for its programme's decree."""

    entry: Entry
    program: Program
    period: str
    approved_at: datetime
    approval_reference: str | None

    @staticmethod
    def wanted(c: CaseStageChanged) -> bool:
        """Only a case approved for the roll becomes a candidate; updates change no roll."""
        return c.stage is Stage.APPROVED and c.household is not None and c.kind is not ProposalKind.UPDATE

    @classmethod
    def from_case(cls, c: CaseStageChanged, issued_periods: set[str]) -> Candidate | None:
        """The candidate of its period, or of the first period after it whose decree is not
        issued yet; None for a case that is not `wanted`."""
        if not cls.wanted(c):
            return None
        removal = c.kind is ProposalKind.INELIGIBILITY or c.removal_reason is not None
        change = EntryChange.REMOVED if removal else EntryChange.ADDED
        reason = (c.removal_reason or RemovalReason.INELIGIBLE) if removal else None
        period = c.period or period_of(c.at)
        while period in issued_periods:
            period = next_period(period)
        entry = Entry(c.proposal_id, c.household_id, c.region_code, change, c.household, reason, c.tier)
        return cls(entry, c.program, period, c.at, c.approval_reference)


class ListHash:
    """The content hash of a decree's list, fed one entry at a time in proposal order, so a
    list of any size is hashed without holding it: SHA-256 over the canonical JSON
    `{"entries": [[proposal_id, household_id, region_code, change, reason], ...], "period",
    "program"}` (sorted keys, no spaces), the same bytes `json.dumps` gives for the whole list."""

    def __init__(self, program: str, period: str) -> None:
        self._tail = ("]," + json.dumps({"period": period, "program": program}, separators=(",", ":"),
                                        sort_keys=True)[1:]).encode()
        self._sha = hashlib.sha256(b'{"entries":[')
        self._last: tuple[str, ...] | None = None
        self.count = 0

    def add(self, e: Entry) -> None:
        row = (e.proposal_id, e.household_id, e.region_code, e.change.value, e.reason.value if e.reason else "")
        if self._last is not None and row <= self._last:
            raise ValueError("entries must come in proposal order, each once")
        self._sha.update((b"," if self._last is not None else b"") + json.dumps(list(row), separators=(",", ":")).encode())
        self._last, self.count = row, self.count + 1

    def hexdigest(self) -> str:
        sha = self._sha.copy()
        sha.update(self._tail)
        return "sha256:" + sha.hexdigest()


def content_hash(program: str, period: str, entries: Iterable[Entry]) -> str:
    """SHA-256 over the canonical list: anyone holding the list can prove it is the decreed one."""
    hasher = ListHash(program, period)
    for e in sorted(entries, key=lambda e: e.proposal_id):
        hasher.add(e)
    return hasher.hexdigest()


# Event ids of an issued decree's events derive from what they say, so publishing them again
# after a crash gives the same ids and idempotent consumers drop the copies.
_EVENTS_NS = uuid.UUID("6f1c1f0e-8a53-4c55-9a53-5d1e2a7c0d11")


def issued_event_id(decree_id: str) -> str:
    return str(uuid.uuid5(_EVENTS_NS, f"issued|{decree_id}"))


def beneficiary_event_id(decree_id: str, proposal_id: str) -> str:
    return str(uuid.uuid5(_EVENTS_NS, f"entry|{decree_id}|{proposal_id}"))


@dataclass(frozen=True)
class Decree:
    """A decree; its entries are rows of their own (one per proposal), never held here."""

    id: str
    program: Program
    period: str
    status: Status
    drafted_at: datetime
    drafted_by: str
    count: int = 0
    number: str | None = None
    issued_at: datetime | None = None
    issued_by: str | None = None
    content_hash: str | None = None
    version: int = 1

    @classmethod
    def start(cls, program: Program, period: str, by: Actor, now: datetime) -> Decree:
        return cls(decree_id_of(program, period), program, period, Status.DRAFTING, now, by.sub)

    def may_take_over(self, now: datetime) -> bool:
        """Whether a new draft may take this decree: a finished draft is refreshed; one still
        `drafting` only when its drafter is gone (past the lease)."""
        if self.status is Status.ISSUED:
            raise DecreeRefused(f"the {self.program} decree for {self.period} is issued as SK {self.number}; "
                                f"cases approved since go into {next_period(self.period)}",
                                decree_id=self.id, next_period=next_period(self.period))
        return self.status is Status.DRAFT or now - self.drafted_at > DRAFTING_LEASE

    def reopened(self, by: Actor, now: datetime) -> Decree:
        """Back to drafting, for a new draft of the same programme and period."""
        if not self.may_take_over(now):
            raise DecreeRefused(f"the {self.program} decree for {self.period} is being drafted right now; "
                                "try again in a moment", decree_id=self.id)
        return replace(self, status=Status.DRAFTING, drafted_at=now, drafted_by=by.sub, version=self.version + 1)

    def drafted(self, listed: ListHash, by: Actor, now: datetime) -> Decree:
        """The draft of the list `listed` hashed (every entry, in proposal order)."""
        if not listed.count:
            raise DecreeRefused(f"no approved {self.program} cases wait for a decree in {self.period}")
        return replace(self, status=Status.DRAFT, count=listed.count, drafted_at=now, drafted_by=by.sub,
                       content_hash=listed.hexdigest(), version=self.version + 1)

    def issue(self, sequence: int, by: Actor, now: datetime) -> tuple[Decree, DecreeIssuedV2 | None]:
        """Issues the draft; issuing an issued decree changes nothing and says nothing again.
        The event carries the count, the hash and where to read the list; the list itself goes
        out as one `beneficiary_changed` per entry."""
        if self.status is Status.ISSUED:
            return self, None
        if self.status is not Status.DRAFT:
            raise DecreeRefused(f"decree {self.id} is still being drafted; try again in a moment")
        number = decree_number(sequence, now.year)
        issued = replace(self, status=Status.ISSUED, number=number, issued_at=now, issued_by=by.sub,
                         version=self.version + 1)
        event = DecreeIssuedV2(decree_id=self.id, number=number, program=self.program, period=self.period,
                               issued_at=now, count=self.count, content_hash=self.content_hash or "",
                               list_url=f"/v1/decrees/{self.id}/beneficiaries")
        return issued, event

    def beneficiary_changed(self, e: Entry) -> BeneficiaryStatusChanged:
        """What an issued decree's entry says on the bus: no names, no NIKs."""
        if self.status is not Status.ISSUED or self.number is None or self.issued_at is None:
            raise DecreeRefused(f"decree {self.id} is not issued")
        return BeneficiaryStatusChanged(decree_id=self.id, number=self.number, program=self.program,
                                        period=self.period, issued_at=self.issued_at, proposal_id=e.proposal_id,
                                        household_id=e.household_id, region_code=e.region_code, change=e.change,
                                        reason=e.reason)

    def may_abandon(self) -> None:
        if self.status is Status.ISSUED:
            raise DecreeRefused(f"decree {self.id} is issued as SK {self.number}; an issued decree stands")
