"""Well-formed sample data for tests: one real village, a household whose NIKs decode right."""

from datetime import UTC, date, datetime

from siks_contracts.enums import Program, ProposalKind
from siks_contracts.events import HouseholdSnapshot, MemberSnapshot, ProposalSubmitted

VILLAGE = "32.04.05.2001"
REGENCY = "32.04"


def household_snapshot(household_id: str = "h-1") -> HouseholdSnapshot:
    return HouseholdSnapshot(household_id=household_id, kk_number="3204050911230001", region_code=VILLAGE, members=[
        MemberSnapshot(nik="3204052609800001", name="Agus", sex="M", birth_date=date(1980, 9, 26), relation="head"),
        MemberSnapshot(nik="3204055912790001", name="Euis Oktaviani", sex="F", birth_date=date(1979, 12, 19),
                       relation="spouse"),
    ])


def proposal_submitted(proposal_id: str = "p-1", program: Program = Program.PKH) -> ProposalSubmitted:
    return ProposalSubmitted(proposal_id=proposal_id, household_id="h-1", kind=ProposalKind.DTKS_NEW, program=program,
                             submitted_at=datetime(2026, 12, 16, 2, tzinfo=UTC), household=household_snapshot())
