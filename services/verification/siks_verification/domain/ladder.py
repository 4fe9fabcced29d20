"""The ladder a case climbs and who may move it (Permensos 3/2021)."""

from dataclasses import dataclass

from siks_contracts.enums import Role, Stage


class IllegalMove(Exception):
    pass


@dataclass(frozen=True)
class Move:
    name: str
    to: Stage
    from_stages: frozenset[Stage]
    roles: frozenset[Role]
    needs_reason: bool = False
    needs_passed_checks: bool = False


MOVES = {
    m.name: m
    for m in (
        Move("verify", Stage.VERIFIED, frozenset({Stage.SUBMITTED}), frozenset({Role.SUPERVISOR_KABKOTA}),
             needs_passed_checks=True),
        Move("return", Stage.RETURNED, frozenset({Stage.SUBMITTED, Stage.VERIFIED}),
             frozenset({Role.SUPERVISOR_KABKOTA, Role.VALIDATOR_BPS}), needs_reason=True),
        Move("validate", Stage.VALIDATED, frozenset({Stage.VERIFIED}), frozenset({Role.VALIDATOR_BPS})),
        Move("reject", Stage.REJECTED, frozenset({Stage.SUBMITTED, Stage.VERIFIED, Stage.VALIDATED}),
             frozenset({Role.SUPERVISOR_KABKOTA, Role.VALIDATOR_BPS}), needs_reason=True),
        Move("approve", Stage.APPROVED, frozenset({Stage.VALIDATED}), frozenset({Role.KEPALA_DAERAH})),
        Move("decree", Stage.DECREED, frozenset({Stage.APPROVED}), frozenset({Role.SYSTEM})),
    )
}


def check_move(move: Move, stage: Stage, checks_passed: bool | None) -> None:
    if stage not in move.from_stages:
        allowed = ", ".join(sorted(s.value for s in move.from_stages))
        raise IllegalMove(f"cannot {move.name} a case at stage {stage.value}; it must be at {allowed}")
    if move.needs_passed_checks and checks_passed is not True:
        state = "have not arrived yet" if checks_passed is None else "did not pass"
        raise IllegalMove(f"cannot {move.name}: the integration checks {state}")
