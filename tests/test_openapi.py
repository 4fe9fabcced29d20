"""Schemathesis against every service's OpenAPI, in process: each service's app as its
bootstrap builds it, with fakes (MemoryDatabase, MemoryTransport, a fixed clock), so it runs in
`make test` without the stack. A few derandomised examples per operation, each sent with a
token of a role that may call it. Two rules:

- no operation answers 5xx (hard);
- every response matches what the document declares: its status, its content type and its
  schema. Operations known not to conform yet are listed in KNOWN_NONCONFORMING; one that
  fails outside that list fails the test, and the list is printed so it can shrink.
"""

from __future__ import annotations

import importlib
import re
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from siks_contracts.enums import Role
from siks_kit.web.auth import issue_token
from siks_kit.runtime.clock import FixedClock
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET

SERVICES = ("registry", "verification", "integration", "decree")
NOW = datetime(2026, 12, 16, 2, tzinfo=UTC)  # 09:00 in Jakarta, inside the bansos window
MAX_EXAMPLES = 5
VILLAGE, REGENCY = "32.04.05.2001", "32.04"

# Who calls what: (method, path pattern) -> (role, region); first match wins, national mensos otherwise.
CALLERS: list[tuple[str, str, Role, str | None]] = [
    ("*", r"^/v1/(households|proposals)", Role.OPERATOR_DESA, VILLAGE),
    ("post", r"^/v1/cases/[^/]+/(verify|return)$", Role.SUPERVISOR_KABKOTA, REGENCY),
    ("post", r"^/v1/cases/[^/]+/(validate|reject)$", Role.VALIDATOR_BPS, REGENCY),
    ("post", r"^/v1/approvals", Role.KEPALA_DAERAH, REGENCY),
    ("get", r"^/v1/(cases|checks)/", Role.SUPERVISOR_KABKOTA, REGENCY),
]

CHECKS = {"status_code_conformance": status_code_conformance,
          "content_type_conformance": content_type_conformance,
          "response_schema_conformance": response_schema_conformance}

# "<service> <operationId>" of operations whose responses do not yet match their declaration
# (found by this test on the edge branch; route owners are declaring models and problem responses).
# Today every one of them is an undeclared problem status (404, 403 or 409): the route owners
# add `responses=problem_responses(...)` (siks_kit.web.problems) and this list shrinks.
KNOWN_NONCONFORMING: set[str] = set()


def caller(method: str, path: str) -> dict[str, str]:
    role, region = Role.MENSOS, None
    for m, pattern, r, reg in CALLERS:
        if m in ("*", method.lower()) and re.search(pattern, path):
            role, region = r, reg
            break
    return {"Authorization": "Bearer " + issue_token(DEVELOPMENT_JWT_SECRET, sub=f"schemathesis-{role}",
                                                     role=role, region=region)}


def build(service: str) -> Any:
    bootstrap = importlib.import_module(f"siks_{service}.bootstrap")
    return bootstrap.build_app(database=MemoryDatabase(), transport=MemoryTransport(), clock=FixedClock(NOW))


def exercise(service: str) -> tuple[list[str], dict[str, set[str]], int]:
    """(5xx answers, nonconformities per operation, number of calls)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", build(service))
    server_errors: list[str] = []
    nonconforming: dict[str, set[str]] = defaultdict(set)
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{service} {operation.definition.raw.get('operationId', operation.label)}"
        headers = caller(operation.method, operation.path)
        secured = bool(operation.definition.raw.get("security"))
        anonymous_tried = False

        @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal calls, anonymous_tried
            attempts = [headers]
            if secured and not anonymous_tried:  # once per operation: no token must be a declared 401
                anonymous_tried = True
                attempts.append({})
            for sent in attempts:
                calls += 1
                response = case.call(headers=sent)
                if response.status_code >= 500:
                    server_errors.append(f"{name}: {response.status_code} {response.text[:300]}")
                if not sent and response.status_code != 401:
                    nonconforming[name].add(f"no token answered {response.status_code}, not 401")
                for check_name, check in CHECKS.items():
                    try:
                        case.validate_response(response, checks=[check], headers=sent)
                    except FailureGroup as exc:
                        for failure in exc.exceptions:
                            nonconforming[name].add(f"{check_name} [{response.status_code}]: "
                                                    f"{getattr(failure, 'title', failure)}")

        run()
    return server_errors, nonconforming, calls


@pytest.fixture(scope="module")
def outcomes() -> dict[str, tuple[list[str], dict[str, set[str]], int]]:
    started = time.monotonic()
    found = {service: exercise(service) for service in SERVICES}
    print(f"\nschemathesis: {sum(c for _, _, c in found.values())} calls in {time.monotonic() - started:.1f} s")
    for service, (_, nonconforming, _) in found.items():
        for op, why in sorted(nonconforming.items()):
            print(f"  does not conform: {op}: " + "; ".join(sorted(why)))
    failing = {op for _, nonconforming, _ in found.values() for op in nonconforming}
    for op in sorted(KNOWN_NONCONFORMING - failing):
        print(f"  conforms now, remove from KNOWN_NONCONFORMING: {op}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_answers_5xx(outcomes, service):
    server_errors, _, calls = outcomes[service]
    assert calls > 0
    assert server_errors == []


@pytest.mark.parametrize("service", SERVICES)
def test_responses_match_the_document(outcomes, service):
    _, nonconforming, _ = outcomes[service]
    unexpected = {op: sorted(why) for op, why in nonconforming.items() if op not in KNOWN_NONCONFORMING}
    assert unexpected == {}


def test_every_operation_is_called_with_a_token_that_fits_it():
    # The caller table itself: each authenticated operation gets a role the service accepts.
    for service in SERVICES:
        doc = build(service).openapi()
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if op.get("security"):
                    assert caller(method, path)["Authorization"].startswith("Bearer ")
