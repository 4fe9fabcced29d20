"""The one place that picks concrete adapters; tests pass fakes in."""

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from fastapi import FastAPI
from siks_kit.clock import Clock
from siks_kit.service import create_service_app
from siks_kit.store import Database
from siks_kit.transport import Transport

from .api.routes import router
from .config import Settings
from .handlers import IntegrationDeps
from .messaging import SPEC, subscriptions
from .outside.dukcapil import Dukcapil, HttpDukcapil


def build_app(settings: Settings | None = None, *, database: Database | None = None,
              transport: Transport | None = None, clock: Clock | None = None,
              dukcapil: Dukcapil | None = None) -> FastAPI:
    settings = settings or Settings()

    def make_deps(db: Database, clk: Clock, _s: Settings) -> IntegrationDeps:
        if dukcapil is not None:
            return IntegrationDeps.build(db, clk, dukcapil)
        client = httpx.AsyncClient(base_url=settings.standins_url, timeout=settings.outside_timeout_seconds)
        HTTPXClientInstrumentor.instrument_client(client)  # the Dukcapil calls show in the trace
        return IntegrationDeps.build(db, clk, HttpDukcapil(client, attempts=settings.outside_attempts))

    return create_service_app(SPEC, settings, routers=[router], make_deps=make_deps,
                              make_handlers=subscriptions, database=database, transport=transport, clock=clock)
