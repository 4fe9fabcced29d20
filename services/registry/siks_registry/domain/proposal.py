"""The Proposal aggregate (usulan): its windows, its one slot per programme, its rounds, and
what verification's and the decree's events do to it.

Statuses: submitted -> returned -> submitted (round + 1, by resubmission) ...; it ends
rejected, approved (an `update`, which no decree carries) or decreed. Ended proposals release
their programme slot; a returned one keeps it, so the correction goes on under the same
proposal. A proposal is stored once its slot is held; `pending` (stored, slot not yet taken,
invisible) is left only by earlier versions of this service, which stored proposals first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from siks_contracts.enums import Program, ProposalKind, RemovalReason, Stage
from siks_contracts.events import BeneficiaryStatusChanged, CaseStageChanged, ProposalSubmitted
from siks_contracts.schedule import Calendar

from .household import Household
from .refusals import conflict

PENDING = "pending"
SUBMITTED = "submitted"
RETURNED = "returned"
REJECTED = "rejected"
APPROVED = "approved"
DECREED = "decreed"
ENDED = frozenset({REJECTED, APPROVED, DECREED})  # these release the programme slot


@dataclass(frozen=True)
class Proposed:
    proposal: Proposal
    event: ProposalSubmitted


@dataclass(frozen=True)
class Proposal:
    id: str
    household_id: str
    kind: ProposalKind
    program: Program
    region_code: str
    status: str
    submitted_at: datetime
    round: int = 1
    reason: str | None = None
    submitted_by: str = ""
    updated_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def holds_slot(self, now: datetime, stale_after: timedelta) -> bool:
        """Whether this proposal still holds its programme slot: it has not ended, and is not
        a submission that died before it was stored in full (pending longer than a lease)."""
        if self.status == PENDING:
            return now - self.submitted_at < stale_after
        return not self.ended

    # ------------------------------------------------------------------ deciding
    @classmethod
    def submit(cls, proposal_id: str, *, household: Household, kind: ProposalKind, program: Program,
               reason: str | None, calendar: Calendar, now: datetime, by: str,
               slot_holder: Proposal | None, stale_after: timedelta) -> Proposed:
        """A new proposal, submitted: stored once it holds the programme's slot. Refused outside
        the programme's window (naming the next opening), while another proposal holds the
        slot, and, for an ineligibility, unless the household is active in the programme."""
        if not calendar.is_open(kind, program, now):
            opening = calendar.next_opening(program, now)
            when = opening.isoformat() if opening else "no window is configured"
            raise conflict(f"proposals for {program} are closed now; the next window opens {when}",
                           next_opening=opening.isoformat() if opening else None, program=str(program))
        if kind == ProposalKind.INELIGIBILITY and not household.is_active_in(program):
            raise conflict(f"an ineligibility proposal is for a household active in {program}; this one is not",
                           program=str(program))
        holder_id = household.slot_holder(program)
        # `slot_holder` is the proposal the slot names, as stored; None while a submission that
        # took the slot is storing it, or when that one died: the slot's age tells them apart.
        # A slot naming this very proposal is an earlier attempt at it. The store's write is guarded.
        if holder_id and holder_id != proposal_id:
            if slot_holder is not None:
                held = slot_holder.holds_slot(now, stale_after)
            else:
                taken = household.slot_taken_at(program)
                held = taken is not None and now - taken < stale_after
            if held:
                raise conflict(f"household already has an open {program} proposal", proposal_id=holder_id)
        proposal = cls(id=proposal_id, household_id=household.id, kind=kind, program=program,
                       region_code=household.region_code, status=SUBMITTED, submitted_at=now, round=1,
                       reason=reason, submitted_by=by, updated_at=now)
        return Proposed(proposal, proposal._submitted(household, now))

    def resubmit(self, household: Household, now: datetime) -> Proposed:
        """A returned proposal goes back up with the household as it is now, as round n + 1.
        No window check: a correction answers the verifier, it is not a new proposal."""
        if self.status != RETURNED:
            raise conflict(f"the proposal is {self.status}; only a returned proposal can be resubmitted",
                           proposal_status=self.status)
        if household.id != self.household_id:
            raise conflict("the household is not the proposal's")
        if self.kind == ProposalKind.INELIGIBILITY and not household.is_active_in(self.program):
            raise conflict(f"the household is no longer active in {self.program}", program=str(self.program))
        again = replace(self, status=SUBMITTED, round=self.round + 1, updated_at=now)
        return Proposed(again, again._submitted(household, now))

    def on_stage_changed(self, case: CaseStageChanged, now: datetime) -> Proposal | None:
        """returned -> returned (slot kept); rejected -> rejected (slot released); approved
        for an `update` -> approved, ended (no decree carries it). None when nothing changes:
        another stage, an event of an earlier round, or a redelivery."""
        if case.proposal_id != self.id or (case.round is not None and case.round != self.round):
            return None
        if case.stage == Stage.RETURNED and self.status == SUBMITTED:
            return replace(self, status=RETURNED, updated_at=now)
        if case.stage == Stage.REJECTED and self.status in (SUBMITTED, RETURNED):
            return replace(self, status=REJECTED, updated_at=now)
        if case.stage == Stage.APPROVED and self.kind == ProposalKind.UPDATE and self.status == SUBMITTED:
            return replace(self, status=APPROVED, updated_at=now)
        return None

    def on_decreed(self, entry: BeneficiaryStatusChanged, now: datetime) -> Proposal | None:
        """Its decree's entry: the proposal is decreed (and ends). None on a redelivery."""
        if entry.proposal_id != self.id or entry.program != self.program or self.status not in (SUBMITTED, APPROVED):
            return None
        return replace(self, status=DECREED, updated_at=now)

    def _submitted(self, household: Household, now: datetime) -> ProposalSubmitted:
        return ProposalSubmitted(
            proposal_id=self.id, household_id=self.household_id, kind=self.kind, program=self.program,
            reason=self.reason, submitted_at=now, household=household.snapshot(), round=self.round,
            household_version=household.version,
            removal_reason=RemovalReason.INELIGIBLE if self.kind == ProposalKind.INELIGIBILITY else None)
