"""The HTTP edge every service shares: body limit (413), problem types and field pointers,
the bearer scheme, stable operation ids and problem responses in the OpenAPI document."""

import asyncio
import json
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from siks_contracts.enums import Role
from siks_kit.web.auth import CurrentActor, issue_token, require_role, require_scope
from siks_kit.web.bodylimit import BodyLimit
from siks_testkit.memory import MemoryDatabase, MemoryTransport
from siks_kit.web.problems import (PROBLEM, PROBLEM_BASE, PROBLEM_INFO, Conflict, Invalid, NikTaken, Problem,
                               StaleVersion, errors_from_loc, field_error, pointer, problem_responses)
from siks_kit.runtime.service import ServiceSpec, create_service_app
from siks_kit.runtime.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings

LIMIT = 1024


class Member(BaseModel):
    nik: str = Field(pattern=r"^\d{16}$")
    name: str


class Household(BaseModel):
    members: list[Member]


class Created(BaseModel):
    id: str


router = APIRouter(prefix="/v1")


def public_limit(request: Request) -> None:  # stands for the decree's rate limit: runs before the body matters
    pass


@router.post("/households", status_code=201, tags=["households"], responses=problem_responses(403, 409))
async def create_household(body: Household, actor: CurrentActor) -> Created:
    require_role(actor, Role.OPERATOR_DESA)
    require_scope(actor, "32.04.05.2001")
    if body.members[0].name == "taken":
        raise NikTaken("member 1's NIK is already registered in another household")
    if body.members[0].name == "stale":
        raise StaleVersion("the household changed since you read it")
    if body.members[0].name == "closed":
        raise Conflict("outside the window", type_=PROBLEM.window_closed, next_opening="2027-01-15")
    if body.members[0].name == "rule":
        raise Invalid("member 1 does not agree with the NIK",
                      errors=[field_error(["members", 0, "sex"], "the NIK says female")])
    return Created(id="h1")


@router.post("/public/reports", tags=["public"], dependencies=[Depends(public_limit)])
async def report(request: Request) -> Created:
    await request.body()  # a raw body, as an upload would read it
    return Created(id="r1")


def app(limit: int = LIMIT):
    settings = ServiceSettings(env="development", max_body_bytes=limit)
    spec = ServiceSpec("probe", "1.0", "kit probe", (), (), ())
    return create_service_app(spec, settings, routers=[router], make_deps=lambda *a: _Deps(),
                              make_handlers=lambda d: {}, database=MemoryDatabase(), transport=MemoryTransport())


class _Deps:
    async def prepare(self) -> None:
        pass


@pytest.fixture(scope="module")
def client():
    with TestClient(app(), raise_server_exceptions=False) as c:
        yield c


def bearer(role=Role.OPERATOR_DESA, region="32.04.05.2001"):
    return {"Authorization": "Bearer " + issue_token(DEVELOPMENT_JWT_SECRET, sub="t", role=role, region=region)}


def body(name="Agus", pad=0):
    return {"members": [{"nik": "3204052609800001", "name": name + " " * pad}]}


# ------------------------------------------------------------------ 413


def assert_413(resp):
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["type"] == PROBLEM.body_too_large and problem["max_bytes"] == LIMIT


def test_a_body_within_the_limit_passes(client):
    assert client.post("/v1/households", json=body(pad=500), headers=bearer()).status_code == 201


def test_a_declared_content_length_over_the_limit_is_413_before_auth_or_validation(client):
    assert_413(client.post("/v1/households", json=body(pad=2000)))  # no token: the size is refused first


def test_a_public_route_is_limited_too(client):
    assert_413(client.post("/v1/public/reports", content=b"x" * (LIMIT + 1)))


@pytest.mark.parametrize("path", ["/v1/public/reports", "/v1/households"])
def test_a_streamed_body_without_content_length_is_counted(client, path):
    def chunks():  # JSON that FastAPI would parse, were it not too long
        yield b'{"members": [{"nik": "3204052609800001", "name": "'
        for _ in range(8):
            yield b"y" * 512
        yield b'"}]}'

    resp = client.post(path, content=chunks(), headers={**bearer(), "content-type": "application/json"})
    assert "content-length" not in resp.request.headers
    assert_413(resp)


def test_the_limit_reads_no_further_than_the_chunk_that_passes_it():
    pulled = 0
    sent: list[dict] = []

    async def endless_receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"z" * 300, "more_body": True}

    async def send(message):
        sent.append(message)

    async def greedy_app(scope, receive, send):
        while True:  # reads for ever unless stopped
            await receive()

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    asyncio.run(BodyLimit(greedy_app, LIMIT)(scope, endless_receive, send))
    assert pulled == 4  # 4 * 300 > 1024: the fourth chunk passes the limit, no fifth is read
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["type"] == PROBLEM.body_too_large


def test_the_default_limit_is_one_mebibyte():
    assert ServiceSettings(env="development").max_body_bytes == 1024 * 1024


# ------------------------------------------------------------------ problem types and pointers


