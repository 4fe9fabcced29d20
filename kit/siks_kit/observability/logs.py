"""Logging set-up: JSON lines (one object per record) with the trace and span ids of the
span the record was written in, 16-digit numbers masked whatever the caller wrote, tracebacks
included (an exception's message may quote the input it choked on, so it is masked too).
`SIKS_LOG_FORMAT=text` gives one plain line per record instead, for a person at a terminal."""

import json
import logging
import os
from datetime import UTC, datetime

from opentelemetry import trace

from siks_kit.observability.redaction import mask_digits


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_digits(super().format(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        # What a caller wrote (the message, an exception's text) is masked; the ids are not:
        # a span id is 16 hex digits, and about one in 2,000 has only decimal ones.
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "service": self._service, "logger": mask_digits(record.name),
                "message": mask_digits(record.getMessage())}
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"], line["span_id"] = f"{context.trace_id:032x}", f"{context.span_id:016x}"
        if record.exc_info:
            line["exception"] = mask_digits(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, service: str, fmt: str | None = None) -> None:
    handler = logging.StreamHandler()
    if (fmt or os.environ.get("SIKS_LOG_FORMAT", "json")) == "text":
        handler.setFormatter(MaskingFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "pymongo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
