"""The local FerretDB build finds documents by _id through its _id index.

deploy/local/install_ferretdb.sh fixes FerretDB 1.x's _id expression so SQLite can use the
index, and lets a filter that names a plain _id beside other conditions use it too; without
the fixes every find, update and delete by _id, or guarded by more, reads the whole table."""

import uuid

import pytest
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.stack


async def test_a_find_by_id_searches_the_index_instead_of_scanning(mongo_url):
    client = AsyncMongoClient(mongo_url)
    try:
        if "ferretdbVersion" not in await client.admin.command("buildInfo"):
            pytest.skip("the fix concerns the local FerretDB build only")
        coll = client["siks_test_build"][f"ids_{uuid.uuid4().hex[:8]}"]
        await coll.insert_many([{"_id": f"doc-{i}", "n": i} for i in range(50)])
        explained = await client["siks_test_build"].command(
            "explain", {"find": coll.name, "filter": {"_id": "doc-7"}})
        plan = " ".join(explained["queryPlanner"]["Plan"])
        assert "USING INDEX" in plan and "SCAN" not in plan, plan
        guarded = await client["siks_test_build"].command(
            "explain", {"find": coll.name, "filter": {"_id": "doc-7", "n": {"$ne": 3}}})
        plan = " ".join(guarded["queryPlanner"]["Plan"])
        assert "USING INDEX" in plan and "SCAN" not in plan, plan  # a guarded filter goes by _id too
        assert await coll.find_one({"_id": "doc-7", "n": 8}) is None  # the rest of the filter still applies
        assert await coll.find_one({"_id": "doc-7"}) == {"_id": "doc-7", "n": 7}
        assert (await coll.update_one({"_id": "doc-8"}, {"$set": {"n": 80}})).modified_count == 1
        assert (await coll.find_one({"_id": "doc-8"}))["n"] == 80
        assert (await coll.delete_one({"_id": "doc-9"})).deleted_count == 1
        assert await coll.count_documents({}) == 49
    finally:
        await client.drop_database("siks_test_build")
        await client.close()
