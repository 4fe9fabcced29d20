"""A month of SIKS-NG, shown to a newcomer.

    .venv/bin/python deploy/demo/demo.py [--households 50] [--program PKH] [--timeout 180]

Against a running local stack, inside the programme's proposal window, it walks stand-in
families up the whole ladder over the public HTTP interface, as the people would:

  1. the stack is up and the window is open (GET /readyz, GET /v1/schedule);
  2. village operators register the households and submit a proposal each;
  3. the integration checks arrive; Dinas Sosial returns the cases whose checks failed;
  4. Dinas Sosial verifies, BPS validates with the family's desil, and each regent approves
     his regency's cases in one batch (pengesahan);
  5. the Minister drafts and issues the SK;
  6. every case is decreed, every household a beneficiary, and heads of household check
     Cek Bansos;
  7. a summary.

It may run many times against the same stack: families already in the register are skipped.
NIKs and names are personal data: whatever is shown is masked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from siks_client.ladder import Ladder, LadderError, household_body
from siks_contracts.enums import Program, Role
from siks_contracts.identity import mask_name, mask_nik
from siks_contracts.regions import region_name, regency_of

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("SIKS_STATE", ROOT / "var" / "stack"))

# Three regencies of the stand-in population, two villages each: the demo takes its families
# from the first village and moves to the second once earlier runs have used the first up.
REGENCY_VILLAGES = {
    "32.04": ("32.04.05.2001", "32.04.06.2003"),  # Kab. Bandung
    "32.01": ("32.01.02.2001", "32.01.03.2001"),  # Kab. Bogor
    "33.22": ("33.22.01.2001", "33.22.02.2001"),  # Kab. Semarang
}
FAMILIES_PER_VILLAGE = 10_000  # the most the stand-ins hand out at once; they hold fewer
SEARCH_PAGE = 500  # the registry's largest page
# Kepmensos 79/HUK/2025: the poorest desil each programme takes (None: no desil rule). The
# village meeting (musdes) proposes only families that can qualify.
MAX_DESIL = {"PKH": 4, "BPNT": 5, "PBI_JK": 5, "BLT_DD": 4, "PIP": None, "DTKS": None}
CONCURRENCY = 16  # requests in flight when people act (register, verify, validate)
# Pollers in flight while waiting: each polls every half second, and the services doing the work
# share one small database with them, so a few are enough.
WAIT_CONCURRENCY = 4
# The decree service hears of approvals from Kafka (outbox relay, then its consumer) and has
# no endpoint that says how many it holds; this is how long we give them before drafting.
PUBLIC_POLL_SECONDS = 1.0  # Cek Bansos is rate limited (60 a minute per client)
LOST_CAUSES = (
    "Causes seen so far (server side; no rule of the ladder does this):\n"
    "  - a lost write: FerretDB 1.x applies an update as read, change, write back the whole document,\n"
    "    so two concurrent updates of one case (the outbox relay removing an event it has published,\n"
    "    and the move or the check results) can overwrite each other;\n"
    "  - for check results only, also: verification's consumer of siks.integration.checks.v1 has\n"
    "    fallen behind or stalled (compare its committed offsets with the topic's end).")

console = Console()


class DemoFailed(RuntimeError):
    pass


# ---------------------------------------------------------------- the run's state


@dataclass
class Entry:
    """One family on its way up the ladder."""

    family: dict[str, Any]
    household: dict[str, Any]
    proposal: dict[str, Any]
    case: dict[str, Any] | None = None
    lost: str | None = None  # why the case fell off the ladder through a server fault, not a rule

    @property
    def region(self) -> str:
        return self.family["region_code"]

    @property
    def regency(self) -> str:
        return regency_of(self.region)

    @property
    def case_id(self) -> str:
        return self.proposal["id"]

    @property
    def head(self) -> dict[str, Any]:
        return next(m for m in self.household["members"] if m["relation"] == "head")

    @property
    def checks_passed(self) -> bool:
        return bool(self.case and self.case["checks_passed"])


@dataclass
class Run:
    program: str
    households: int
    timeout: float
    period: str = ""
    now: str = ""
    phase: str = ""
    entries: list[Entry] = field(default_factory=list)
    tally: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    skipped: Counter = field(default_factory=Counter)
    references: dict[str, str] = field(default_factory=dict)
    decrees: list[dict[str, Any]] = field(default_factory=list)
    public: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    last_listed: dict[str, Any] | None = None  # the last SK's last row (personal data: never shown)

    def count(self, entry: Entry, step: str) -> None:
        self.tally[entry.regency][step] += 1

    @property
    def active(self) -> list[Entry]:
        return [e for e in self.entries if e.lost is None]

    @property
    def lost(self) -> list[Entry]:
        return [e for e in self.entries if e.lost is not None]

    def with_stage(self, stage: str) -> list[Entry]:
        return [e for e in self.active if e.case and e.case["stage"] == stage]

    def lose(self, entry: Entry, why: str) -> None:
        """The case is stuck by a server fault: carry on with the others, report it, fail at the end."""
        entry.lost = why
        self.count(entry, "lost")
        console.print(f"  [bold red]lost[/] case {entry.case_id[:8]} in {place(entry.region)}: {why}")


@contextmanager
def phase(run: Run, title: str) -> Iterator[None]:
    console.rule(f"[bold cyan]{title}")
    run.phase = title
    start = time.monotonic()
    try:
        yield
    finally:
        run.timings[title] = time.monotonic() - start


def deadline_in(seconds: float) -> Callable[[], float]:
    """Seconds left before a deadline fixed now (never below a small floor, so a last poll runs)."""
    end = time.monotonic() + seconds
    return lambda: max(0.5, end - time.monotonic())


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


async def each(items: list[Any], work: Callable[[Any], Awaitable[Any]], description: str,
               concurrency: int = CONCURRENCY) -> list[Any]:
    """Runs `work` over items, a few at a time, with a progress bar."""
    limit = asyncio.Semaphore(concurrency)
    with progress_bar() as bar:
        task = bar.add_task(description, total=len(items))

        async def one(item: Any) -> Any:
            async with limit:
                result = await work(item)
            bar.advance(task)
            return result

        return await asyncio.gather(*(one(item) for item in items))


def problem_text(resp: httpx.Response) -> str:
    try:
        return resp.json().get("detail") or resp.text[:300]
    except ValueError:
        return resp.text[:300]


def place(code: str) -> str:
    return f"{region_name(code) or '?'} ({code})"


# ---------------------------------------------------------------- 1. the stack and the window


def service_urls(ladder: Ladder) -> dict[str, str]:
    e = ladder.endpoints
    return {"registry": e.registry, "verification": e.verification, "integration": e.integration,
            "decree": e.decree, "stand-ins": e.standins}


async def check_ready(ladder: Ladder) -> None:
    for name, url in service_urls(ladder).items():
        try:
            resp = await ladder.http.get(f"{url}/readyz", timeout=5)
        except httpx.HTTPError as exc:
            raise DemoFailed(f"{name} at {url} does not answer ({type(exc).__name__}); start the stack with "
                             f"`make up`") from None
        if resp.status_code != 200:
            raise DemoFailed(f"{name} at {url} is not ready ({resp.status_code}: {problem_text(resp)})")
        console.print(f"  [green]ready[/]  {name:<13} {url}")


async def check_window(ladder: Ladder, run: Run) -> None:
    schedule = await ladder.schedule()
    now = datetime.fromisoformat(schedule["now"]).astimezone(ZoneInfo(schedule["timezone"]))
    run.now, run.period = now.isoformat(timespec="seconds"), now.strftime("%Y-%m")
    console.print(f"  service clock: {run.now} ({schedule['timezone']}); decree period {run.period}")
    window = next((w for w in schedule["windows"] if run.program in w["programs"]), None)
    if window is None:
        raise DemoFailed(f"no proposal window is configured for {run.program}")
    if not window["open"]:
        opening = datetime.fromisoformat(window["next_opening"])
        raise DemoFailed(
            f"the {window['name']} window (days {window['first_day']}-{window['last_day']}, {schedule['timezone']}) "
            f"is closed at {run.now}, so {run.program} proposals would be refused; it opens next on "
            f"{opening.date()}. Restart the stack with its clock inside the window, e.g.\n"
            f"    make down && SIKS_NOW={opening.replace(hour=9).isoformat()} make up")
    console.print(f"  the {window['name']} window (days {window['first_day']}-{window['last_day']}) is "
                  f"[green]open[/] for {run.program}")


# ---------------------------------------------------------------- 2. register and propose


def quotas(total: int) -> dict[str, int]:
    """Splits the households evenly over the regencies."""
    share, extra = divmod(total, len(REGENCY_VILLAGES))
    return {r: share + (i < extra) for i, r in enumerate(REGENCY_VILLAGES)}


def fits(family: dict[str, Any], program: str) -> bool:
    """What the village meeting would propose: one living head, a desil the programme takes."""
    heads = [m for m in family["members"] if m["relation"] == "head" and m.get("alive", True)]
    limit = MAX_DESIL.get(program)
    return len(heads) == 1 and (limit is None or family["desil"] <= limit)


async def registered_niks(ladder: Ladder, village: str) -> set[str]:
    """NIKs already in the register for a village (earlier runs), so we skip those families."""
    niks: set[str] = set()
    for offset in range(0, 1_000_000, SEARCH_PAGE):
        resp = await ladder.http.get(f"{ladder.endpoints.registry}/v1/households",
                                     params={"region": village, "limit": SEARCH_PAGE, "offset": offset},
                                     headers=ladder.headers(Role.OPERATOR_DESA, village))
        if resp.status_code != 200:
            raise DemoFailed(f"searching the register of {village} failed: {resp.status_code} {problem_text(resp)}")
        items = resp.json()["items"]
        niks |= {m["nik"] for h in items for m in h["members"]}
        if len(items) < SEARCH_PAGE:
            break
    return niks


@dataclass
class Pool:
    """A regency's families in population order, and which of them are in the register already."""

    families: list[dict[str, Any]] = field(default_factory=list)
    registered: set[str] = field(default_factory=set)  # NIKs

    def taken(self, family: dict[str, Any]) -> bool:
        return any(m["nik"] in self.registered for m in family["members"])


