"""DTSEN (Data Tunggal Sosial dan Ekonomi Nasional, BPS) adapter: a person's desil, if known.
Slow and sometimes failing like every outside system."""

from typing import Protocol

from .resilient import OutsideSystem, OutsideUnavailable


class Dtsen(Protocol):
    async def desils(self, niks: list[str]) -> list[int | None]:
        """Each person's desil (1 poorest .. 10), None for one DTSEN does not know; one request
        for a household. Raises OutsideUnavailable."""


class HttpDtsen:
    def __init__(self, system: OutsideSystem) -> None:
        self._system = system

    async def desils(self, niks: list[str]) -> list[int | None]:
        # One POST per household, the NIKs in the body: fewer calls, and no NIK in a URL.
        resp = await self._system.request("POST", "/dtsen/v1/desil", json={"niks": niks})
        try:
            by_nik = {r["nik"]: (int(r["desil"]) if r["found"] else None) for r in resp.json()["results"]}
            values = [by_nik[nik] for nik in niks]
        except (ValueError, KeyError, TypeError):
            raise OutsideUnavailable("dtsen", "answer not understood") from None
        if any(v is not None and not 1 <= v <= 10 for v in values):
            raise OutsideUnavailable("dtsen", "desil out of range")
        return values
