"""The registry's rules on the aggregates alone: no I/O, no clock, microseconds each."""

from datetime import UTC, date, datetime, timedelta

import pytest
from siks_contracts.enums import EntryChange, Program, ProposalKind, Relation, RemovalReason, Sex, Stage
from siks_contracts.events import Beneficiary, CaseStageChanged, DecreeIssued
from siks_contracts.schedule import DEFAULT_CALENDAR
from siks_registry.domain.household import (
    BENEFICIARY,
    REGISTERED,
    Address,
    Amendment,
    Household,
    Member,
    claim_is_dead,
    refusal_for_claim,
)
from siks_registry.domain.proposal import DECREED, PENDING, REJECTED, RETURNED, SUBMITTED, Proposal
from siks_registry.domain.refusals import Refused

NOW = datetime(2026, 12, 16, 2, tzinfo=UTC)  # 09:00 in Jakarta, in the bansos window (15-25)
LATE = datetime(2026, 12, 28, 2, tzinfo=UTC)
LEASE = timedelta(seconds=60)
VILLAGE = "32.04.05.2001"
KK = "3204050911230001"  # issued 09-11-2023 in 32.04.05
AGUS = Member("3204052609800001", "Agus", Sex.M, date(1980, 9, 26), Relation.HEAD, "Bandung")
EUIS = Member("3204055912790001", "Euis", Sex.F, date(1979, 12, 19), Relation.SPOUSE)  # day 59 = 19 + 40
JOKO = Member("3204051306000001", "Joko", Sex.M, date(2000, 6, 13), Relation.CHILD)


def register(members=(AGUS, EUIS), kk=KK, region=VILLAGE, now=NOW) -> Household:
    return Household.register("h1", kk_number=kk, region_code=region, address=Address("Kp. Sidomulyo", "003", "004"),
                              members=tuple(members), housing={}, assets={}, by="op", now=now).household


def refusal(call) -> Refused:
    with pytest.raises(Refused) as caught:
        call()
    return caught.value


def pointers(r: Refused) -> list[str]:
    return [e.pointer for e in r.errors]


def decree(change=EntryChange.ADDED, decree_id="d1", program=Program.PKH, reason=None, proposal_id="p1"):
    return DecreeIssued(decree_id=decree_id, number=f"{decree_id}/HUK/2026", program=program, period="2026-12",
                        issued_at=NOW, count=1, content_hash="x",
                        beneficiaries=[Beneficiary(proposal_id=proposal_id, household_id="h1", region_code=VILLAGE,
                                                   change=change, reason=reason)])


def beneficiary_of(program=Program.PKH) -> Household:
    d = decree(program=program)
    return register().apply_decree(d.changes()[0], NOW)


# ------------------------------------------------------------------ registration rules
def test_registration_gives_version_1_and_its_event():
    decision = Household.register("h1", kk_number=KK, region_code=VILLAGE, address=Address("s", "1", "2"),
                                  members=(AGUS, EUIS), housing={}, assets={}, by="op", now=NOW)
    assert decision.household.version == 1 and decision.household.status == REGISTERED
    assert decision.event.household_id == "h1" and decision.event.member_count == 2


def test_exactly_one_head():
    r = refusal(lambda: register([AGUS, Member(**{**EUIS.__dict__, "relation": Relation.HEAD})]))
    assert r.status == 422 and pointers(r) == ["/members"] and "exactly one head; found 2" in r.detail


def test_no_nik_twice_names_the_second_member_by_position():
    r = refusal(lambda: register([AGUS, EUIS, Member(**{**JOKO.__dict__, "nik": EUIS.nik, "sex": Sex.F,
                                                        "birth_date": EUIS.birth_date})]))
    assert pointers(r) == ["/members/2/nik"] and "member 2 has the same NIK as member 1" in r.detail


def test_sex_must_agree_with_the_nik_day_plus_40_for_women():
    r = refusal(lambda: register([AGUS, Member(**{**EUIS.__dict__, "sex": Sex.M})]))
    assert r.status == 422 and pointers(r) == ["/members/1/sex"]
    assert EUIS.nik not in r.detail and all(EUIS.nik not in e.detail for e in r.errors)
    assert "woman" in r.errors[0].detail


