"""RFC 9457 problem details for every error a service returns.

Each kind of error has a `type` URI, `https://siks.example/problems/<slug>` (PROBLEM below;
the table in docs/problems.md). Raise `Problem` or one of its subclasses from a handler or a
route; the handlers installed here turn it into `application/problem+json`. A problem about a
field carries `errors: [{pointer, detail}]`, the pointer an RFC 6901 JSON Pointer into the
request body (or, with `in` other than "body", into that part of the request).
"""

import logging
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://siks.example/problems/"


class PROBLEM(StrEnum):  # noqa: N801 - read as a namespace: PROBLEM.window_closed
    """The `type` of every problem a service returns; the value is the URI."""

    validation = PROBLEM_BASE + "validation"
    unauthorized = PROBLEM_BASE + "unauthorized"
    forbidden = PROBLEM_BASE + "forbidden"
    not_found = PROBLEM_BASE + "not-found"
    conflict = PROBLEM_BASE + "conflict"
    stale_version = PROBLEM_BASE + "stale-version"
    window_closed = PROBLEM_BASE + "window-closed"
    deadline_passed = PROBLEM_BASE + "deadline-passed"
    programme_rule = PROBLEM_BASE + "programme-rule"
    separation_of_duties = PROBLEM_BASE + "separation-of-duties"
    nik_taken = PROBLEM_BASE + "nik-taken"
    in_progress = PROBLEM_BASE + "in-progress"
    body_too_large = PROBLEM_BASE + "body-too-large"
    idempotency_key_reused = PROBLEM_BASE + "idempotency-key-reused"
    rate_limited = PROBLEM_BASE + "rate-limited"
    database_unavailable = PROBLEM_BASE + "database-unavailable"
    unavailable = PROBLEM_BASE + "unavailable"
    internal = PROBLEM_BASE + "internal"

    @property
    def slug(self) -> str:
        return self.value.removeprefix(PROBLEM_BASE)


# (status, title) per type: the title is the same for every occurrence of a type (RFC 9457 3.1.3).
PROBLEM_INFO: dict[PROBLEM, tuple[int, str]] = {
    PROBLEM.validation: (422, "Unprocessable content"),
    PROBLEM.idempotency_key_reused: (422, "Idempotency key reused"),
    PROBLEM.unauthorized: (401, "Unauthorized"),
    PROBLEM.forbidden: (403, "Forbidden"),
    PROBLEM.not_found: (404, "Not found"),
    PROBLEM.conflict: (409, "Conflict"),
    PROBLEM.stale_version: (409, "Stale version"),
    PROBLEM.window_closed: (409, "Proposal window closed"),
    PROBLEM.deadline_passed: (409, "Deadline passed"),
    PROBLEM.programme_rule: (409, "Programme rule not met"),
    PROBLEM.separation_of_duties: (409, "Separation of duties"),
    PROBLEM.nik_taken: (409, "NIK already registered"),
    PROBLEM.in_progress: (409, "Earlier attempt under way"),
    PROBLEM.body_too_large: (413, "Request body too large"),
    PROBLEM.rate_limited: (429, "Too many requests"),
    PROBLEM.database_unavailable: (503, "Database unavailable"),
    PROBLEM.unavailable: (503, "Service unavailable"),
    PROBLEM.internal: (500, "Internal server error"),
}
# The type a bare status gets when the raiser named none; other statuses are "about:blank".
DEFAULT_TYPE: dict[int, PROBLEM] = {422: PROBLEM.validation, 401: PROBLEM.unauthorized, 403: PROBLEM.forbidden,
                                    404: PROBLEM.not_found, 409: PROBLEM.conflict, 413: PROBLEM.body_too_large,
                                    429: PROBLEM.rate_limited, 500: PROBLEM.internal, 503: PROBLEM.unavailable}
_STATUS_TITLES = {400: "Bad request", 405: "Method not allowed", 406: "Not acceptable",
                  415: "Unsupported media type"}


def type_and_title(status: int, type_: str | None = None, title: str | None = None) -> tuple[str, str]:
    kind = type_ if type_ is not None else DEFAULT_TYPE.get(status, "about:blank")
    if title is None:
        known = PROBLEM_INFO.get(kind)  # type: ignore[call-overload]  # a PROBLEM value is its URI
        title = known[1] if known else _STATUS_TITLES.get(status, "Error")
    return str(kind), title


# ------------------------------------------------------------------ field errors (RFC 6901)