def test_every_kind_of_problem_has_a_type_uri_under_one_base():
    slugs = {k.slug for k in PROBLEM}
    assert {"validation", "unauthorized", "forbidden", "not-found", "conflict", "stale-version", "window-closed",
            "deadline-passed", "programme-rule", "separation-of-duties", "nik-taken", "in-progress",
            "body-too-large", "rate-limited", "database-unavailable", "internal"} <= slugs
    assert all(k.value == PROBLEM_BASE + k.slug for k in PROBLEM) and set(PROBLEM_INFO) == set(PROBLEM)


@pytest.mark.parametrize("name, status, kind, extra", [
    ("taken", 409, PROBLEM.nik_taken, {}),
    ("stale", 409, PROBLEM.stale_version, {}),
    ("closed", 409, PROBLEM.window_closed, {"next_opening": "2027-01-15"}),
])
def test_raised_problems_carry_their_type_and_title(client, name, status, kind, extra):
    resp = client.post("/v1/households", json=body(name), headers=bearer())
    problem = resp.json()
    assert resp.status_code == status and problem["type"] == kind and problem["title"] == PROBLEM_INFO[kind][1]
    assert extra.items() <= problem.items()


def test_401_403_and_bare_statuses_get_default_types(client):
    missing = client.post("/v1/households", json=body())
    assert missing.status_code == 401 and missing.json()["type"] == PROBLEM.unauthorized
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong_scheme = client.post("/v1/households", json=body(), headers={"Authorization": "Basic dTpw"})
    assert wrong_scheme.status_code == 401
    forbidden = client.post("/v1/households", json=body(), headers=bearer(Role.MENSOS, None))
    assert forbidden.status_code == 403 and forbidden.json()["type"] == PROBLEM.forbidden
    elsewhere = client.post("/v1/households", json=body(), headers=bearer(region="33.22.01.2001"))
    assert elsewhere.status_code == 403 and "32.04.05.2001" not in elsewhere.text  # the other area is not named
    assert Problem(404, "x").type == PROBLEM.not_found and Problem(418, "x").type == "about:blank"
    unknown = client.get("/nowhere")
    assert unknown.status_code == 404 and unknown.json()["type"] == PROBLEM.not_found


def test_schema_errors_point_into_the_body_and_never_echo_the_value(client):
    bad = {"members": [{"nik": "3204052609800001", "name": "Agus"}, {"nik": "12", "name": "Siti"}]}
    resp = client.post("/v1/households", json=bad, headers=bearer())
    problem = resp.json()
    assert resp.status_code == 422 and problem["type"] == PROBLEM.validation
    (error,) = problem["errors"]
    assert error["pointer"] == "/members/1/nik" and error["in"] == "body" and error["detail"]
    assert "Siti" not in resp.text and '"12"' not in resp.text


def test_a_domain_refusal_names_the_field_by_pointer(client):
    problem = client.post("/v1/households", json=body("rule"), headers=bearer()).json()
    assert problem["status"] == 422 and problem["errors"][0]["pointer"] == "/members/0/sex"


def test_loc_to_pointer():
    errors = errors_from_loc([{"loc": ("body", "members", 2, "nik"), "msg": "bad"},
                              {"loc": ("query", "nik"), "msg": "bad"},
                              {"loc": ("body", "a/b", "c~d"), "msg": "odd"},
                              {"loc": ("body",), "msg": "missing"}])
    assert [(e["pointer"], e["in"]) for e in errors] == [("/members/2/nik", "body"), ("/nik", "query"),
                                                        ("/a~1b/c~0d", "body"), ("", "body")]
    assert pointer("members", 0) == "/members/0"


# ------------------------------------------------------------------ OpenAPI


def test_openapi_shows_the_bearer_scheme_on_authenticated_routes_only():
    doc = app().openapi()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"]}
    assert doc["paths"]["/v1/households"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/v1/public/reports"]["post"]
    assert "401" not in doc["paths"]["/v1/public/reports"]["post"]["responses"]


def test_operation_ids_are_stable_and_unique():
    ids = [op["operationId"] for item in app().openapi()["paths"].values() for op in item.values()]
    assert ids == [op["operationId"] for item in app().openapi()["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert {"households_create_household", "public_report", "operations_healthz"} <= set(ids)


def test_problem_responses_are_problem_json_with_the_problem_schema():
    doc = app().openapi()
    responses = doc["paths"]["/v1/households"]["post"]["responses"]
    assert {"401", "403", "409", "413", "422", "503"} <= set(responses)
    for status in ("401", "403", "409", "413", "422", "503"):
        assert responses[status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    schemas = doc["components"]["schemas"]
    assert {"ProblemDetails", "FieldError"} <= set(schemas) and "HTTPValidationError" not in schemas
    assert schemas["ProblemDetails"]["properties"]["errors"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/FieldError"}
    assert "in" in schemas["FieldError"]["properties"]
    assert problem_responses(429)[429]["description"].startswith("Too many requests")


def test_a_served_app_freezes_what_its_start_built_and_a_test_app_does_not():
    import gc

    assert gc.get_freeze_count() == 0
    with TestClient(app()):
        assert gc.get_freeze_count() == 0  # tests build many apps in one process: nothing frozen
    served = app()
    served.state.freeze_after_start = True  # what serve() sets
    try:
        with TestClient(served):
            assert gc.get_freeze_count() > 10_000  # modules, models, routes: out of the collector's walk
    finally:
        gc.unfreeze()
