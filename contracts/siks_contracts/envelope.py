"""The JSON envelope every event travels in (DESIGN.md section 5).

Key on Kafka = aggregate id, so events of one aggregate stay in order. The W3C trace context
rides in the Kafka headers; a copy sits in the envelope so it survives tools that drop headers.
"""

from datetime import datetime
from typing import Any
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .actor import Actor


class TraceContext(BaseModel):
    traceparent: str
    tracestate: str | None = None


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str = Field(default_factory=lambda: str(uuid4()))
    type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+\.v[0-9]+$", examples=["registry.proposal_submitted.v1"])
    occurred_at: AwareDatetime
    producer: str
    correlation_id: str
    causation_id: str | None = None
    actor: Actor
    region_code: str | None = None
    trace: TraceContext | None = None
    payload: dict[str, Any]

    @property
    def version(self) -> int:
        return int(self.type.rsplit(".v", 1)[1])


def new_envelope(
    *,
    payload: BaseModel,
    occurred_at: datetime,
    producer: str,
    actor: Actor,
    region_code: str | None,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    event_id: str | None = None,
) -> Envelope:
    """Builds an envelope; an event caused by another inherits its correlation id. Pass
    `event_id` when a re-publication must carry the same id (deterministic, deduplicated)."""
    from .events import type_of  # late: events imports this module

    event_id = event_id or str(uuid4())
    if causation is not None:
        correlation_id = causation.correlation_id
    return Envelope(
        event_id=event_id,
        type=type_of(type(payload)),
        occurred_at=occurred_at,
        producer=producer,
        correlation_id=correlation_id or event_id,
        causation_id=causation.event_id if causation else None,
        actor=actor,
        region_code=region_code,
        payload=payload.model_dump(mode="json"),
    )
