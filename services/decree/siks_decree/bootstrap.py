"""The one place that picks concrete adapters; tests pass fakes in."""

from fastapi import FastAPI
from siks_kit.runtime.clock import Clock
from siks_kit.web.ratelimit import RateLimit
from siks_kit.runtime.service import create_service_app
from siks_kit.store.documents import Database
from siks_kit.bus.transport import Transport

from .api.routes import router
from .config import Settings
from .handlers import DecreeDeps, run_publisher
from .messaging import SPEC, subscriptions


def build_app(settings: Settings | None = None, *, database: Database | None = None,
              transport: Transport | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        SPEC, settings, routers=[router],
        make_deps=lambda db, clk, _s: DecreeDeps.build(db, clk),
        make_handlers=subscriptions, database=database, transport=transport, clock=clock,
        publisher=run_publisher,
    )
    app.state.public_rate_limit = RateLimit(settings.public_requests_per_minute)
    return app
