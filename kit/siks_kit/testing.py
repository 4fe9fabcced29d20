"""Helpers for tests of any service: envelopes, and waiting on a condition with a deadline."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from siks_contracts.actor import Actor
from siks_contracts.enums import Role
from siks_contracts.envelope import Envelope, new_envelope

T = TypeVar("T")
OPERATOR = Actor(sub="op-1", role=Role.OPERATOR_DESA, region="32.04.05.2001")


def envelope(payload: BaseModel, *, actor: Actor = OPERATOR, producer: str = "test",
             region_code: str | None = "32.04.05.2001", at: datetime | None = None) -> Envelope:
    return new_envelope(payload=payload, occurred_at=at or datetime(2026, 12, 16, 2, tzinfo=UTC),
                        producer=producer, actor=actor, region_code=region_code)


def wait_for(probe: Callable[[], T], what: str, deadline_s: float = 10.0) -> T:
    """Polls a synchronous probe until it returns something truthy; fails after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        if result := probe():
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.01)


async def await_for(probe: Callable[[], Awaitable[Any]], what: str, deadline_s: float = 10.0) -> Any:
    end = time.monotonic() + deadline_s
    while True:
        if result := await probe():
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        await asyncio.sleep(0.01)
