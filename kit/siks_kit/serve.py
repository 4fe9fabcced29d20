"""Runs a service under uvicorn with our logging (no access log: it would print query strings)."""

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from .logs import configure_logging
from .settings import ServiceSettings


def serve(name: str, settings: ServiceSettings, build: Callable[[ServiceSettings], FastAPI]) -> None:
    configure_logging(settings.log_level, name)
    app = build(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                log_level=settings.log_level.lower(), access_log=False)
