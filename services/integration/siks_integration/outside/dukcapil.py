"""Dukcapil (civil registry) adapter: treats the far end as slow and sometimes failing."""

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import httpx


class OutsideUnavailable(Exception):
    pass


@dataclass(frozen=True)
class DukcapilAnswer:
    found: bool
    name_match: bool | None
    birth_date_match: bool | None
    alive: bool | None


class Dukcapil(Protocol):
    async def verify(self, nik: str, name: str, birth_date: date) -> DukcapilAnswer: ...


class HttpDukcapil:
    def __init__(self, client: httpx.AsyncClient, attempts: int = 3) -> None:
        self._client, self._attempts = client, attempts

    async def verify(self, nik: str, name: str, birth_date: date) -> DukcapilAnswer:
        body = {"nik": nik, "name": name, "birth_date": birth_date.isoformat()}
        delay = 0.2
        for attempt in range(1, self._attempts + 1):
            try:
                resp = await self._client.post("/dukcapil/v1/verify", json=body)
                if resp.status_code < 500:
                    resp.raise_for_status()
                    data = resp.json()
                    return DukcapilAnswer(data["found"], data.get("name_match"), data.get("birth_date_match"),
                                          data.get("alive"))
            except (httpx.TransportError, httpx.TimeoutException):
                pass
            if attempt < self._attempts:
                await asyncio.sleep(delay)  # back off before asking a struggling server again
                delay *= 2
        raise OutsideUnavailable(f"Dukcapil did not answer after {self._attempts} attempts")
