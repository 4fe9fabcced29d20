"""The roll of each programme and the public status of each person (Cek Bansos): both the
result of every decree of the programme, in order, not of the last one alone."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from siks_contracts.enums import EntryChange, Program, RemovalReason

ACTIVE, INACTIVE = "active", "inactive"


@dataclass(frozen=True)
class DecreeRef:
    decree_id: str
    number: str
    period: str
    order: str  # sorts decrees of a programme in issue order ("<period>|<issued_at iso>")

    @classmethod
    def of(cls, decree_id: str, number: str, period: str, issued_at: datetime) -> "DecreeRef":
        return cls(decree_id, number, period, f"{period}|{issued_at.astimezone(UTC).isoformat()}")


@dataclass(frozen=True)
class Standing:
    """Where a household (or a person) stands in one programme after the decrees so far."""

    program: Program
    status: str  # active | inactive
    period: str
    sk_number: str
    decree_id: str
    order: str
    since_period: str  # when the current status began
    reason: RemovalReason | None = None

    @classmethod
    def first(cls, program: Program, change: EntryChange, reason: RemovalReason | None, decree: DecreeRef) -> Standing:
        status = ACTIVE if change is EntryChange.ADDED else INACTIVE
        return cls(program, status, decree.period, decree.number, decree.decree_id, decree.order, decree.period,
                   reason if change is EntryChange.REMOVED else None)

    def after(self, change: EntryChange, reason: RemovalReason | None, decree: DecreeRef) -> Standing:
        """This standing once `decree` applies; an older or the same decree changes nothing, so
        decrees heard out of order or twice end in the same state."""
        if decree.order <= self.order:
            return self
        nxt = Standing.first(self.program, change, reason, decree)
        since = self.since_period if nxt.status == self.status else decree.period
        return replace(nxt, since_period=since)


@dataclass(frozen=True)
class PublicStatus:
    """Cek Bansos for one NIK: the name it answers to, the region, a standing per programme."""

    nik: str
    name_key: str
    region_code: str
    programs: tuple[Standing, ...] = ()
    version: int = 0

    def apply(self, name_key: str, region_code: str, program: Program, change: EntryChange,
              reason: RemovalReason | None, decree: DecreeRef) -> PublicStatus:
        current = next((s for s in self.programs if s.program == program), None)
        updated = Standing.first(program, change, reason, decree) if current is None else current.after(
            change, reason, decree)
        if updated is current:
            return self
        others = tuple(s for s in self.programs if s.program != program)
        return replace(self, name_key=name_key, region_code=region_code,
                       programs=tuple(sorted((*others, updated), key=lambda s: (s.status != ACTIVE, s.program))),
                       version=self.version + 1)