def pointer(*parts: str | int) -> str:
    """('members', 2, 'nik') -> '/members/2/nik'; '~' and '/' inside a part are escaped."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def field_error(parts: Sequence[str | int], detail: str, *, in_: str = "body") -> dict[str, Any]:
    return {"pointer": pointer(*parts), "detail": detail, "in": in_}


def errors_from_loc(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors -> [{pointer, detail, in}]. A loc of ["body", "members", 2, "nik"]
    points at "/members/2/nik" in the body; ["query", "nik"] at "/nik" in the query. Only where
    and why: never the rejected value, which may be a NIK or a name."""
    out = []
    for e in errors:
        loc = list(e.get("loc", ()))
        where = loc[0] if loc and loc[0] in _LOCATIONS else "body"
        parts = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        entry = field_error(parts, e.get("msg", ""), in_=where)
        entry["loc"] = loc  # transitional: the pre-pointer shape, until every caller reads `pointer`
        out.append(entry)
    return out


# ------------------------------------------------------------------ the schema of a problem


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow")

    pointer: str = Field(description="RFC 6901 JSON Pointer to the field at fault, e.g. /members/2/nik")
    detail: str
    in_: str = Field(default="body", alias="in", description="body, query, path, header or cookie")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; more members may follow, depending on the type."""

    model_config = ConfigDict(extra="allow", title="ProblemDetails")

    type: str = Field(description="URI of the kind of problem; see docs/problems.md")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


# ------------------------------------------------------------------ exceptions


class Problem(Exception):
    """Raise from a handler or route; becomes a problem+json response."""

    default_type: str | None = None

    def __init__(self, status: int, detail: str, *, type_: str | None = None, title: str | None = None,
                 errors: Sequence[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra, self.headers = status, detail, extra, headers
        self.type, self.title = type_and_title(status, type_ or self.default_type, title)
        if errors is not None:
            self.extra["errors"] = list(errors)


class Invalid(Problem):
    """422: the input breaks a rule; `errors` says which fields, by pointer."""

    def __init__(self, detail: str, *, errors: Sequence[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(422, detail, type_=PROBLEM.validation, errors=errors, **extra)


class Unauthorized(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, type_=PROBLEM.unauthorized, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail, type_=PROBLEM.forbidden)


class NotFound(Problem):
    def __init__(self, what: str) -> None:
        super().__init__(404, f"{what} not found", type_=PROBLEM.not_found)


class Conflict(Problem):
    """409; `type_` names the kind (PROBLEM.window_closed, ...), or use a subclass below."""

    def __init__(self, detail: str, *, type_: str | None = None, **extra: Any) -> None:
        super().__init__(409, detail, type_=type_ or self.default_type or PROBLEM.conflict, **extra)


class StaleVersion(Conflict):
    default_type = PROBLEM.stale_version


class WindowClosed(Conflict):
    default_type = PROBLEM.window_closed


class DeadlinePassed(Conflict):
    default_type = PROBLEM.deadline_passed


class ProgrammeRuleBroken(Conflict):
    default_type = PROBLEM.programme_rule


class SeparationOfDuties(Conflict):
    default_type = PROBLEM.separation_of_duties


class NikTaken(Conflict):
    default_type = PROBLEM.nik_taken


class InProgress(Conflict):
    """An earlier attempt at the same item (same id) may still finish: repeat shortly."""

    default_type = PROBLEM.in_progress


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes", type_=PROBLEM.body_too_large,
                         max_bytes=limit)


# ------------------------------------------------------------------ responses


def problem_body(status: int, detail: str, instance: str | None, *, type_: str | None = None,
                 title: str | None = None, **extra: Any) -> dict[str, Any]:
    kind, title = type_and_title(status, type_, title)
    return {"type": kind, "title": title, "status": status, "detail": detail, "instance": instance, **extra}


def problem_response(status: int, detail: str, request: Request, *, type_: str | None = None,
                     title: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = problem_body(status, detail, request.url.path, type_=type_, title=title, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these problems, as application/problem+json
    with the ProblemDetails schema: `@router.post(..., responses=problem_responses(404, 409))`."""
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        kinds = sorted(k.slug for k, (s, _) in PROBLEM_INFO.items() if s == status)
        _, title = type_and_title(status)
        description = title + (f" ({', '.join(kinds)})" if kinds else "")
        out[status] = {"description": description, "content": {PROBLEM_JSON: {"schema": ref}}}
    return out


def install_problem_handlers(app: FastAPI, unreachable: tuple[type[BaseException], ...] = ()) -> None:
    """`unreachable`: the store's exceptions for a database that is away (503 with Retry-After)."""
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request, type_=exc.type, title=exc.title,
                                headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "the request does not match the schema", request, type_=PROBLEM.validation,
                                errors=errors_from_loc(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), request, headers=getattr(exc, "headers", None))

    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(503, "the database cannot be reached; the request was not completed. "
                                     "Try again shortly: repeating it is safe", request,
                                type_=PROBLEM.database_unavailable, headers={"Retry-After": "5"})

    for kind in unreachable:
        app.add_exception_handler(kind, _database_away)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error occurred; it has been logged", request,
                                type_=PROBLEM.internal)
