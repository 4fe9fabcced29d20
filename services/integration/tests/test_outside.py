import json
"""The outside-system adapters against a scripted far end (httpx.MockTransport): retries with
backoff on 5xx, 429, timeouts and refused connections, the breaker in front, DTSEN's "not
found". Sleeps are recorded, never slept; the breaker's clock is moved by hand."""

from datetime import date

import httpx
import pytest
from siks_kit.runtime.breaker import CircuitBreaker, State
from siks_integration.outside.dtsen import HttpDtsen
from siks_integration.outside.dukcapil import HttpDukcapil
from siks_integration.outside.resilient import OutsideSystem, OutsideUnavailable, RetryPolicy, is_outage

NIK = "3204052609800001"


class FarEnd:
    """Answers with `script` in turn (a status, or an exception to raise), then `then`."""

    def __init__(self, script: list, then: httpx.Response) -> None:
        self.script, self.then, self.requests = list(script), then, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return httpx.Response(step, json={"status": step}, headers={"Retry-After": "1"})
        return self.then(request) if callable(self.then) else self.then


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def system(far: FarEnd, *, attempts: int = 3, threshold: int = 2, clock: Clock | None = None):
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    breaker = CircuitBreaker("dukcapil", failure_threshold=threshold, reset_timeout_s=5, clock=clock or Clock(),
                             is_failure=is_outage)
    client = httpx.AsyncClient(transport=httpx.MockTransport(far), base_url="http://standins")
    return OutsideSystem("dukcapil", client, breaker, RetryPolicy(attempts, 0.1, 1.0), sleep=sleep), slept


ANSWER = httpx.Response(200, json={"results": [{"found": True, "nik_match": True, "name_match": True,
                                                "birth_date_match": True, "kk_match": None, "alive": True}]})
AGUS = [(NIK, "Agus", date(1980, 9, 26))]


@pytest.mark.parametrize("failure", [503, 500, 429, httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
                         ids=["503", "500", "429", "connect", "timeout"])
async def test_transient_failures_are_retried_with_growing_waits_then_answered(failure):
    far = FarEnd([failure, failure], ANSWER)
    sys_, slept = system(far)
    (answer,) = await HttpDukcapil(sys_).verify(AGUS)
    assert answer.found and answer.alive and len(far.requests) == 3
    assert len(slept) == 2 and 0.1 <= slept[0] <= 0.2 and slept[1] >= 0.2  # exponential, with jitter
    assert sys_.breaker.state is State.CLOSED


async def test_still_failing_after_the_attempts_is_unavailable_with_a_reason_that_names_no_nik():
    far = FarEnd([503] * 3, ANSWER)
    sys_, _ = system(far)
    with pytest.raises(OutsideUnavailable) as exc:
        await HttpDtsen(sys_).desils([NIK])
    assert exc.value.reason == "HTTP 503" and NIK not in str(exc.value)
    assert len(far.requests) == 3


async def test_the_breaker_opens_after_repeated_failures_and_a_trial_after_the_cool_down_closes_it():
    clock = Clock()
    far = FarEnd([503] * 6, ANSWER)
    sys_, _ = system(far, threshold=2, clock=clock)
    dukcapil = HttpDukcapil(sys_)
    for _ in range(2):
        with pytest.raises(OutsideUnavailable):
            await dukcapil.verify(AGUS)
    assert sys_.breaker.state is State.OPEN
    asked = len(far.requests)
    with pytest.raises(OutsideUnavailable, match="circuit open"):
        await dukcapil.verify(AGUS)
    assert len(far.requests) == asked  # refused without bothering the far end
    clock.t += 5
    far.script = []  # the system is back
    assert (await dukcapil.verify(AGUS))[0].found
    assert sys_.breaker.state is State.CLOSED


async def test_dtsen_not_found_is_an_answer_not_a_failure():
    other = "3204055912790001"
    far = FarEnd([], httpx.Response(200, json={"results": [{"nik": NIK, "found": False, "desil": None},
                                                           {"nik": other, "found": True, "desil": 3}]}))
    sys_, _ = system(far)
    assert await HttpDtsen(sys_).desils([NIK, other]) == [None, 3]
    assert len(far.requests) == 1 and sys_.breaker.state is State.CLOSED


async def test_dtsen_asks_for_a_household_in_one_request_with_no_nik_in_the_url():
    far = FarEnd([], httpx.Response(200, json={"results": [{"nik": NIK, "found": True, "desil": 3}]}))
    sys_, _ = system(far)
    assert await HttpDtsen(sys_).desils([NIK]) == [3]
    (request,) = far.requests
    assert request.url.path == "/dtsen/v1/desil" and NIK not in str(request.url)
    assert NIK in request.content.decode()


async def test_an_unexpected_4xx_is_not_retried_and_does_not_open_the_breaker():
    far = FarEnd([400, 400, 400], ANSWER)
    sys_, slept = system(far, threshold=1)
    with pytest.raises(OutsideUnavailable, match="unexpected HTTP 400"):
        await HttpDukcapil(sys_).verify(AGUS)
    assert len(far.requests) == 1 and slept == [] and sys_.breaker.state is State.CLOSED


async def test_dukcapil_matches_many_people_in_one_request_per_thousand_with_no_nik_in_the_url():
    people = [(f"{3204050000000000 + i}", f"Orang {i}", date(1980, 1, 1)) for i in range(1500)]

    def answer(request: httpx.Request) -> httpx.Response:
        asked = json.loads(request.content)["people"]
        return httpx.Response(200, json={"results": [{"found": p["name"] != "Orang 7", "name_match": True,
                                                      "birth_date_match": True, "alive": True} for p in asked]})

    far = FarEnd([], answer)
    sys_, _ = system(far)
    answers = await HttpDukcapil(sys_).verify(people)
    assert len(answers) == 1500 and [a.found for a in answers].count(False) == 1 and not answers[7].found
    assert [len(json.loads(r.content)["people"]) for r in far.requests] == [1000, 500]
    assert all(r.url.path == "/dukcapil/v1/verify/batch" and "3204050" not in str(r.url) for r in far.requests)
