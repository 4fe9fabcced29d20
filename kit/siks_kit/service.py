"""Assembles a service: FastAPI app, store, transport, outbox relay, consumer, tracing,
health and readiness, AsyncAPI. Each service's bootstrap calls `create_service_app` once,
choosing real adapters by default and fakes when a test passes them in."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from siks_contracts.asyncapi import asyncapi_document
from siks_contracts.events import topic_of

from . import kafka_access
from .clock import Clock, clock_from
from .consumer import Consumer, Handler
from .outbox import OutboxRelay
from .problems import install_problem_handlers, problem_response
from .settings import ServiceSettings
from .store import Database, MongoDatabase
from .tracing import instrument_fastapi, setup_tracing
from .transport import KafkaTransport, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    version: str
    description: str
    publishes: Sequence[str]  # event types
    consumes: Sequence[str]
    outbox_collections: Sequence[str]


class Deps(Protocol):
    async def prepare(self) -> None: ...  # indexes; idempotent


@dataclass
class Runtime:
    """What a running service holds; kept on app.state.runtime."""

    settings: ServiceSettings
    database: Database
    transport: Transport
    clock: Clock
    deps: Any
    relay: OutboxRelay
    consumer: Consumer


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    routers: Sequence[APIRouter],
    make_deps: Callable[[Database, Clock, ServiceSettings], Deps],
    make_handlers: Callable[[Any], dict[str, Handler]],
    database: Database | None = None,
    transport: Transport | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    provider = setup_tracing(spec.name)
    clock = clock or clock_from(settings.now, settings.now_anchor)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or MongoDatabase(settings.mongo_url, settings.mongo_db or f"siks_{spec.name}")
        bus = transport or KafkaTransport(kafka_access.from_settings(settings), spec.name, provider)
        deps = make_deps(db, clock, settings)
        relay = OutboxRelay([db.collection(n) for n in spec.outbox_collections], bus,
                            sweep_seconds=settings.outbox_sweep_seconds)
        db.on_write = relay.notify
        consumer = Consumer(spec.name, bus, make_handlers(deps))
        for topic in sorted({topic_of(t) for t in spec.consumes}):
            bus.subscribe(topic, spec.name, consumer.on_topic(topic))
        await deps.prepare()
        await bus.start()
        relay_task = asyncio.create_task(relay.run(), name=f"{spec.name}-outbox-relay")
        app.state.runtime = Runtime(settings, db, bus, clock, deps, relay, consumer)
        log.info("%s ready on port %s", spec.name, settings.port)
        try:
            yield
        finally:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
            await bus.stop()
            await db.close()

    app = FastAPI(title=f"SIKS-NG {spec.name}", version=spec.version, description=spec.description,
                  lifespan=lifespan)
    app.state.signing_secret = settings.signing_secret()
    install_problem_handlers(app)
    _install_access_log(app)
    _install_operational_routes(app, spec, clock)
    for router in routers:
        app.include_router(router)
    instrument_fastapi(app, provider)
    return app


def _install_access_log(app: FastAPI) -> None:
    access = logging.getLogger("siks.access")

    @app.middleware("http")
    async def log_request(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        # The path only: query strings carry NIKs and names (Cek Bansos).
        access.info("%s %s %s %.1fms", request.method, request.url.path, response.status_code,
                    (time.perf_counter() - started) * 1000)
        return response


def _install_operational_routes(app: FastAPI, spec: ServiceSpec, clock: Clock) -> None:
    document = asyncapi_document(spec.name, spec.version, list(spec.publishes), list(spec.consumes))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name, "now": clock.now().isoformat()}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = {"database": False, "kafka": False}
        if runtime is not None:
            with contextlib.suppress(Exception):
                checks["database"] = await asyncio.wait_for(runtime.database.ping(), 3)
            with contextlib.suppress(Exception):
                checks["kafka"] = await asyncio.wait_for(runtime.transport.ping(), 3)
        if all(checks.values()):
            return JSONResponse({"status": "ready", "service": spec.name, "checks": checks})
        return problem_response(503, "not ready: " + ", ".join(k for k, ok in checks.items() if not ok),
                                request, checks=checks)

    @app.get("/asyncapi.json", tags=["operations"])
    async def asyncapi() -> dict[str, Any]:
        return document


def deps_of(request: Request) -> Any:
    return request.app.state.runtime.deps


