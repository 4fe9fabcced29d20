"""Dukcapil (civil registry) adapter: treats the far end as slow and sometimes failing."""

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from ..domain.check_set import DukcapilAnswer
from .resilient import OutsideSystem, OutsideUnavailable

__all__ = ["Dukcapil", "DukcapilAnswer", "HttpDukcapil", "OutsideUnavailable", "Person"]
Person = tuple[str, str, date]  # NIK, name, birth date: what Dukcapil matches
PER_REQUEST = 1000  # people in one bulk matching request


class Dukcapil(Protocol):
    async def verify(self, people: Sequence[Person]) -> list[DukcapilAnswer]:
        """Each person's match, in order (bulk matching, "pemadanan"); or OutsideUnavailable."""


class HttpDukcapil:
    def __init__(self, system: OutsideSystem) -> None:
        self._system = system

    async def verify(self, people: Sequence[Person]) -> list[DukcapilAnswer]:
        # One request per thousand people: a household, or every household of a batch, at
        # once. The NIKs ride in the body, never in a URL.
        answers: list[DukcapilAnswer] = []
        for start in range(0, len(people), PER_REQUEST):
            chunk = people[start:start + PER_REQUEST]
            body = {"people": [{"nik": nik, "name": name, "birth_date": born.isoformat()} for nik, name, born in chunk]}
            resp = await self._system.request("POST", "/dukcapil/v1/verify/batch", json=body)
            try:
                results = resp.json()["results"]
                if len(results) != len(chunk):
                    raise ValueError("one answer per person")
                answers += [DukcapilAnswer(bool(r["found"]), r.get("name_match"), r.get("birth_date_match"),
                                           r.get("alive")) for r in results]
            except (ValueError, KeyError, TypeError):
                raise OutsideUnavailable("dukcapil", "answer not understood") from None
        return answers