async def candidates(ladder: Ladder, regency: str) -> Pool:
    pool = Pool()
    for village in REGENCY_VILLAGES[regency]:
        pool.registered |= await registered_niks(ladder, village)
        pool.families += await ladder.families(village, limit=FAMILIES_PER_VILLAGE)
    return pool


def passed_over(run: Run, pool: Pool, family: dict[str, Any]) -> bool:
    """True (and counted) when the village would not propose this family now."""
    if pool.taken(family):
        run.skipped["already registered (earlier runs)"] += 1
    elif not fits(family, run.program):
        run.skipped[f"not eligible for {run.program} (desil or no living head)"] += 1
    else:
        return False
    return True


async def register(ladder: Ladder, run: Run, family: dict[str, Any]) -> dict[str, Any] | None:
    """The operator enters the household; None when a member is already registered (409)."""
    resp = await ladder.http.post(f"{ladder.endpoints.registry}/v1/households", json=household_body(family),
                                  headers=ladder.headers(Role.OPERATOR_DESA, family["region_code"]))
    if resp.status_code == 201:
        return resp.json()
    if resp.status_code == 409:  # registered meanwhile by someone else: take the next family
        run.skipped["already registered (409 on entry)"] += 1
        return None
    raise DemoFailed(f"registering a household in {family['region_code']} failed: "
                     f"{resp.status_code} {problem_text(resp)}")


