"""Drives households up the ladder through the public HTTP interface v1, as the people would:
the operator registers and proposes, Dinas Sosial verifies, BPS validates, the regent
approves in a batch, the Minister drafts and issues the SK, a citizen checks Cek Bansos."""

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from siks_contracts.enums import Role
from siks_contracts.regions import regency_of
from siks_kit.web.auth import issue_token
from siks_kit.runtime.settings import ServiceSettings


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"SIKS_{name.upper()}_PORT", default))


@dataclass(frozen=True)
class Endpoints:
    registry: str = f"http://127.0.0.1:{_port('registry', 8001)}"
    verification: str = f"http://127.0.0.1:{_port('verification', 8002)}"
    integration: str = f"http://127.0.0.1:{_port('integration', 8003)}"
    decree: str = f"http://127.0.0.1:{_port('decree', 8004)}"
    standins: str = f"http://127.0.0.1:{_port('standins', 8010)}"


class LadderError(RuntimeError):
    pass


def household_body(family: dict[str, Any]) -> dict[str, Any]:
    """A stand-in family as the operator would type it into the registry."""
    keys = ("nik", "name", "sex", "birth_date", "birth_place", "relation")
    return {"kk_number": family["kk_number"], "region_code": family["region_code"], "address": family["address"],
            "members": [{k: m[k] for k in keys} for m in family["members"] if m.get("alive", True)],
            "housing": {}, "assets": {}}