def test_birth_date_must_agree_with_the_nik_ddmmyy():
    r = refusal(lambda: register([Member(**{**AGUS.__dict__, "birth_date": date(1981, 9, 26)}), EUIS]))
    assert pointers(r) == ["/members/0/birth_date"] and AGUS.nik not in r.detail


def test_the_nik_year_is_modulo_100_so_either_century_is_accepted_but_not_the_future():
    born_2000 = Member("3204051306000002", "Joko", Sex.M, date(1900, 6, 13), Relation.PARENT)
    assert register([AGUS, born_2000]).members[1].birth_date.year == 1900
    future = Member(**{**AGUS.__dict__, "birth_date": date(2080, 9, 26)})  # matches 26-09-80, but later than today
    assert pointers(refusal(lambda: register([future]))) == ["/members/0/birth_date"]


def test_every_broken_rule_is_listed_at_once():
    r = refusal(lambda: register([Member(**{**AGUS.__dict__, "sex": Sex.F}),
                                  Member(**{**EUIS.__dict__, "birth_date": date(1979, 12, 20)})]))
    assert pointers(r) == ["/members/0/sex", "/members/1/birth_date"]


def test_kk_number_province_must_be_the_households():
    r = refusal(lambda: register(kk="3304050911230001"))
    assert pointers(r) == ["/kk_number"] and "3304050911230001" not in r.detail


def test_kk_number_from_the_parent_of_a_split_province_is_accepted():
    # Banten (36) was made out of Jawa Barat (32): a family card of before keeps 32.
    banten = Member("3601012609800001", "Agus", Sex.M, date(1980, 9, 26), Relation.HEAD)
    assert register([banten], kk="3204050911230001", region="36.01.01.2001").region_code == "36.01.01.2001"


def test_kk_number_issued_in_the_future_is_refused():
    assert register(kk="3204051612260001").kk_number  # issued today (16-12-2026, Jakarta)
    r = refusal(lambda: register(kk="3204051712260001"))
    assert pointers(r) == ["/kk_number"] and "future" in r.detail


# ------------------------------------------------------------------ amendments
def test_amend_with_the_version_read_replaces_members_and_says_which_claims_move():
    h = register()
    amended = h.amend(Amendment(version=1, members=(AGUS, JOKO), address=Address("Jl. Baru", "001", "002")), NOW)
    assert amended.household.version == 2 and amended.household.niks == (AGUS.nik, JOKO.nik)
    assert amended.claim == (JOKO.nik,) and amended.release == (EUIS.nik,)
    assert amended.household.address.street == "Jl. Baru" and amended.household.kk_number == KK


def test_amend_with_a_stale_version_is_409():
    h = register()
    r = refusal(lambda: h.amend(Amendment(version=2, members=(AGUS,)), NOW))
    assert r.status == 409 and r.extra["current_version"] == 1


def test_amend_checks_the_same_rules_as_registration():
    h = register()
    r = refusal(lambda: h.amend(Amendment(version=1, members=(AGUS, Member(**{**JOKO.__dict__, "sex": Sex.F}))), NOW))
    assert r.status == 422 and pointers(r) == ["/members/1/sex"]
    assert pointers(refusal(lambda: h.amend(Amendment(version=1, members=(EUIS,)), NOW))) == ["/members"]  # no head


def test_amend_leaves_absent_fields_alone():
    h = register()
    amended = h.amend(Amendment(version=1, housing={"floor": "tanah"}), NOW).household
    assert amended.members == h.members and amended.housing == {"floor": "tanah"} and amended.assets == {}


# ------------------------------------------------------------------ decrees
def test_decree_entry_added_makes_the_household_active_and_releases_the_slot():
    h = register()
    from dataclasses import replace
    h = replace(h, open_proposals={Program.PKH: "p1", Program.BPNT: "p2"})
    d = decree()
    after = h.apply_decree(d.changes()[0], NOW)
    assert after.status == BENEFICIARY and after.is_active_in(Program.PKH) and after.version == 2
    (pkh,) = after.programs
    assert (pkh.period, pkh.decree_number, pkh.decree_id, pkh.reason) == ("2026-12", "d1/HUK/2026", "d1", None)
    assert after.open_proposals == {Program.BPNT: "p2"}
    assert after.apply_decree(d.changes()[0], NOW) is None  # redelivered: nothing