async def enrol_regency(ladder: Ladder, run: Run, regency: str, quota: int, advance: Callable[[], None]) -> None:
    """Registers `quota` households of one regency and submits a proposal for each."""
    enrolled, pool = 0, await candidates(ladder, regency)
    for family in pool.families:
        if enrolled == quota:
            break
        if passed_over(run, pool, family):
            continue
        household = await register(ladder, run, family)
        if household is None:
            continue
        proposal = await ladder.propose(household, run.program, kind="program")
        entry = Entry(family, household, proposal)
        run.entries.append(entry)
        run.count(entry, "registered")
        run.count(entry, "proposed")
        enrolled += 1
        advance()
    if enrolled < quota:
        raise DemoFailed(f"only {enrolled} of {quota} eligible, unregistered families are left in "
                         f"{place(regency)}: the stand-ins serve {len(pool.families)} families in its villages "
                         f"{', '.join(REGENCY_VILLAGES[regency])}, "
                         f"{sum(map(pool.taken, pool.families))} of them already registered. "
                         f"Earlier runs have used the stand-in population up: start again from an empty "
                         f"database (make down, remove {STATE}, make up), or ask for fewer --households.")


async def enrol(ladder: Ladder, run: Run) -> None:
    with progress_bar() as bar:
        task = bar.add_task(f"register + propose {run.program}", total=run.households)
        await asyncio.gather(*(enrol_regency(ladder, run, regency, quota, lambda: bar.advance(task))
                               for regency, quota in quotas(run.households).items()))
    villages = Counter(e.region for e in run.entries)
    for village, n in sorted(villages.items()):
        console.print(f"  {n:>3} households in {place(village)}, {region_name(regency_of(village))}")
    for reason, n in run.skipped.items():
        console.print(f"  [dim]{n:>3} families skipped: {reason}[/]")


