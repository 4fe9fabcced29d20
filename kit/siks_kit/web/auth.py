"""Bearer JWTs with claims sub, role, region, iss, aud, iat, exp; FastAPI dependencies that
enforce role and scope.

A token is accepted only when it is signed with the service's key, names the expected issuer
and audience, has not expired, lives no longer than the maximum lifetime, and its role and
region fit together (ROLE_REGION_LEVELS): an operator holds exactly one village, a supervisor
or regent one regency/city, a validator a regency/city or a province, national roles none.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_contracts.regions import InvalidRegion, normalize_region_code, region_level

from siks_kit.web.problems import Forbidden, Unauthorized

ALGORITHM = "HS256"
ISSUER = "siks-ng"
AUDIENCE = "siks-ng-api"
MAX_TTL = timedelta(hours=12)
DEFAULT_TTL = timedelta(hours=8)
LEEWAY = timedelta(seconds=30)  # clock skew between the issuer and a service

# Region levels each role may hold (1 province, 2 regency/city, 4 village); () means national.
ROLE_REGION_LEVELS: dict[Role, tuple[int, ...]] = {
    Role.OPERATOR_DESA: (4,),
    Role.SUPERVISOR_KABKOTA: (2,),
    Role.KEPALA_DAERAH: (2,),
    Role.VALIDATOR_BPS: (2, 1),
    Role.MENSOS: (),
    Role.AUDITOR: (),
}
_LEVEL_SHAPES = {1: "a province (PP)", 2: "a regency/city (PP.KK)", 4: "a village (PP.KK.CC.DDDD)"}

__all__ = ["Unauthorized", "TokenPolicy", "issue_token", "actor_from_token", "current_actor", "CurrentActor",
           "require_role", "require_scope", "fit_region", "ROLE_REGION_LEVELS"]


class Misfit(ValueError):
    """A role and region that do not belong together, or a role no person holds."""


def fit_region(role: Role | str, region: str | None) -> str | None:
    """The region in dotted form when it fits the role, else Misfit saying why."""
    try:
        role = Role(role)
    except ValueError:
        raise Misfit(f"unknown role {str(role)[:40]!r}") from None
    levels = ROLE_REGION_LEVELS.get(role)
    if levels is None:
        raise Misfit(f"role {role} is not held by a person and takes no token")
    if not levels:
        if region:
            raise Misfit(f"role {role} is national and takes no region")
        return None
    wanted = " or ".join(_LEVEL_SHAPES[level] for level in levels)
    if not region:
        raise Misfit(f"role {role} needs a region: {wanted}")
    try:
        normal = normalize_region_code(region)
    except InvalidRegion as exc:
        raise Misfit(str(exc)) from None
    if region_level(normal) not in levels:
        raise Misfit(f"role {role} holds {wanted}, not {normal}")
    return normal


@dataclass(frozen=True)
class TokenPolicy:
    """What a service accepts; kept on app.state.token_policy."""

    secret: str
    issuer: str = ISSUER
    audience: str = AUDIENCE
    max_ttl: timedelta = MAX_TTL


def issue_token(secret: str, *, sub: str, role: Role, region: str | None,
                ttl: timedelta = DEFAULT_TTL, now: datetime | None = None,
                issuer: str = ISSUER, audience: str = AUDIENCE, max_ttl: timedelta = MAX_TTL) -> str:
    """A signed token; ValueError (Misfit) when the role and region do not fit or ttl is out of range."""
    normal = fit_region(role, region)
    if not sub or not sub.strip():
        raise Misfit("a token needs a subject (sub)")
    if ttl <= timedelta(0) or ttl > max_ttl:
        raise Misfit(f"ttl must be between 1 s and {int(max_ttl.total_seconds())} s")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims: dict[str, object] = {"sub": sub, "role": str(Role(role)), "iss": issuer, "aud": audience,
                                 "iat": issued, "exp": issued + ttl}
    if normal is not None:
        claims["region"] = normal
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def actor_from_token(token: str, secret_or_policy: str | TokenPolicy) -> Actor:
    policy = secret_or_policy if isinstance(secret_or_policy, TokenPolicy) else TokenPolicy(secret_or_policy)
    try:
        claims = jwt.decode(token, policy.secret, algorithms=[ALGORITHM], issuer=policy.issuer,
                            audience=policy.audience, leeway=LEEWAY,
                            options={"require": ["sub", "role", "iss", "aud", "iat", "exp"]})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise Unauthorized("invalid token: iat and exp must be numbers")
    if exp - iat > policy.max_ttl.total_seconds():
        raise Unauthorized(f"invalid token: it lives longer than {int(policy.max_ttl.total_seconds())} s")
    sub, role, region = claims["sub"], claims["role"], claims.get("region")
    if not isinstance(sub, str) or not sub.strip() or not isinstance(role, str) \
            or not (region is None or isinstance(region, str)):
        raise Unauthorized("invalid token: sub, role and region must be text")
    try:
        normal = fit_region(role, region)
    except Misfit as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    return Actor(sub=sub, role=Role(role), region=normal)


# auto_error=False: a missing or malformed header is our own 401 problem, not FastAPI's 403.
bearer = HTTPBearer(auto_error=False, scheme_name="bearer", bearerFormat="JWT",
                    description="`.venv/bin/siks token --role ROLE [--region CODE]` prints one for development")


async def current_actor(request: Request,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Actor:
    if credentials is None:
        raise Unauthorized("a bearer token is required")
    policy = getattr(request.app.state, "token_policy", None) or TokenPolicy(request.app.state.signing_secret)
    return actor_from_token(credentials.credentials, policy)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = ", ".join(str(r) for r in roles)
        raise Forbidden(f"role {actor.role} may not do this; allowed: {allowed}")


def require_scope(actor: Actor, region_code: str) -> None:
    if not actor.covers(region_code):
        # Never name the other region: a refusal tells nothing about what lies outside the caller's area.
        raise Forbidden(f"this lies outside your area ({actor.region})")
