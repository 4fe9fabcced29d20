"""JSON Schema of every message, for integrators (written to contracts/schemas by `siks schemas`)."""

from typing import Any

from .envelope import Envelope
from .events import EVENTS


def message_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema: the envelope plus one payload schema per event type."""
    out = {"envelope.json": Envelope.model_json_schema()}
    for event_type, (model, topic) in EVENTS.items():
        schema = model.model_json_schema()
        schema["x-event-type"] = event_type
        schema["x-topic"] = topic
        out[f"{event_type}.json"] = schema
    return out