def test_decree_entry_removed_makes_it_inactive_with_reason_and_sk():
    active = beneficiary_of(Program.PKH)
    d = decree(EntryChange.REMOVED, decree_id="d2", reason=RemovalReason.INELIGIBLE, proposal_id="p9")
    after = active.apply_decree(d.changes()[0], NOW)
    (pkh,) = after.programs
    assert not pkh.active and pkh.reason == RemovalReason.INELIGIBLE and pkh.decree_number == "d2/HUK/2026"
    assert after.status == REGISTERED  # active in no programme any more


def test_beneficiary_while_active_in_any_programme():
    both = beneficiary_of(Program.PKH)
    d = decree(decree_id="d3", program=Program.BPNT)
    both = both.apply_decree(d.changes()[0], NOW)
    d = decree(EntryChange.REMOVED, decree_id="d4", reason=RemovalReason.INELIGIBLE)
    assert both.apply_decree(d.changes()[0], NOW).status == BENEFICIARY  # still in BPNT


# ------------------------------------------------------------------ NIK claims
@pytest.mark.parametrize("age, holder, pending_for, dead", [
    (timedelta(seconds=5), None, None, False),  # young: maybe a registration under way
    (timedelta(minutes=5), None, None, True),  # old and its household gone
    (timedelta(minutes=5), "pending", timedelta(minutes=5), True),  # registration never finished
    (timedelta(minutes=5), "pending", timedelta(seconds=5), False),
    (timedelta(minutes=5), "lists", None, False),  # the household holds the person: alive
    (timedelta(minutes=5), "dropped", None, True),  # a correction that stopped half-way
])
def test_a_claim_is_taken_over_only_when_provably_dead(age, holder, pending_for, dead):
    h = register()
    households = {None: None, "pending": h, "lists": h, "dropped": register([AGUS])}
    assert claim_is_dead(claimed_at=NOW - age, holder=households[holder],
                         holder_pending_since=NOW - pending_for if pending_for else None,
                         nik=EUIS.nik, now=NOW, lease=LEASE) is dead


def test_a_claim_refusal_names_the_member_not_the_other_household():
    r = refusal_for_claim(2)
    assert r.status == 409 and pointers(r) == ["/members/2/nik"] and "another household" in r.detail


# ------------------------------------------------------------------ proposals
def submit(household=None, kind=ProposalKind.DTKS_NEW, program=Program.PKH, now=NOW, holder=None):
    return Proposal.submit("p1", household=household or register(), kind=kind, program=program, reason=None,
                           calendar=DEFAULT_CALENDAR, now=now, by="op", slot_holder=holder, stale_after=LEASE)


def test_submit_in_window_is_submitted_and_carries_round_1():
    proposed = submit()
    assert proposed.proposal.status == SUBMITTED
    assert proposed.event.round == 1 and proposed.event.household_version == 1 and proposed.event.removal_reason is None
    assert [m.nik for m in proposed.event.household.members] == [AGUS.nik, EUIS.nik]


def test_outside_the_window_names_the_next_opening():
    r = refusal(lambda: submit(now=LATE, program=Program.BPNT))
    assert r.status == 409 and r.extra["next_opening"] == "2027-01-15T00:00:00+07:00"


def test_ineligibility_only_for_a_household_active_in_the_programme_any_day():
    r = refusal(lambda: submit(kind=ProposalKind.INELIGIBILITY))
    assert r.status == 409 and "active in PKH" in r.detail
    proposed = submit(beneficiary_of(Program.PKH), kind=ProposalKind.INELIGIBILITY, now=LATE)
    assert proposed.event.removal_reason == RemovalReason.INELIGIBLE


