"""Builds the AsyncAPI 3 document of the topics a service publishes and consumes."""

from typing import Any

from .envelope import Envelope
from .events import DEPRECATED, EVENTS


def _message(event_type: str) -> dict[str, Any]:
    model, _ = EVENTS[event_type]
    envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
    envelope.pop("$defs", None)
    envelope["properties"]["payload"] = {"$ref": f"#/components/schemas/{model.__name__}"}
    envelope["properties"]["type"] = {"const": event_type}
    message: dict[str, Any] = {
        "name": event_type,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {"traceparent": {"type": "string", "description": "W3C trace context"}},
        },
        "payload": envelope,
    }
    if event_type in DEPRECATED:  # still read from old records (replays); no longer published
        message["description"] = (model.__doc__ or "").strip()
        message["x-deprecated"] = True
    return message


def asyncapi_document(service: str, version: str, publishes: list[str], consumes: list[str]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for action, types in (("send", publishes), ("receive", consumes)):
        for event_type in types:
            model, topic = EVENTS[event_type]
            full = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(full.pop("$defs", {}))
            schemas[model.__name__] = full
            for name, sub in Envelope.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items():
                schemas.setdefault(name, sub)
            channel_id = topic.replace(".", "_")
            message_id = event_type.replace(".", "_")
            channel = channels.setdefault(channel_id, {"address": topic, "messages": {}})
            channel["messages"][message_id] = _message(event_type)
            operations[f"{action}_{message_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": f"SIKS-NG {service}", "version": version,
                 "description": "Events are JSON envelopes keyed by aggregate id; trace context in headers."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }
