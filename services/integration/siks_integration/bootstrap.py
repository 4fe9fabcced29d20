"""The composition root: settings -> clients -> repositories -> handlers -> app, subscribers
and the retrier of pending checks. The one place that picks concrete adapters; tests pass
fakes in."""

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from siks_kit.runtime.breaker import CircuitBreaker
from siks_kit.runtime.clock import Clock
from siks_kit.runtime.service import create_service_app
from siks_kit.store.documents import Database
from siks_kit.bus.transport import Transport

from .api.routes import router
from .config import Settings
from .handlers import Backoff, IntegrationDeps
from .messaging import SPEC, subscriptions
from .outside.dtsen import Dtsen, HttpDtsen
from .outside.dukcapil import Dukcapil, HttpDukcapil
from .outside.resilient import OutsideSystem, RetryPolicy, is_outage
from .retrier import Retrier


def outside_system(name: str, settings: Settings) -> OutsideSystem:
    """One outside system: its own client (closed at shutdown) and its own breaker."""
    client = httpx.AsyncClient(base_url=settings.standins_url, timeout=settings.outside_timeout_seconds)
    HTTPXClientInstrumentor.instrument_client(client)  # the calls show in the trace (NIKs masked on export)
    breaker = CircuitBreaker(name, failure_threshold=settings.breaker_failures,
                             reset_timeout_s=settings.breaker_reset_seconds, wait_for_trial=True,
                             is_failure=is_outage)
    policy = RetryPolicy(settings.outside_attempts, settings.outside_backoff_initial_seconds,
                         settings.outside_backoff_max_seconds)
    return OutsideSystem(name, client, breaker, policy)


def build_app(settings: Settings | None = None, *, database: Database | None = None,
              transport: Transport | None = None, clock: Clock | None = None,
              dukcapil: Dukcapil | None = None, dtsen: Dtsen | None = None) -> FastAPI:
    settings = settings or Settings()
    retriers: list[Retrier] = []

    def make_deps(db: Database, clk: Clock, _s: Settings) -> IntegrationDeps:
        systems: list[OutsideSystem] = []
        if dukcapil is None:
            systems.append(outside_system("dukcapil", settings))
        if dtsen is None:
            systems.append(outside_system("dtsen", settings))
        by_name = {s.name: s for s in systems}
        deps = IntegrationDeps.build(
            db, clk, dukcapil or HttpDukcapil(by_name["dukcapil"]), dtsen or HttpDtsen(by_name["dtsen"]),
            Backoff(settings.retry_first_seconds, settings.retry_max_seconds))
        deps.closers = [s.client.aclose for s in systems]
        retrier = Retrier(deps, sweep_seconds=settings.retry_sweep_seconds)
        deps.on_pending = retrier.hint
        retriers.append(retrier)
        return deps

    async def background(_deps: IntegrationDeps) -> None:
        await retriers[-1].run()

    return create_service_app(SPEC, settings, routers=[router], make_deps=make_deps,
                              make_handlers=subscriptions, database=database, transport=transport, clock=clock,
                              background=background)
