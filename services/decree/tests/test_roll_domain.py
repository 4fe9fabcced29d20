"""The roll and Cek Bansos standings: the sum of every decree, in issue order, whatever order
they are heard in."""

from datetime import UTC, datetime

from siks_contracts.enums import EntryChange, Program, RemovalReason
from siks_decree.domain.roll import DecreeRef, PublicStatus

DEC = DecreeRef.of("PKH-2026-12", "1/HUK/2026", "2026-12", datetime(2026, 12, 20, tzinfo=UTC))
JAN = DecreeRef.of("PKH-2027-01", "4/HUK/2027", "2027-01", datetime(2027, 1, 20, tzinfo=UTC))
BPNT = DecreeRef.of("BPNT-2026-12", "2/HUK/2026", "2026-12", datetime(2026, 12, 21, tzinfo=UTC))


def test_decrees_heard_out_of_order_or_twice_end_in_the_same_state():
    empty = PublicStatus("n", "agus", "32.04.05.2001")
    in_order = (empty.apply("agus", "r", Program.PKH, EntryChange.ADDED, None, DEC)
                .apply("agus", "r", Program.PKH, EntryChange.REMOVED, RemovalReason.DECEASED, JAN))
    reversed_ = (empty.apply("agus", "r", Program.PKH, EntryChange.REMOVED, RemovalReason.DECEASED, JAN)
                 .apply("agus", "r", Program.PKH, EntryChange.ADDED, None, DEC))
    assert in_order.programs == reversed_.programs
    (pkh,) = in_order.programs
    assert (pkh.status, pkh.reason, pkh.sk_number) == ("inactive", RemovalReason.DECEASED, "4/HUK/2027")
    assert in_order.apply("agus", "r", Program.PKH, EntryChange.REMOVED, RemovalReason.DECEASED, JAN) is in_order


def test_each_programme_keeps_its_own_standing_active_first():
    status = (PublicStatus("n", "agus", "r")
              .apply("agus", "r", Program.PKH, EntryChange.ADDED, None, DEC)
              .apply("agus", "r", Program.PKH, EntryChange.REMOVED, RemovalReason.MOVED, JAN)
              .apply("agus", "r", Program.BPNT, EntryChange.ADDED, None, BPNT))
    assert [(s.program, s.status) for s in status.programs] == [(Program.BPNT, "active"), (Program.PKH, "inactive")]
