"""Runs a service under uvicorn with our logging (no access log: it would print query strings)."""

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from siks_kit.observability.logs import configure_logging
from siks_kit.runtime.settings import ConfigurationError, ServiceSettings


def serve(name: str, settings: ServiceSettings, build: Callable[[ServiceSettings], FastAPI]) -> None:
    configure_logging(settings.log_level, name)
    try:
        app = build(settings)
    except ConfigurationError as exc:
        raise SystemExit(f"{name} refuses to start: {exc}") from None
    app.state.freeze_after_start = True  # this process serves one app for its whole life
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                log_level=settings.log_level.lower(), access_log=False)
