"""Why the registry says no: one exception type the handlers turn into problem details.

A refusal never carries personal data (a NIK, a name, a KK number) nor anything outside the
caller's area: members are named by position (`/members/2/sex`), another household never."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    pointer: str  # RFC 6901 into the request body, e.g. "/members/2/birth_date"
    detail: str


@dataclass
class Refused(Exception):
    status: int  # 409 for a conflict with the state, 422 for input that breaks a rule
    detail: str
    errors: tuple[FieldError, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


def conflict(detail: str, **extra: Any) -> Refused:
    return Refused(409, detail, extra=extra)


def invalid(detail: str, errors: list[FieldError] | tuple[FieldError, ...] = ()) -> Refused:
    return Refused(422, detail, tuple(errors))
