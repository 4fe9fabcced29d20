"""Assembles a service: FastAPI app, store, transport, outbox relay, consumer, tracing,
health and readiness, AsyncAPI. Each service's bootstrap calls `create_service_app` once,
choosing real adapters by default and fakes when a test passes them in."""

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from siks_contracts.asyncapi import asyncapi_document
from siks_contracts.events import topic_of

from siks_kit.bus import kafka_access
from siks_kit.runtime.clock import Clock, clock_from
from siks_kit.bus.consumer import Batched, Consumer, Handler
from siks_kit.bus.outbox import OutboxRelay
from siks_kit.web.access_log import AccessLog
from siks_kit.web.auth import TokenPolicy
from siks_kit.web.bodylimit import BodyLimit
from siks_kit.web.problems import PROBLEM, FieldError, ProblemDetails, install_problem_handlers, problem_response, problem_responses
from siks_kit.runtime.settings import ServiceSettings
from siks_kit.store.documents import Database, MongoDatabase, UNREACHABLE, transient_database_error
from siks_kit.observability import metrics
from siks_kit.observability.tracing import instrument_fastapi, setup_tracing
from siks_kit.bus.transport import KafkaTransport, Transport

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
    # Optional: `async def close(self) -> None`, awaited at shutdown (clients the deps opened).


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



def freeze_what_start_built() -> None:
    """What a service built to start (modules, models, routes, the region list: over 100,000
    objects) lives as long as it does. Frozen, Python's collector no longer walks all of it at
    each full collection: 60 ms a time, a sixth of each service's CPU under bulk load. Only a
    served process does it (`serve`): tests build many apps in one process."""
    gc.collect()
    gc.freeze()

def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    routers: Sequence[APIRouter],
    make_deps: Callable[[Database, Clock, ServiceSettings], Deps],
    make_handlers: Callable[[Any], dict[str, Handler | Batched]],
    database: Database | None = None,
    transport: Transport | None = None,
    clock: Clock | None = None,
    background: Callable[[Any], Awaitable[None]] | None = None,
    publisher: Callable[[Any, Transport], Awaitable[None]] | None = None,
) -> FastAPI:
    """`background(deps)`, when given, runs as a task from start-up until shutdown cancels it;
    so does `publisher(deps, transport)`, for events a service sends besides its outbox."""
    provider = setup_tracing(spec.name)
    clock = clock or clock_from(settings.now, settings.now_anchor)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or MongoDatabase(settings.mongo_url, settings.mongo_db or f"siks_{spec.name}")
        bus = transport or KafkaTransport(kafka_access.from_settings(settings), spec.name)
        deps = make_deps(db, clock, settings)
        relay = OutboxRelay([db.collection(n) for n in spec.outbox_collections], bus,
                            sweep_seconds=settings.outbox_sweep_seconds)
        db.on_write, db.published = relay.notify, relay  # writes hand it entries; updates take what it sent
        consumer = Consumer(spec.name, bus, make_handlers(deps), transient=transient_database_error)
        for topic in sorted({topic_of(t) for t in spec.consumes}):
            bus.subscribe(topic, spec.name, consumer.on_topic(topic))
        await deps.prepare()
        await bus.start()
        relay_task = asyncio.create_task(relay.run(), name=f"{spec.name}-outbox-relay")
        tasks = [relay_task]
        if background is not None:
            tasks.append(asyncio.create_task(background(deps), name=f"{spec.name}-background"))
        if publisher is not None:
            tasks.append(asyncio.create_task(publisher(deps, bus), name=f"{spec.name}-publisher"))
        app.state.runtime = Runtime(settings, db, bus, clock, deps, relay, consumer)
        if getattr(app.state, "freeze_after_start", False):
            freeze_what_start_built()
        log.info("%s ready on port %s", spec.name, settings.port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await bus.stop()
            if (close := getattr(deps, "close", None)) is not None:
                await close()
            await db.close()

    settings.environment()  # refuses to start without a known SIKS_ENV (ConfigurationError says what to set)
    app = FastAPI(title=f"SIKS-NG {spec.name}", version=spec.version, description=spec.description,
                  lifespan=lifespan, generate_unique_id_function=operation_id)
    app.state.signing_secret = settings.signing_secret()
    app.state.token_policy = TokenPolicy(app.state.signing_secret, settings.jwt_issuer, settings.jwt_audience,
                                         timedelta(seconds=settings.token_max_ttl_seconds))
    install_problem_handlers(app, unreachable=UNREACHABLE)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)  # outside the body limit, so a 413 is logged too
    _install_operational_routes(app, spec, clock)
    for router in routers:
        app.include_router(router)
    _install_openapi(app)
    instrument_fastapi(app, provider)
    return app


# ------------------------------------------------------------------ OpenAPI


def operation_id(route: APIRoute) -> str:
    """Stable across runs and builds: "<first tag>_<function name>", e.g. "households_create_household"."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


# Problems any route can answer, added to every operation of the document: 413 (body limit) and
# 503 (database away) everywhere, 401 where a bearer token is needed, 422 where there is input.
COMMON_PROBLEMS = (413, 503)


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in (ProblemDetails, FieldError):
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
            schemas.update(definition.pop("$defs", {}))
            schemas[model.__name__] = definition
        for item in doc.get("paths", {}).values():
            for method, operation in item.items():
                if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                    continue
                responses = operation.setdefault("responses", {})
                wanted = list(COMMON_PROBLEMS)
                if operation.get("security"):
                    wanted.append(401)
                if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
                    wanted.append(422)
                for status, response in problem_responses(*wanted).items():
                    if str(status) == "422" or str(status) not in responses:
                        responses[str(status)] = response
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape, which we never send
            if unused in schemas and unused not in json.dumps(doc["paths"]):
                del schemas[unused]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


class Health(BaseModel):
    status: str
    service: str
    now: str


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, bool]


def _install_operational_routes(app: FastAPI, spec: ServiceSpec, clock: Clock) -> None:
    document = asyncapi_document(spec.name, spec.version, list(spec.publishes), list(spec.consumes))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Health:
        return Health(status="ok", service=spec.name, now=clock.now().isoformat())

    @app.get("/readyz", tags=["operations"], response_model=Readiness, responses=problem_responses(503))
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
                                request, type_=PROBLEM.unavailable, checks=checks)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse,
             responses={200: {"content": {metrics.CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
    async def prometheus_metrics() -> PlainTextResponse:
        """Prometheus text: HTTP, consumers, outbox, dead letters, outside systems."""
        return PlainTextResponse(metrics.render(), media_type=metrics.CONTENT_TYPE_LATEST)

    @app.get("/asyncapi.json", tags=["operations"])
    async def asyncapi() -> dict[str, Any]:
        """The AsyncAPI 3 document of the topics this service publishes and consumes."""
        return document


async def deps_of(request: Request) -> Any:
    return request.app.state.runtime.deps


