"""Problem details for failures that are nobody's input: the database away, a bug."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError
from siks_kit.store.documents import UNREACHABLE
from siks_kit.web.problems import install_problem_handlers


def _client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app, unreachable=UNREACHABLE)  # as the composition root wires it

    @app.post("/db-away")
    async def db_away():
        raise ServerSelectionTimeoutError("127.0.0.1:27017: connection refused")

    @app.post("/db-refuses")
    async def db_refuses():
        raise OperationFailure("unknown operator: $nope")

    return TestClient(app, raise_server_exceptions=False)


def test_an_unreachable_database_is_503_with_retry_after():
    resp = _client().post("/db-away")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["detail"].startswith("the database cannot be reached")
    assert "27017" not in resp.text  # no internals


def test_a_database_refusal_is_a_500_that_tells_nothing_inside():
    resp = _client().post("/db-refuses")
    assert resp.status_code == 500 and "$nope" not in resp.text
