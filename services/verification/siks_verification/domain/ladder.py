"""The ladder a case climbs (Permensos 3/2021), as one table: every transition of every
proposal kind is one row. `Case.act` (case.py) finds the row for the action and the case's
kind, and applies it: stage, roles, area, inputs, then guards, in that order.

| from                          | action   | to        | roles                   | kinds             | guards |
|-------------------------------|----------|-----------|-------------------------|-------------------|--------|
| (new)                         | open     | submitted | system (registry event) | all               | |
| returned                      | resubmit | submitted | system (registry event) | all               | newer_round |
| submitted                     | verify   | verified  | supervisor_kabkota      | all               | checks_passed |
| submitted, verified           | return   | returned  | supervisor, validator   | all               | |
| verified                      | validate | validated | validator_bps           | dtks_new, program | not_the_verifier, desil_override_reasoned, programme_rule |
| verified                      | validate | validated | validator_bps           | update            | not_the_verifier, desil_override_reasoned |
| submitted, verified, validated| reject   | rejected  | supervisor, validator   | all               | |
| validated                     | approve  | approved  | kepala_daerah           | dtks_new, program | not_the_validator, programme_rule, approval_dated, approval_deadline |
| validated                     | approve  | approved  | kepala_daerah           | update            | not_the_validator, approval_dated |
| verified                      | approve  | approved  | kepala_daerah           | ineligibility     | not_the_verifier, approval_dated, approval_deadline |
| approved                      | decree   | decreed   | system (decree event)   | dtks_new, program, ineligibility | decree_of_programme |

An ineligibility report climbs a shorter ladder (verify, approve: BPS has nothing to rank);
an update changes data without changing membership, so it ends at `approved`.
"""

from dataclasses import dataclass
from enum import StrEnum

from siks_contracts.enums import ProposalKind, Role, Stage


class Action(StrEnum):
    OPEN = "open"
    RESUBMIT = "resubmit"
    VERIFY = "verify"
    RETURN = "return"
    VALIDATE = "validate"
    REJECT = "reject"
    APPROVE = "approve"
    DECREE = "decree"


class Guard(StrEnum):
    """Conditions beyond stage, role and area; each is decided in case.py (GUARDS)."""

    NEWER_ROUND = "newer_round"
    CHECKS_PASSED = "checks_passed"
    NOT_THE_VERIFIER = "not_the_verifier"  # separation of duties
    NOT_THE_VALIDATOR = "not_the_validator"
    DESIL_OVERRIDE_REASONED = "desil_override_reasoned"
    PROGRAMME_RULE = "programme_rule"
    APPROVAL_DATED = "approval_dated"  # not after today
    APPROVAL_DEADLINE = "approval_deadline"
    DECREE_OF_PROGRAMME = "decree_of_programme"


class Area(StrEnum):
    """Whose region the actor's scope must cover."""

    NONE = "none"  # an event from the owning service, not a person
    CASE_REGION = "case_region"  # the case's village (a supervisor's regency covers it)


ADDS = frozenset({ProposalKind.DTKS_NEW, ProposalKind.PROGRAM})
UPDATES = frozenset({ProposalKind.UPDATE})
REMOVES = frozenset({ProposalKind.INELIGIBILITY})
ALL_KINDS = ADDS | UPDATES | REMOVES
PEOPLE_WHO_CHECK = frozenset({Role.SUPERVISOR_KABKOTA, Role.VALIDATOR_BPS})


@dataclass(frozen=True)
class Transition:
    from_stages: frozenset[Stage]  # empty: the case does not exist yet
    action: Action
    to: Stage
    roles: frozenset[Role]
    area: Area
    kinds: frozenset[ProposalKind]
    inputs: tuple[str, ...] = ()  # what the command must carry
    guards: tuple[Guard, ...] = ()


def _row(from_: set[Stage], action: Action, to: Stage, roles: set[Role], kinds: frozenset[ProposalKind],
         inputs: tuple[str, ...] = (), guards: tuple[Guard, ...] = ()) -> Transition:
    area = Area.NONE if roles == {Role.SYSTEM} else Area.CASE_REGION
    return Transition(frozenset(from_), action, to, frozenset(roles), area, kinds, inputs, guards)


S, A, G = Stage, Action, Guard
LADDER: tuple[Transition, ...] = (
    _row(set(), A.OPEN, S.SUBMITTED, {Role.SYSTEM}, ALL_KINDS, ("proposal",)),
    _row({S.RETURNED}, A.RESUBMIT, S.SUBMITTED, {Role.SYSTEM}, ALL_KINDS, ("proposal",), (G.NEWER_ROUND,)),
    _row({S.SUBMITTED}, A.VERIFY, S.VERIFIED, {Role.SUPERVISOR_KABKOTA}, ALL_KINDS, (), (G.CHECKS_PASSED,)),
    _row({S.SUBMITTED, S.VERIFIED}, A.RETURN, S.RETURNED, set(PEOPLE_WHO_CHECK), ALL_KINDS, ("reason_code",)),
    _row({S.VERIFIED}, A.VALIDATE, S.VALIDATED, {Role.VALIDATOR_BPS}, ADDS, (),
         (G.NOT_THE_VERIFIER, G.DESIL_OVERRIDE_REASONED, G.PROGRAMME_RULE)),
    _row({S.VERIFIED}, A.VALIDATE, S.VALIDATED, {Role.VALIDATOR_BPS}, UPDATES, (),
         (G.NOT_THE_VERIFIER, G.DESIL_OVERRIDE_REASONED)),
    _row({S.SUBMITTED, S.VERIFIED, S.VALIDATED}, A.REJECT, S.REJECTED, set(PEOPLE_WHO_CHECK), ALL_KINDS,
         ("reason_code",)),
    _row({S.VALIDATED}, A.APPROVE, S.APPROVED, {Role.KEPALA_DAERAH}, ADDS, ("reference",),
         (G.NOT_THE_VALIDATOR, G.PROGRAMME_RULE, G.APPROVAL_DATED, G.APPROVAL_DEADLINE)),
    _row({S.VALIDATED}, A.APPROVE, S.APPROVED, {Role.KEPALA_DAERAH}, UPDATES, ("reference",),
         (G.NOT_THE_VALIDATOR, G.APPROVAL_DATED)),
    _row({S.VERIFIED}, A.APPROVE, S.APPROVED, {Role.KEPALA_DAERAH}, REMOVES, ("reference",),
         (G.NOT_THE_VERIFIER, G.APPROVAL_DATED, G.APPROVAL_DEADLINE)),
    _row({S.APPROVED}, A.DECREE, S.DECREED, {Role.SYSTEM}, ADDS | REMOVES, ("decree",), (G.DECREE_OF_PROGRAMME,)),
)


def transition_for(action: Action, kind: ProposalKind) -> Transition | None:
    """The one row for this action on this kind's ladder, or None: the action is not on it."""
    return next((t for t in LADDER if t.action == action and kind in t.kinds), None)


def roles_for(action: Action) -> frozenset[Role]:
    """Every role that may take the action on some kind's ladder (to refuse others early)."""
    return frozenset(r for t in LADDER if t.action == action for r in t.roles)
