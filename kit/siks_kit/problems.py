"""RFC 9457 problem details for every error a service returns."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           409: "Conflict", 422: "Unprocessable content", 429: "Too many requests",
           500: "Internal server error", 503: "Service unavailable"}


class Problem(Exception):
    """Raise from a handler or route; becomes a problem+json response."""

    def __init__(self, status: int, detail: str, *, type_: str = "about:blank",
                 title: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.type, self.extra = status, detail, type_, extra
        self.title = title or _TITLES.get(status, "Error")


class NotFound(Problem):
    def __init__(self, what: str) -> None:
        super().__init__(404, f"{what} not found")


class Conflict(Problem):
    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(409, detail, **extra)


class Forbidden(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


def problem_response(status: int, detail: str, request: Request, *, type_: str = "about:blank",
                     title: str | None = None, headers: dict[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    body = {"type": type_, "title": title or _TITLES.get(status, "Error"), "status": status,
            "detail": detail, "instance": request.url.path, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echo where and why, never the rejected value: it may be a NIK or a name.
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request, type_=exc.type, title=exc.title, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "the request does not match the schema", request,
                                errors=_field_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), request, headers=getattr(exc, "headers", None))

    @app.exception_handler(ConnectionFailure)
    async def _database_away(request: Request, exc: ConnectionFailure) -> JSONResponse:
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(503, "the database cannot be reached; the request was not completed. "
                                     "Try again shortly: repeating it is safe", request, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error occurred; it has been logged", request)