# ---------------------------------------------------------------- 3. integration checks


async def return_case(ladder: Ladder, entry: Entry, reason_code: str, note: str) -> None:
    """Dinas Sosial sends the case back to the village (Ladder has no helper for it)."""
    resp = await ladder.http.post(f"{ladder.endpoints.verification}/v1/cases/{entry.case_id}/return",
                                  json={"reason_code": reason_code, "note": note[:2000]},
                                  headers=ladder.headers(Role.SUPERVISOR_KABKOTA, entry.regency))
    if resp.status_code != 200:
        raise DemoFailed(f"returning case {entry.case_id} failed: {resp.status_code} {problem_text(resp)}")
    entry.case = resp.json()


def failed_checks(case: dict[str, Any]) -> str:
    # Check details name members by position, never by NIK or name.
    return "; ".join(f"{c['name']}: {c.get('detail') or c['status']}" for c in case["checks"]
                     if c["status"] not in ("passed", "warning"))


async def integration_checked(ladder: Ladder, entry: Entry) -> bool:
    resp = await ladder.http.get(f"{ladder.endpoints.integration}/v1/checks/{entry.case_id}",
                                 headers=ladder.headers(Role.SUPERVISOR_KABKOTA, entry.regency))
    return resp.status_code == 200


async def wait_checks(ladder: Ladder, run: Run, entry: Entry, left: Callable[[], float]) -> None:
    """Waits for the case's check results; checked by integration but never on the case means lost."""
    try:
        entry.case = await ladder.wait_case(entry.case_id, entry.region, deadline_s=left())
        return
    except LadderError:
        pass
    if not await integration_checked(ladder, entry):
        raise DemoFailed(f"case {entry.case_id} got no check results within {run.timeout:.0f}s, and the "
                         f"integration service has not checked it either: is it consuming? See its log.")
    run.lose(entry, f"integration checked it, but the results had not reached the case "
                    f"within {run.timeout:.0f}s")


async def await_checks(ladder: Ladder, run: Run) -> None:
    left = deadline_in(run.timeout)
    await each(run.entries, lambda e: wait_checks(ladder, run, e, left), "integration checks arrive",
               WAIT_CONCURRENCY)
    failed = [e for e in run.active if not e.checks_passed]
    for entry in run.active:
        run.count(entry, "checks passed" if entry.checks_passed else "checks failed")
    for entry in failed:
        await return_case(ladder, entry, "checks_failed", failed_checks(entry.case))
        run.count(entry, "returned")
    console.print(f"  {len(run.active) - len(failed)} passed, {len(failed)} failed"
                  + (" and were returned to the village (reason checks_failed):" if failed else ""))
    for entry in failed:
        console.print(f"    [yellow]{entry.case_id[:8]}[/] {place(entry.region)}: {failed_checks(entry.case)}")


