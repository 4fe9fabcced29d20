"""The JSON Schemas integrators read are the ones the code validates with."""

import json
from pathlib import Path

from siks_contracts.asyncapi import asyncapi_document
from siks_contracts.events import EVENTS
from siks_contracts.schemas import message_schemas

SCHEMAS = Path(__file__).resolve().parents[1] / "contracts" / "schemas"


def test_committed_schemas_match_the_models():
    expected = message_schemas()
    on_disk = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    stale = sorted(n for n in expected if on_disk.get(n) != json.loads(json.dumps(expected[n], sort_keys=True)))
    assert stale == [], f"run `make schemas` and commit: {stale}"
    assert set(on_disk) == set(expected)


def test_every_event_type_has_a_topic_and_an_asyncapi_channel():
    doc = asyncapi_document("all", "1", publishes=list(EVENTS), consumes=[])
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {topic for _, topic in EVENTS.values()}
    assert len(doc["operations"]) == len(EVENTS)