@dataclass
class Ladder:
    endpoints: Endpoints = field(default_factory=Endpoints)
    secret: str = field(default_factory=lambda: ServiceSettings().signing_secret())
    timeout: float = 30.0

    def __post_init__(self) -> None:
        # Idle connections go before the server's 5 s keep-alive closes them under us.
        self.http = httpx.AsyncClient(timeout=self.timeout,
                                      limits=httpx.Limits(max_connections=64, keepalive_expiry=2.0))

    async def close(self) -> None:
        await self.http.aclose()

    def headers(self, role: Role, region: str | None = None, traceparent: str | None = None) -> dict[str, str]:
        h = {"Authorization": "Bearer " + issue_token(self.secret, sub=f"ladder-{role}", role=role, region=region)}
        if traceparent:
            h["traceparent"] = traceparent
        return h

    async def _call(self, method: str, url: str, expect: int = 200, **kw: Any) -> Any:
        resp = await self.http.request(method, url, **kw)
        if resp.status_code != expect:
            raise LadderError(f"{method} {url} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    # -- the stand-ins' back door (demo and test data only)
    async def families(self, region: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params = {"limit": limit, **({"region": region} if region else {})}
        data = await self._call("GET", f"{self.endpoints.standins}/_population/families", params=params)
        return data["families"]

    async def unregistered_families(self, region: str, *, min_members: int = 1, want: int = 1) -> list[dict[str, Any]]:
        """Stand-in families (all alive, at least `min_members`) whose head the registry does
        not hold yet: for tests that must choose what to send before sending it."""
        found = []
        for family in await self.families(region=region, limit=10_000):
            members = family["members"]
            if len(members) < min_members or not all(m.get("alive", True) for m in members):
                continue
            held = await self._call("GET", f"{self.endpoints.registry}/v1/households",
                                    params={"nik": members[0]["nik"]}, headers=self.headers(Role.AUDITOR))
            if not held["items"]:
                found.append(family)
                if len(found) == want:
                    return found
        raise LadderError(f"fewer than {want} unregistered stand-in families in {region}")

    # -- operator_desa
    async def register(self, family: dict[str, Any], traceparent: str | None = None) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.registry}/v1/households", 201, json=household_body(family),
                                headers=self.headers(Role.OPERATOR_DESA, family["region_code"], traceparent))

    async def propose(self, household: dict[str, Any], program: str, kind: str = "dtks_new",
                      traceparent: str | None = None) -> dict[str, Any]:
        body = {"household_id": household["id"], "kind": kind, "program": program}
        return await self._call("POST", f"{self.endpoints.registry}/v1/proposals", 201, json=body,
                                headers=self.headers(Role.OPERATOR_DESA, household["region_code"], traceparent))

    async def amend(self, household: dict[str, Any], version: int, **changes: Any) -> dict[str, Any]:
        """PATCH a household (a correction): `version` is the one read; `members` replaces the list."""
        return await self._call("PATCH", f"{self.endpoints.registry}/v1/households/{household['id']}",
                                json={"version": version, **changes},
                                headers=self.headers(Role.OPERATOR_DESA, household["region_code"]))

    async def resubmit(self, proposal_id: str, region: str) -> dict[str, Any]:
        """A returned proposal goes back up (round + 1) with the household as it is now."""
        return await self._call("POST", f"{self.endpoints.registry}/v1/proposals/{proposal_id}/resubmit",
                                headers=self.headers(Role.OPERATOR_DESA, region))

    async def proposal(self, proposal_id: str, region: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.endpoints.registry}/v1/proposals/{proposal_id}",
                                headers=self.headers(Role.OPERATOR_DESA, region))

    # -- reading
    async def case(self, proposal_id: str, region: str) -> dict[str, Any] | None:
        resp = await self.http.get(f"{self.endpoints.verification}/v1/cases/{proposal_id}",
                                   headers=self.headers(Role.SUPERVISOR_KABKOTA, regency_of(region)))
        return resp.json() if resp.status_code == 200 else None

    async def cases(self, proposal_ids: list[str], region: str) -> dict[str, dict[str, Any]]:
        """Up to 100 cases in one request, by proposal id (those not open yet are absent)."""
        resp = await self.http.get(f"{self.endpoints.verification}/v1/cases", params={"proposal_id": proposal_ids},
                                   headers=self.headers(Role.SUPERVISOR_KABKOTA, regency_of(region)))
        resp.raise_for_status()
        return {c["proposal_id"]: c for c in resp.json()["items"]}

    async def wait_case(self, proposal_id: str, region: str, *, until: str = "checks", stage: str | None = None,
                        deadline_s: float = 60.0) -> dict[str, Any]:
        """Polls until the case holds its check results (or reaches `stage`), within a deadline."""
        end = time.monotonic() + deadline_s
        delay = 0.02
        while time.monotonic() < end:
            case = await self.case(proposal_id, region)
            if case and ((stage and case["stage"] == stage) or (not stage and case["checks_passed"] is not None)):
                return case
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise LadderError(f"case {proposal_id} did not reach {stage or until} within {deadline_s}s")

    async def checks(self, proposal_id: str, region: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.endpoints.integration}/v1/checks/{proposal_id}",
                                headers=self.headers(Role.SUPERVISOR_KABKOTA, regency_of(region)))

    # -- Dinas Sosial, BPS, the regent
    async def verify(self, proposal_id: str, region: str) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.verification}/v1/cases/{proposal_id}/verify",
                                json={"note": "documents complete"},
                                headers=self.headers(Role.SUPERVISOR_KABKOTA, regency_of(region)))

    async def return_case(self, proposal_id: str, region: str, reason_code: str = "data_tidak_lengkap",
                          note: str | None = None) -> dict[str, Any]:
        """Dinas Sosial sends the case back to the village for correction."""
        return await self._call("POST", f"{self.endpoints.verification}/v1/cases/{proposal_id}/return",
                                json={"reason_code": reason_code, **({"note": note} if note else {})},
                                headers=self.headers(Role.SUPERVISOR_KABKOTA, regency_of(region)))

    async def validate(self, proposal_id: str, region: str, desil: int | None = None) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.verification}/v1/cases/{proposal_id}/validate",
                                json={"desil": desil} if desil else {},
                                headers=self.headers(Role.VALIDATOR_BPS, regency_of(region)))

    async def approve(self, regency: str, case_ids: list[str], reference: str) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.verification}/v1/approvals",
                                json={"case_ids": case_ids, "reference": reference},
                                headers=self.headers(Role.KEPALA_DAERAH, regency))

    # -- the Minister
    async def draft_decree(self, program: str, period: str) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.decree}/v1/decrees", 201,
                                json={"program": program, "period": period}, headers=self.headers(Role.MENSOS))

    async def candidates(self, program: str, period: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.endpoints.decree}/v1/decrees/candidates",
                                params={"program": program, "period": period}, headers=self.headers(Role.MENSOS))

    async def candidate(self, proposal_id: str) -> dict[str, Any] | None:
        """Which decree period an approved case goes into; None until the approval has arrived."""
        resp = await self.http.get(f"{self.endpoints.decree}/v1/decrees/candidates/{proposal_id}",
                                   headers=self.headers(Role.MENSOS))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise LadderError(f"GET candidate {proposal_id} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    async def decree_through(self, proposal_id: str, program: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Drafts and issues the decree of the period an approved case goes into (one decree per
        programme and period: a draft already open is refreshed, one issued meanwhile moves the
        case to the next period). Returns (draft, issued)."""
        for _ in range(5):
            where = await self.wait_until(lambda: self.candidate(proposal_id), "the approval reaching the decree")
            try:
                draft = await self.draft_decree(program, where["period"])
            except LadderError as exc:
                if "-> 409" in str(exc):
                    continue  # issued by someone else meanwhile: the case moved on; look again
                raise
            return draft, await self.issue_decree(draft["id"])
        raise LadderError(f"could not decree {proposal_id}: its period kept being issued by others")

    async def issue_decree(self, decree_id: str) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.decree}/v1/decrees/{decree_id}/issue",
                                headers=self.headers(Role.MENSOS))

    async def beneficiaries(self, decree_id: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.endpoints.decree}/v1/decrees/{decree_id}/beneficiaries",
                                headers=self.headers(Role.MENSOS))

    # -- anyone
    async def public_status(self, nik: str, name: str) -> dict[str, Any]:
        return await self._call("POST", f"{self.endpoints.decree}/v1/public/status",
                                json={"nik": nik, "name": name})

    async def household(self, household_id: str, region: str) -> dict[str, Any]:
        return await self._call("GET", f"{self.endpoints.registry}/v1/households/{household_id}",
                                headers=self.headers(Role.OPERATOR_DESA, region))

    async def schedule(self) -> dict[str, Any]:
        return await self._call("GET", f"{self.endpoints.registry}/v1/schedule")

    async def wait_until(self, probe, what: str, deadline_s: float = 60.0) -> Any:
        """Polls an async probe until it returns something truthy, within a deadline."""
        end, delay = time.monotonic() + deadline_s, 0.05
        while time.monotonic() < end:
            if result := await probe():
                return result
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise LadderError(f"{what} did not happen within {deadline_s}s")