def test_one_open_proposal_per_programme():
    from dataclasses import replace
    h = replace(register(), open_proposals={Program.PKH: "p0"})
    live = Proposal("p0", "h1", ProposalKind.DTKS_NEW, Program.PKH, VILLAGE, RETURNED, NOW)
    r = refusal(lambda: submit(h, holder=live))
    assert r.status == 409 and r.extra["proposal_id"] == "p0"
    assert submit(h, program=Program.BPNT).proposal.program == Program.BPNT  # another programme
    stale = replace(live, status=PENDING, submitted_at=NOW - timedelta(minutes=5))
    assert submit(h, holder=stale).proposal.id == "p1"  # a submission that died
    assert submit(h, holder=None).proposal.id == "p1"  # one that was never stored
    young = replace(stale, submitted_at=NOW - timedelta(seconds=5))
    assert refusal(lambda: submit(h, holder=young)).status == 409  # one under way


def test_a_slot_naming_a_proposal_not_stored_is_held_for_a_lease_from_when_it_was_taken():
    from dataclasses import replace
    taken = replace(register(), open_proposals={Program.PKH: "p0"},
                    slots_taken_at={Program.PKH: NOW - timedelta(seconds=5)})
    assert refusal(lambda: submit(taken, holder=None)).status == 409  # its submission is storing it
    past = replace(taken, slots_taken_at={Program.PKH: NOW - LEASE})
    assert submit(past, holder=None).proposal.id == "p1"  # that submission died
    own = replace(taken, open_proposals={Program.PKH: "p1"})
    assert submit(own, holder=None).proposal.id == "p1"  # an earlier attempt at this very proposal


def returned_proposal(kind=ProposalKind.DTKS_NEW) -> Proposal:
    return Proposal("p1", "h1", kind, Program.PKH, VILLAGE, RETURNED, NOW)


def test_resubmit_only_from_returned_as_the_next_round_with_the_household_now():
    h = register().amend(Amendment(version=1, members=(AGUS,)), NOW).household
    proposed = returned_proposal().resubmit(h, LATE)
    assert proposed.proposal.status == SUBMITTED and proposed.proposal.round == 2
    assert proposed.event.round == 2 and proposed.event.proposal_id == "p1" and proposed.event.household_version == 2
    assert [m.nik for m in proposed.event.household.members] == [AGUS.nik]
    r = refusal(lambda: proposed.proposal.resubmit(h, LATE))
    assert r.status == 409 and r.extra["proposal_status"] == "submitted" and "submitted" in r.detail


def case(stage, round=None, proposal_id="p1"):
    return CaseStageChanged(proposal_id=proposal_id, household_id="h1", program=Program.PKH, region_code=VILLAGE,
                            stage=stage, at=NOW, round=round)


def test_case_returned_keeps_the_slot_rejected_releases_it():
    submitted = Proposal("p1", "h1", ProposalKind.DTKS_NEW, Program.PKH, VILLAGE, SUBMITTED, NOW)
    returned = submitted.on_stage_changed(case(Stage.RETURNED), NOW)
    assert returned.status == RETURNED and not returned.ended
    assert returned.on_stage_changed(case(Stage.RETURNED), NOW) is None  # redelivered
    rejected = returned.on_stage_changed(case(Stage.REJECTED), NOW)
    assert rejected.status == REJECTED and rejected.ended


def test_an_event_of_an_earlier_round_changes_nothing():
    again = returned_proposal().resubmit(register(), NOW).proposal
    assert again.on_stage_changed(case(Stage.RETURNED, round=1), NOW) is None
    assert again.on_stage_changed(case(Stage.RETURNED, round=2), NOW).status == RETURNED


def test_approved_ends_only_an_update():
    update = Proposal("p1", "h1", ProposalKind.UPDATE, Program.PKH, VILLAGE, SUBMITTED, NOW)
    assert update.on_stage_changed(case(Stage.APPROVED), NOW).ended
    new = Proposal("p1", "h1", ProposalKind.DTKS_NEW, Program.PKH, VILLAGE, SUBMITTED, NOW)
    assert new.on_stage_changed(case(Stage.APPROVED), NOW) is None  # the decree ends it


def test_decreed_ends_the_proposal_once():
    p = Proposal("p1", "h1", ProposalKind.DTKS_NEW, Program.PKH, VILLAGE, SUBMITTED, NOW)
    decreed = p.on_decreed(decree().changes()[0], NOW)
    assert decreed.status == DECREED and decreed.ended and decreed.on_decreed(decree().changes()[0], NOW) is None
