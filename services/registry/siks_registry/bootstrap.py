"""The one place that picks concrete adapters; tests pass fakes in."""

from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from siks_kit.runtime.clock import Clock
from siks_kit.web.batch import BatchAdmission, TimingSingles
from siks_kit.web.problems import problem_response
from siks_kit.runtime.schedule import load_calendar
from siks_kit.runtime.service import create_service_app
from siks_kit.store.documents import Database
from siks_kit.bus.transport import Transport

from .api.routes import router
from .config import Settings
from .domain.refusals import Refused
from .handlers import RegistryDeps, problem_of
from .messaging import SPEC, subscriptions


def build_app(settings: Settings | None = None, *, database: Database | None = None,
              transport: Transport | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    calendar = load_calendar(settings.schedule_file)
    lease = timedelta(seconds=settings.claim_lease_seconds)
    admission = BatchAdmission(settings.batch_items_per_second, single_p90_ms=settings.batch_single_p90_ms)
    app = create_service_app(
        SPEC, settings, routers=[router],
        make_deps=lambda db, clk, _s: RegistryDeps.build(db, clk, calendar, lease, admission),
        make_handlers=subscriptions, database=database, transport=transport, clock=clock,
    )
    if admission.yields:  # uploads follow the single requests' latency
        app.add_middleware(TimingSingles, admission=admission)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        problem = problem_of(exc)
        return problem_response(problem.status, problem.detail, request, **problem.extra)

    return app