# ---------------------------------------------------------------- 4. verify, validate, approve


async def verify_validate(ladder: Ladder, run: Run) -> None:
    passed = [e for e in run.active if e.checks_passed]

    async def verify(entry: Entry) -> None:
        entry.case = await ladder.verify(entry.case_id, entry.region)
        run.count(entry, "verified")

    async def validate(entry: Entry) -> None:
        entry.case = await ladder.validate(entry.case_id, entry.region, desil=entry.family["desil"])
        run.count(entry, "validated")

    await each(passed, verify, "Dinas Sosial verifies")
    await each(passed, validate, "BPS validates (desil)")
    await confirm_stage(ladder, run, passed, "validated")


async def confirm_stage(ladder: Ladder, run: Run, entries: list[Entry], stage: str) -> None:
    """Reads the cases back: each answered `stage` when moved, and must still be there."""
    cases = await each(entries, lambda e: ladder.case(e.case_id, e.region), f"read back: all {stage}?")
    for entry, case in zip(entries, cases):
        if case is None or case["stage"] != stage:
            entry.case = case or entry.case
            run.lose(entry, f"the move to {stage} answered {stage!r}, but the case now reads "
                     f"{case['stage'] if case else 'missing'!r}")


async def approve_batch(ladder: Ladder, run: Run, regency: str, batch: list[Entry], reference: str) -> list[Entry]:
    """POST /v1/approvals: all or nothing. A case the regent finds off `validated` although it answered
    `validated` (a lost write) is set aside, and the batch goes again without it, once."""
    for attempt in (1, 2):
        resp = await ladder.http.post(f"{ladder.endpoints.verification}/v1/approvals",
                                      json={"case_ids": [e.case_id for e in batch], "reference": reference},
                                      headers=ladder.headers(Role.KEPALA_DAERAH, regency))
        if resp.status_code == 200 and resp.json()["count"] == len(batch):
            return batch
        problems = resp.json().get("cases", []) if resp.status_code == 409 else []
        refused = {c["case_id"]: c["problem"] for c in problems}
        if attempt == 2 or not refused:
            raise DemoFailed(f"the regent of {place(regency)} could not approve {len(batch)} cases: "
                             f"{resp.status_code} {problem_text(resp)}")
        for entry in batch:
            if entry.case_id in refused:
                run.lose(entry, f"it answered 'validated', but the regent found it {refused[entry.case_id]}")
        batch = [e for e in batch if e.case_id not in refused]
        if not batch:
            return []
    return batch


async def approve(ladder: Ladder, run: Run) -> None:
    """Each regent approves his regency's validated cases in one batch, under one berita acara."""
    batches: dict[str, list[Entry]] = defaultdict(list)
    for entry in run.with_stage("validated"):
        batches[entry.regency].append(entry)

    async def one(regency: str) -> None:
        reference = f"BA-{regency}-{run.period}-{run.now[8:10]}{run.now[11:13]}{run.now[14:16]}"  # -DDHHMM
        batches[regency] = await approve_batch(ladder, run, regency, batches[regency], reference)
        run.references[regency] = reference
        for entry in batches[regency]:
            entry.case = {**entry.case, "stage": "approved"}
            run.count(entry, "approved")

    await each(sorted(batches), one, "regents approve (one batch each)")
    await confirm_stage(ladder, run, [e for r in batches for e in batches[r]], "approved")
    for regency in sorted(batches):
        console.print(f"  {region_name(regency)}: {len(batches[regency])} cases under {run.references[regency]}")


# ---------------------------------------------------------------- 5. the decree


async def public_status(ladder: Ladder, nik: str, name: str, left: Callable[[], float]) -> dict[str, Any]:
    """Cek Bansos, waiting politely when the rate limit says so."""
    while True:
        resp = await ladder.http.post(f"{ladder.endpoints.decree}/v1/public/status", json={"nik": nik, "name": name})
        if resp.status_code == 200:
            return {**resp.json(), "nik_masked": mask_nik(nik)}  # the answer never echoes the NIK
        if resp.status_code != 429 or left() <= 0.5:
            raise DemoFailed(f"Cek Bansos answered {resp.status_code}: {problem_text(resp)}")
        await asyncio.sleep(min(float(resp.json().get("retry_after", 5)), left()))


