"""DTSEN (Data Tunggal Sosial dan Ekonomi Nasional, BPS) adapter: a person's desil, if known.
Slow and sometimes failing like every outside system."""

from typing import Protocol

from .resilient import OutsideSystem, OutsideUnavailable

PER_REQUEST = 1000  # NIKs in one request


class Dtsen(Protocol):
    async def desils(self, niks: list[str]) -> list[int | None]:
        """Each person's desil (1 poorest .. 10), None for one DTSEN does not know. Raises
        OutsideUnavailable."""


class HttpDtsen:
    def __init__(self, system: OutsideSystem) -> None:
        self._system = system

    async def desils(self, niks: list[str]) -> list[int | None]:
        # One POST per thousand people (a household, or a batch of them), the NIKs in the
        # body: fewer calls, and no NIK in a URL.
        values: list[int | None] = []
        for start in range(0, len(niks), PER_REQUEST):
            chunk = niks[start:start + PER_REQUEST]
            resp = await self._system.request("POST", "/dtsen/v1/desil", json={"niks": chunk})
            try:
                by_nik = {r["nik"]: (int(r["desil"]) if r["found"] else None) for r in resp.json()["results"]}
                values += [by_nik[nik] for nik in chunk]
            except (ValueError, KeyError, TypeError):
                raise OutsideUnavailable("dtsen", "answer not understood") from None
        if any(v is not None and not 1 <= v <= 10 for v in values):
            raise OutsideUnavailable("dtsen", "desil out of range")
        return values
