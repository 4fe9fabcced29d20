"""One log line and one metric observation per HTTP request: method, path (the route's
template in the metric), status and time. A plain ASGI middleware: Starlette's
BaseHTTPMiddleware (what `@app.middleware("http")` makes) runs each request through an extra
task and memory streams, which costs every request CPU for a log line."""

import logging
import time
from typing import Any

from siks_kit.observability.metrics import HTTP_DURATION

access = logging.getLogger("siks.access")


class AccessLog:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500  # 500 if the app fails before answering

        async def noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            took = time.perf_counter() - started
            # The path only: query strings carry NIKs and names (Cek Bansos).
            access.info("%s %s %s %.1fms", scope["method"], scope["path"], status, took * 1000)
            # By the route's template: a path holds ids, and every id would be a new series.
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            HTTP_DURATION.labels(route, scope["method"], str(status)).observe(took)