async def wait_listed(ladder: Ladder, nik: str, name: str, number: str, what: str, seconds: float) -> dict[str, Any]:
    """Polls Cek Bansos until the person is listed under decree `number`."""
    left = deadline_in(seconds)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        answer = await public_status(ladder, nik, name, left)
        if any(p["sk_number"] == number for p in answer.get("programs", [])):
            return answer
        await asyncio.sleep(PUBLIC_POLL_SECONDS)
    raise DemoFailed(f"{what} did not show SK {number} in Cek Bansos within {seconds:.0f}s")


async def approvals_arrived(ladder: Ladder, run: Run, ours: set[str]) -> dict[str, set[str]]:
    """Waits until the decree service holds every approved case of this run; returns them by
    the period each goes into (one decree per programme and period: if an earlier run issued
    this month's, they go into the next)."""
    left = deadline_in(run.timeout)
    periods: dict[str, set[str]] = defaultdict(set)

    async def arrived(case_id: str) -> None:
        where = await ladder.wait_until(lambda: ladder.candidate(case_id), "an approval reaching the decree",
                                        deadline_s=left())
        periods[where["period"]].add(case_id)

    await each(sorted(ours), arrived, "approvals reach the decree service", WAIT_CONCURRENCY)
    return periods


async def draft_and_issue(ladder: Ladder, run: Run) -> None:
    ours = {e.case_id for e in run.with_stage("approved")}
    if not ours:
        raise DemoFailed("no case was approved: there is nothing to decree")
    for period, cases in sorted((await approvals_arrived(ladder, run, ours)).items()):
        if period != run.period:
            console.print(f"  [yellow]{run.program} decrees from {run.period} on were issued by earlier runs (one "
                          f"decree per programme and period): {len(cases)} approvals go into {period}[/]")
        try:
            draft = await ladder.draft_decree(run.program, period)  # an open draft is refreshed, not doubled
        except LadderError as exc:
            raise DemoFailed(f"drafting the decree failed: {exc}") from None
        await issue_and_record(ladder, run, draft, cases)


async def issue_and_record(ladder: Ladder, run: Run, draft: dict[str, Any], ours: set[str]) -> None:
    rows = (await ladder.beneficiaries(draft["id"]))["items"]
    listed = {r["proposal_id"] for r in rows}
    issued = await ladder.issue_decree(draft["id"])
    run.decrees.append({**issued, "ours": len(listed & ours), "stale": len(listed - ours) > 0})
    console.print(f"  SK {issued['number']} issued: {issued['count']} households "
                  f"({len(listed & ours)} from this run), {issued['content_hash'][:19]}…")
    run.last_listed = rows[-1] if rows else run.last_listed


# ---------------------------------------------------------------- 6. decreed everywhere


async def await_decreed(ladder: Ladder, run: Run) -> None:
    approved = run.with_stage("approved")
    left = deadline_in(run.timeout)

    async def decreed(entry: Entry) -> None:
        entry.case = await ladder.wait_case(entry.case_id, entry.region, stage="decreed", deadline_s=left())
        run.count(entry, "decreed")

    async def beneficiary(entry: Entry) -> None:
        async def probe() -> dict[str, Any] | None:
            household = await ladder.household(entry.household["id"], entry.region)
            return household if household["status"] == "beneficiary" else None

        entry.household = await ladder.wait_until(probe, f"household {entry.household['id']} as beneficiary",
                                                  deadline_s=left())
        run.count(entry, "beneficiary")

    await each(approved, decreed, "cases decreed (verification)", WAIT_CONCURRENCY)
    await each(approved, beneficiary, "households are beneficiaries (registry)", WAIT_CONCURRENCY)
    with progress_bar() as bar:
        task = bar.add_task("whole SK listed in Cek Bansos (decree)", total=1)
        last, decree = run.last_listed, run.decrees[-1]
        if last:  # the Cek Bansos index is filled in list order: the last row means all of it
            await wait_listed(ladder, last["head_nik"], last["head_name"], decree["number"],
                              f"the last household of SK {decree['number']}", left())
        bar.advance(task)


