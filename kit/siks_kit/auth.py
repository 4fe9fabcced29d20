"""Bearer JWTs with claims sub, role, region; FastAPI dependencies that enforce role and scope."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from siks_contracts.actor import NATIONAL_ROLES, Actor
from siks_contracts.enums import Role
from siks_contracts.regions import InvalidRegion, normalize_region_code

from .problems import Problem

ALGORITHM = "HS256"


def issue_token(secret: str, *, sub: str, role: Role, region: str | None,
                ttl: timedelta = timedelta(hours=8), now: datetime | None = None) -> str:
    if role not in NATIONAL_ROLES and not region:
        raise ValueError(f"role {role} needs a region")
    issued = now or datetime.now(UTC)
    claims = {"sub": sub, "role": str(role), "iat": issued, "exp": issued + ttl}
    if region and role not in NATIONAL_ROLES:
        claims["region"] = normalize_region_code(region)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class Unauthorized(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail)


def actor_from_token(token: str, secret: str) -> Actor:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
        region = claims.get("region")
        return Actor(sub=claims["sub"], role=Role(claims["role"]),
                     region=normalize_region_code(region) if region else None)
    except (jwt.PyJWTError, KeyError, ValueError, InvalidRegion) as exc:
        raise Unauthorized(f"invalid token: {exc}") from None


def current_actor(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required")
    return actor_from_token(token, request.app.state.signing_secret)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = ", ".join(str(r) for r in roles)
        raise Problem(403, f"role {actor.role} may not do this; allowed: {allowed}")


def require_scope(actor: Actor, region_code: str) -> None:
    if not actor.covers(region_code):
        raise Problem(403, f"region {region_code} is outside your scope ({actor.region})")
