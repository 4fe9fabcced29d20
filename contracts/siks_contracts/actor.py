"""Who did something: the JWT claims as they travel in every event."""

from pydantic import BaseModel, ConfigDict

from .enums import Role
from .regions import in_scope

# Roles whose scope is the whole country whatever their token says.
NATIONAL_ROLES = frozenset({Role.MENSOS, Role.AUDITOR, Role.SYSTEM})


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True)

    sub: str
    role: Role
    region: str | None = None  # dotted Kemendagri code; None for national roles

    def covers(self, region_code: str) -> bool:
        """True when this actor's scope includes the region (a village, regency, ...)."""
        if self.role in NATIONAL_ROLES:
            return True
        return self.region is not None and in_scope(self.region, region_code)


def system_actor(service: str) -> Actor:
    return Actor(sub=f"service:{service}", role=Role.SYSTEM)
