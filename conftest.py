"""Root fixtures: the real MongoDB-wire server and Kafka of the local stack, when a test asks."""

import os
import socket

import pytest

# Services refuse to start without SIKS_ENV; the suite runs them with the development key
# (`make test` sets it too; a caller's explicit value wins).
os.environ.setdefault("SIKS_ENV", "development")

MONGO_URL = os.environ.get("SIKS_TEST_MONGO_URL", f"mongodb://127.0.0.1:{os.environ.get('SIKS_MONGO_PORT', '27017')}/")
KAFKA = os.environ.get("SIKS_TEST_KAFKA", f"127.0.0.1:{os.environ.get('SIKS_KAFKA_PORT', '9092')}")


def _reachable(hostport: str) -> bool:
    host, port = hostport.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


@pytest.fixture(scope="session")
def mongo_url() -> str:
    hostport = MONGO_URL.split("//", 1)[1].rstrip("/")
    if not _reachable(hostport):
        pytest.fail(f"no MongoDB-wire server at {hostport}: run the tests with `make test` (it starts the stack)")
    return MONGO_URL


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _reachable(KAFKA):
        pytest.fail(f"no Kafka at {KAFKA}: run the tests with `make test` (it starts the stack)")
    return KAFKA
