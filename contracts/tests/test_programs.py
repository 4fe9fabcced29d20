from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from siks_contracts.enums import Program
from siks_contracts.programs import DEFAULT_PROGRAM_RULES as RULES, ProgramRule, ProgramRules

ON = date(2026, 12, 16)


@pytest.mark.parametrize("program, desil, allowed, tier", [
    (Program.PKH, 4, True, 1), (Program.PKH, 5, False, None),
    (Program.BPNT, 5, True, 1), (Program.PBI_JK, 6, False, None),
    (Program.BLT_DD, 1, True, 1), (Program.BLT_DD, 3, True, 2), (Program.BLT_DD, 5, False, None),
])
def test_desil_rules(program, desil, allowed, tier):
    verdict = RULES.for_program(program).judge(desil, [], ON)
    assert (verdict.allowed, verdict.tier) == (allowed, tier)
    assert verdict.rule.startswith(("PKH", "BPNT", "PBI", "BLT"))


def test_a_programme_with_a_desil_rule_refuses_a_household_without_one():
    verdict = RULES.for_program(Program.PKH).judge(None, [], ON)
    assert not verdict.allowed and "no desil" in verdict.detail


def test_pip_needs_a_member_aged_6_to_21_on_the_day():
    pip = RULES.for_program(Program.PIP)
    assert pip.judge(None, [date(1980, 1, 1), date(2010, 12, 17)], ON).allowed  # 15
    assert not pip.judge(None, [date(1980, 1, 1), date(2020, 12, 17)], ON).allowed  # 5
    assert pip.judge(None, [date(2005, 12, 16)], ON).allowed  # 21 on the day
    assert not pip.judge(None, [date(2004, 12, 15)], ON).allowed  # 22 since yesterday


def test_the_rules_file_under_deploy_is_the_default():
    path = Path(__file__).resolve().parents[2] / "deploy" / "rules" / "programs.json"
    assert ProgramRules.model_validate_json(path.read_text()) == RULES


def test_rules_refuse_nonsense():
    with pytest.raises(ValidationError):
        ProgramRule(program=Program.PKH, name="x", desil_tiers=[[1, 11]])
    with pytest.raises(ValidationError):
        ProgramRules(rules=[ProgramRule(program=Program.PKH, name="a"), ProgramRule(program=Program.PKH, name="b")])
