"""Programme rules as data (Kepmensos 79/HUK/2025): which welfare ranks (desil) and which
members a programme takes. A deployment reads its own file (deploy/rules/programs.json) into
`ProgramRules`; this module only reasons about it, with no I/O.

Every answer names the rule it applied, so a refusal can say which one was broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field, model_validator

from .enums import Program


class AgeRange(BaseModel):
    min_years: int = Field(ge=0, le=120)
    max_years: int = Field(ge=0, le=120)  # inclusive

    @model_validator(mode="after")
    def _ordered(self) -> "AgeRange":
        if self.max_years < self.min_years:
            raise ValueError("max_years must not be below min_years")
        return self

    def holds(self, birth_date: date, on: date) -> bool:
        return self.min_years <= age_on(birth_date, on) <= self.max_years


@dataclass(frozen=True)
class RuleVerdict:
    allowed: bool
    rule: str  # the rule, as a reader would quote it
    detail: str = ""
    tier: int | None = None  # 1 = served first


class ProgramRule(BaseModel):
    program: Program
    name: str = Field(description="the rule as quoted in refusals, e.g. 'PKH: desil 1-4'")
    # Allowed desil in priority order: BLT Dana Desa takes desil 1 first, then 2-4 ([[1], [2, 3, 4]]).
    # Empty: the programme has no desil rule.
    desil_tiers: list[list[int]] = Field(default_factory=list)
    # Some member must be this old on the decision day (PIP: school-age children, 6-21).
    member_age: AgeRange | None = None

    @model_validator(mode="after")
    def _ranks(self) -> "ProgramRule":
        flat = [d for tier in self.desil_tiers for d in tier]
        if any(not 1 <= d <= 10 for d in flat) or len(flat) != len(set(flat)):
            raise ValueError("desil tiers hold distinct ranks 1-10")
        return self

    def judge_desil(self, desil: int | None) -> RuleVerdict:
        if not self.desil_tiers:
            return RuleVerdict(True, self.name)
        if desil is None:
            return RuleVerdict(False, self.name, "the household has no desil yet (DTSEN did not answer, "
                                                 "and the validator gave none)")
        for tier, ranks in enumerate(self.desil_tiers, start=1):
            if desil in ranks:
                return RuleVerdict(True, self.name, tier=tier)
        return RuleVerdict(False, self.name, f"the household is in desil {desil}")

    def judge_members(self, birth_dates: list[date], on: date) -> RuleVerdict:
        if self.member_age is None:
            return RuleVerdict(True, self.name)
        if any(self.member_age.holds(b, on) for b in birth_dates):
            return RuleVerdict(True, self.name)
        return RuleVerdict(False, self.name, f"no member is aged {self.member_age.min_years}-"
                                             f"{self.member_age.max_years} on {on.isoformat()}")

    def judge(self, desil: int | None, birth_dates: list[date], on: date) -> RuleVerdict:
        """Desil first, then members; the first broken part is the answer."""
        by_desil = self.judge_desil(desil)
        if not by_desil.allowed:
            return by_desil
        by_members = self.judge_members(birth_dates, on)
        return by_members if not by_members.allowed else by_desil


class ProgramRules(BaseModel):
    rules: list[ProgramRule]

    @model_validator(mode="after")
    def _one_each(self) -> "ProgramRules":
        programs = [r.program for r in self.rules]
        if len(programs) != len(set(programs)):
            raise ValueError("one rule per programme")
        return self

    def for_program(self, program: Program) -> ProgramRule:
        """The programme's rule; a programme the file does not name has none (always allowed)."""
        found = next((r for r in self.rules if r.program == program), None)
        return found or ProgramRule(program=program, name=f"{program}: no programme rule")


def age_on(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


DEFAULT_PROGRAM_RULES = ProgramRules(rules=[
    ProgramRule(program=Program.PKH, name="PKH: desil 1-4", desil_tiers=[[1, 2, 3, 4]]),
    ProgramRule(program=Program.BPNT, name="BPNT/Sembako: desil 1-5", desil_tiers=[[1, 2, 3, 4, 5]]),
    ProgramRule(program=Program.PBI_JK, name="PBI JK: desil 1-5", desil_tiers=[[1, 2, 3, 4, 5]]),
    ProgramRule(program=Program.BLT_DD, name="BLT Dana Desa: desil 1 first, then 2-4",
                desil_tiers=[[1], [2, 3, 4]]),
    ProgramRule(program=Program.PIP, name="PIP: a member aged 6-21",
                member_age=AgeRange(min_years=6, max_years=21)),
])
