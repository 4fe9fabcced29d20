"""Dukcapil (civil registry) adapter: treats the far end as slow and sometimes failing."""

from datetime import date
from typing import Protocol

from ..domain.check_set import DukcapilAnswer
from .resilient import OutsideSystem, OutsideUnavailable

__all__ = ["Dukcapil", "DukcapilAnswer", "HttpDukcapil", "OutsideUnavailable"]


class Dukcapil(Protocol):
    async def verify(self, nik: str, name: str, birth_date: date) -> DukcapilAnswer:
        """One member's match, or OutsideUnavailable."""


class HttpDukcapil:
    def __init__(self, system: OutsideSystem) -> None:
        self._system = system

    async def verify(self, nik: str, name: str, birth_date: date) -> DukcapilAnswer:
        body = {"nik": nik, "name": name, "birth_date": birth_date.isoformat()}
        resp = await self._system.request("POST", "/dukcapil/v1/verify", json=body)
        try:
            data = resp.json()
            return DukcapilAnswer(bool(data["found"]), data.get("name_match"), data.get("birth_date_match"),
                                  data.get("alive"))
        except (ValueError, KeyError, TypeError):
            raise OutsideUnavailable("dukcapil", "answer not understood") from None
