"""DTSEN (Data Tunggal Sosial dan Ekonomi Nasional, BPS) adapter: a person's desil, if known.
Slow and sometimes failing like every outside system."""

from typing import Protocol

from .resilient import OutsideSystem, OutsideUnavailable


class Dtsen(Protocol):
    async def desil(self, nik: str) -> int | None:
        """The person's desil (1 poorest .. 10), None when DTSEN does not know them, or
        OutsideUnavailable."""


class HttpDtsen:
    def __init__(self, system: OutsideSystem) -> None:
        self._system = system

    async def desil(self, nik: str) -> int | None:
        resp = await self._system.request("GET", f"/dtsen/v1/desil/{nik}", answers=(404,))
        if resp.status_code == 404:
            return None
        try:
            value = int(resp.json()["desil"])
        except (ValueError, KeyError, TypeError):
            raise OutsideUnavailable("dtsen", "answer not understood") from None
        if not 1 <= value <= 10:
            raise OutsideUnavailable("dtsen", "desil out of range")
        return value