async def cek_bansos(ladder: Ladder, run: Run) -> None:
    """Three heads of household, one per regency, ask Cek Bansos; plus one whose case went back."""
    decreed = run.with_stage("decreed")
    picks = list({e.regency: e for e in reversed(decreed)}.values())[:3]
    for entry in picks:
        head = entry.head
        run.public.append(await wait_listed(ladder, head["nik"], head["name"], decree_of(entry, run),
                                            "a head of household", run.timeout))
    returned = run.with_stage("returned")
    if returned:
        head = returned[0].head
        run.public.append(await public_status(ladder, head["nik"], head["name"], deadline_in(run.timeout)))
    show_public(run.public)


def decree_of(entry: Entry, run: Run) -> str | None:
    """The SK number the case was decreed under (verification records it in the history note)."""
    for item in reversed(entry.case.get("history", [])):
        if item["stage"] == "decreed" and (item.get("note") or "").startswith("SK "):
            return item["note"][3:]
    return run.decrees[-1]["number"] if run.decrees else None


def show_public(answers: list[dict[str, Any]]) -> None:
    table = Table(title="Cek Bansos (POST /v1/public/status), as a citizen sees it", title_justify="left")
    for column in ("NIK", "name", "status", "region", "programmes"):
        table.add_column(column, no_wrap=column in ("NIK", "status"))
    for a in answers:
        programmes = ", ".join(f"{p['program']} {p['period']} {p['status']} SK {p['sk_number']}"
                               for p in a.get("programs", []))
        # Cek Bansos masks its answers already; masking again costs nothing and guards the screen.
        table.add_row(a["nik_masked"], mask_name(a["name_masked"]), a["status"], a.get("region") or "-",
                      programmes or "not listed")
    console.print(table)


# ---------------------------------------------------------------- 7. the summary


# What the ladder table counts, in order: tally key -> row label.
STEPS = {"registered": "registered", "proposed": "proposed", "checks passed": "checks passed",
         "checks failed": "checks failed", "returned": "returned", "verified": "verified (Dinsos)",
         "validated": "validated (BPS)", "approved": "approved (regent)", "decreed": "decreed (SK)",
         "beneficiary": "beneficiary", "lost": "lost (server fault)"}


def short(regency: str) -> str:
    return (region_name(regency) or regency).replace("Kabupaten ", "Kab. ")


def ladder_table(run: Run) -> Table:
    """One column per regency, one row per rung."""
    regencies = sorted(run.tally)
    table = Table(title=f"The ladder: {run.program} {run.period}", title_justify="left")
    table.add_column("")
    for regency in regencies:
        table.add_column(short(regency), justify="right")
    table.add_column("total", justify="right", style="bold")
    villages = [", ".join(sorted({region_name(e.region) or e.region for e in run.entries if e.regency == r}))
                for r in regencies]
    table.add_row("villages", *villages, "", end_section=True)
    for step, label in STEPS.items():
        counts = [run.tally[r][step] for r in regencies]
        if step != "lost" or sum(counts):
            table.add_row(label, *map(str, counts), str(sum(counts)))
    return table


def decree_table(run: Run) -> Table:
    table = Table(title=f"SK Mensos: {run.program}", title_justify="left")
    for column in ("number", "period", "count", "of this run", "content hash", "decree id", "note"):
        table.add_column(column, no_wrap=column in ("number", "period", "content hash", "decree id"))
    for d in run.decrees:
        table.add_row(d["number"], d["period"], str(d["count"]), str(d["ours"]), d["content_hash"][7:19] + "…", d["id"],
                      "with earlier approvals" if d["stale"] else "")
    return table


def timings_table(run: Run) -> Table:
    table = Table(title="Timings", title_justify="left")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for name, seconds in run.timings.items():
        table.add_row(name, f"{seconds:.1f}")
    table.add_row("[bold]total", f"[bold]{sum(run.timings.values()):.1f}")
    return table


def show_summary(ladder: Ladder, run: Run) -> None:
    console.rule("[bold cyan]7. Summary")
    total = Counter()
    for counts in run.tally.values():
        total.update(counts)
    console.print(f"  {total['registered']} households registered, {total['proposed']} {run.program} proposals; "
                  f"checks passed {total['checks passed']}, failed {total['checks failed']}; "
                  f"{total['decreed']} cases decreed, {total['beneficiary']} beneficiaries in the register"
                  + (f"; [bold red]{total['lost']} lost to a server fault[/]" if total["lost"] else ""))
    console.print(ladder_table(run))
    for regency, reference in sorted(run.references.items()):
        console.print(f"  pengesahan {short(regency)}: berita acara {reference}")
    console.print(decree_table(run))
    console.print(timings_table(run))
    console.print("\n[bold]The stack[/]")
    for name, url in service_urls(ladder).items():
        console.print(f"  {name:<13} {url}/docs")
    console.print(f"  logs          {STATE / 'logs'}")
    console.print("  stop it with  make down   (or .venv/bin/python deploy/local/stack.py down)")


# ---------------------------------------------------------------- the whole month


async def open_ladder(timeout: float) -> Ladder:
    """Ladder's client keeps idle connections 5 s, exactly as long as uvicorn does: reusing one just
    as the server closes it fails (httpx.ReadError). Ours lets them go first."""
    ladder = Ladder(timeout=timeout)  # a regent's batch moves its cases one by one: allow time
    await ladder.http.aclose()
    ladder.http = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=64, keepalive_expiry=2.0))
    return ladder


async def demo(run: Run) -> None:
    ladder = await open_ladder(run.timeout)
    try:
        with phase(run, "1. The stack and the proposal window"):
            await check_ready(ladder)
            await check_window(ladder, run)
        with phase(run, "2. Village operators register households and propose"):
            await enrol(ladder, run)
        with phase(run, "3. Integration checks (NIK, region, Dukcapil, DTSEN desil)"):
            await await_checks(ladder, run)
        with phase(run, "4. Dinas Sosial verifies, BPS validates, regents approve"):
            await verify_validate(ladder, run)
            await approve(ladder, run)
        with phase(run, "5. The Minister drafts and issues the SK"):
            await draft_and_issue(ladder, run)
        with phase(run, "6. Decreed everywhere; Cek Bansos"):
            await await_decreed(ladder, run)
            await cek_bansos(ladder, run)
        show_summary(ladder, run)
    finally:
        await ladder.close()


def lost_report(run: Run) -> str:
    cases = "\n".join(f"  {e.case_id} ({place(e.region)}): {e.lost}" for e in run.lost)
    return (f"the month completed for {len(run.active)} of {len(run.entries)} households, but "
            f"{len(run.lost)} case(s) fell off the ladder through a server fault, not a rule:\n{cases}\n"
            f"{LOST_CAUSES}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=50, help="how many households to take up the ladder")
    parser.add_argument("--program", default="PKH", choices=[p.value for p in Program if p != Program.DTKS],
                        help="the programme proposed for")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds each waiting phase may take (a ceiling: most take a few)")
    args = parser.parse_args(argv)
    if args.households < 1:
        parser.error("--households must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    run = Run(program=args.program, households=args.households, timeout=args.timeout)
    try:
        asyncio.run(demo(run))
    except (DemoFailed, LadderError) as exc:
        console.print(f"\n[bold red]demo failed[/] in phase {run.phase!r}:\n{exc}")
        console.print(f"logs: {STATE / 'logs'}")
        return 1
    except httpx.HTTPError as exc:
        console.print(f"\n[bold red]demo failed[/] in phase {run.phase!r}: {type(exc).__name__} {exc}\n"
                      f"a service did not answer in time or dropped the connection: is the stack up "
                      f"(make status)? See {STATE / 'logs'}")
        return 1
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/]")
        return 130
    if run.lost:
        console.print(f"\n[bold red]demo failed[/]: {lost_report(run)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
