"""The local FerretDB build finds documents by _id through its _id index, answers updates of
any number of statements, and applies guarded writes atomically.

deploy/local/install_ferretdb.sh fixes FerretDB 1.x's _id expression so SQLite can use the
index, and lets a filter that names a plain _id beside other conditions use it too; without
the fixes every find, update and delete by _id, or guarded by more, reads the whole table."""

import asyncio
import uuid
from datetime import datetime

import pytest
from bson.int64 import Int64
from pymongo import AsyncMongoClient, UpdateOne

pytestmark = pytest.mark.stack


@pytest.fixture
async def build_client(mongo_url):
    """A client of the local FerretDB build (tests of its fixes skip on another server); the
    scratch database goes afterwards."""
    client = AsyncMongoClient(mongo_url)
    try:
        if "ferretdbVersion" not in await client.admin.command("buildInfo"):
            pytest.skip("the fix concerns the local FerretDB build only")
        yield client
    finally:
        await client.drop_database("siks_test_build")
        await client.close()


async def test_a_find_by_id_searches_the_index_instead_of_scanning(build_client):
    client = build_client
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


async def test_an_update_of_a_thousand_statements_and_concurrent_ones_all_answer(mongo_url):
    """FerretDB 1.24.2 kept each statement's iterator (and a pooled SQLite connection) open to
    the end of the command: 100 statements in one update, or in concurrent ones, hung."""
    client = AsyncMongoClient(mongo_url)
    try:
        coll = client["siks_test_build"][f"bulk_{uuid.uuid4().hex[:8]}"]
        await coll.insert_many([{"_id": i, "n": 0} for i in range(1000)])
        one = await asyncio.wait_for(
            coll.bulk_write([UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in range(1000)], ordered=False), 60)
        assert one.modified_count == 1000
        several = await asyncio.wait_for(asyncio.gather(*(
            coll.bulk_write([UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in range(k, 1000, 8)], ordered=False)
            for k in range(8))), 60)
        assert sum(r.modified_count for r in several) == 1000
        assert await coll.count_documents({"n": 2}) == 1000
    finally:
        await client.drop_database("siks_test_build")
        await client.close()


async def test_the_statements_of_one_update_see_the_changes_of_those_before_them(mongo_url):
    """Our build writes what an update command's statements change together, at the end or
    before a statement that could read one of those documents: the result must be what the
    statements one after another would give, on MongoDB as on FerretDB."""
    client = AsyncMongoClient(mongo_url)
    try:
        coll = client["siks_test_build"][f"seq_{uuid.uuid4().hex[:8]}"]
        await coll.insert_many([{"_id": f"d{i}", "v": 1, "n": 0} for i in range(200)])
        statements = [UpdateOne({"_id": f"d{i}", "v": 1}, {"$set": {"v": 2}}) for i in range(200)]
        statements += [
            UpdateOne({"_id": "d0", "v": 1}, {"$set": {"v": 99}}),      # the guard sees v=2 now: no match
            UpdateOne({"_id": "d1", "v": 2}, {"$inc": {"n": 1}}),       # sees its own statement's write
            UpdateOne({"_id": "d1", "v": 2}, {"$inc": {"n": 1}}),       # and the one just before
            UpdateOne({"v": 2, "n": 2}, {"$set": {"seen": True}}),     # a filter by content, not _id
            UpdateOne({"_id": "new", "v": 1}, {"$set": {"n": 5}}, upsert=True),
            UpdateOne({"_id": "new", "n": 5}, {"$inc": {"n": 1}}),      # reads the upserted document
        ]
        result = await asyncio.wait_for(coll.bulk_write(statements, ordered=True), 60)
        assert (result.matched_count, result.upserted_count) == (200 + 3 + 1, 1)
        assert await coll.count_documents({"v": 2}) == 200
        assert await coll.find_one({"_id": "d1"}) == {"_id": "d1", "v": 2, "n": 2, "seen": True}
        assert await coll.find_one({"_id": "new"}) == {"_id": "new", "v": 1, "n": 6}
    finally:
        await client.drop_database("siks_test_build")
        await client.close()


async def test_concurrent_guarded_updates_of_one_document_lose_nothing(mongo_url):
    """Each writer reads the version and writes only if it is still that one (optimistic
    concurrency). Every success must show in the document: none overwrites another."""
    clients = [AsyncMongoClient(mongo_url) for _ in range(4)]  # separate connections, as replicas
    try:
        name = f"guarded_{uuid.uuid4().hex[:8]}"
        await clients[0]["siks_test_build"][name].insert_one({"_id": "one", "version": 0, "seen": []})

        async def writer(client: AsyncMongoClient, who: int) -> int:
            coll, won = client["siks_test_build"][name], 0
            for attempt in range(25):
                doc = await coll.find_one({"_id": "one"})
                result = await coll.update_one({"_id": "one", "version": doc["version"]},
                                               {"$set": {"version": doc["version"] + 1},
                                                "$push": {"seen": f"{who}-{attempt}"}})
                won += result.modified_count
            return won

        wins = await asyncio.gather(*(writer(clients[k % 4], k) for k in range(8)))
        final = await clients[0]["siks_test_build"][name].find_one({"_id": "one"})
        assert final["version"] == sum(wins) == len(final["seen"]) > 0
    finally:
        await clients[0].drop_database("siks_test_build")
        for client in clients:
            await client.close()


async def test_a_batch_by_ids_goes_through_the_index_and_an_update_of_many_writes_them_all(build_client):
    """`_id: {$in: [...]}` read the whole table in FerretDB 1.24.2; our build narrows it by the
    index. An update of many documents now writes them in one transaction: the counts, the
    guards and what is stored must be what MongoDB gives."""
    client = build_client
    db = client["siks_test_build"]
    coll = db[f"in_{uuid.uuid4().hex[:8]}"]
    await coll.insert_many([{"_id": f"doc-{i}", "n": i, "tags": ["a", f"t{i}"]} for i in range(300)])
    wanted = [f"doc-{i}" for i in range(0, 300, 3)]
    explained = await db.command("explain", {"find": coll.name, "filter": {"_id": {"$in": wanted}}})
    plan = " ".join(explained["queryPlanner"]["Plan"])
    assert "USING INDEX" in plan and "SCAN" not in plan, plan
    found = await coll.find({"_id": {"$in": wanted}, "n": {"$lt": 150}}).to_list(None)
    assert sorted(d["n"] for d in found) == list(range(0, 150, 3))  # the rest of the filter applies
    mixed = await coll.find({"_id": {"$in": ["doc-1", 5, "nope"]}}).to_list(None)
    assert [d["_id"] for d in mixed] == ["doc-1"]  # other types fall back to a scan, same answer
    changed = await coll.update_many({"_id": {"$in": wanted}, "n": {"$gte": 30}},
                                     {"$pullAll": {"tags": ["a", "t30", "t33"]}, "$inc": {"n": 1000}})
    assert (changed.matched_count, changed.modified_count) == (90, 90)
    assert await coll.find_one({"_id": "doc-30"}) == {"_id": "doc-30", "n": 1030, "tags": []}
    assert await coll.find_one({"_id": "doc-36"}) == {"_id": "doc-36", "n": 1036, "tags": ["t36"]}
    assert await coll.find_one({"_id": "doc-27"}) == {"_id": "doc-27", "n": 27, "tags": ["a", "t27"]}
    assert await coll.count_documents({"n": {"$gte": 1000}}) == 90
    gone = await coll.delete_many({"_id": {"$in": wanted[:10]}})
    assert gone.deleted_count == 10 and await coll.count_documents({}) == 290


async def test_every_kind_of_value_we_store_reads_back_as_written(mongo_url):
    """The build decodes stored documents with goccy/go-json instead of encoding/json
    (ferretdb/faster-json.patch): what goes in must come back the same, through an insert, a
    find and an update that rewrites the document, escapes, non-ASCII names and awkward
    numbers included. Holds on MongoDB too."""
    awkward = {
        "_id": "doc-awkward",
        "name": "Siti Nur'aini \"Ani\" \\ Ñandú 王 😀 \u00e9\t\n\u2028",
        "empty": "", "null": None, "yes": True, "no": False,
        "int": 2_147_483_647, "neg": -2_147_483_648, "long": Int64(9_007_199_254_740_993),
        "doubles": [0.1, 1e300, -2.5e-308, 1.0, -0.0, 123456789.123456789],
        "when": datetime(2026, 12, 16, 2, 0, 0, 123000),  # naive UTC, milliseconds: as BSON keeps it
        "nested": {"a": [{"b": [1, "x", {"c": None}]}, {}]},  # no array directly in an array: FerretDB 1.x refuses it
        "outbox": [{"event_id": "e1", "value": '{"payload": {"nik": "3204050101900001", "s": "\\u00e9"}}'}],
    }
    client = AsyncMongoClient(mongo_url)
    try:
        coll = client["siks_test_build"][f"values_{uuid.uuid4().hex[:8]}"]
        await coll.insert_one(dict(awkward))
        assert await coll.find_one({"_id": "doc-awkward"}) == awkward
        assert (await coll.update_one({"_id": "doc-awkward"}, {"$set": {"yes": False}})).modified_count == 1
        assert await coll.find_one({"_id": "doc-awkward"}) == {**awkward, "yes": False}
        assert await coll.find_one({"name": awkward["name"]}, {"_id": 1}) == {"_id": "doc-awkward"}
    finally:
        await client.drop_database("siks_test_build")
        await client.close()


async def test_only_unique_indexes_are_built_yet_every_index_is_listed_and_kept(build_client):
    """FerretDB 1.x narrows its SQL by _id alone and sorts in memory, so no query reads another
    index; our build builds only the unique ones in SQLite (they refuse duplicates), keeps the
    others in its catalogue, and gives each a size in the stats."""
    from pymongo.errors import DuplicateKeyError

    client = build_client
    db = client["siks_test_build"]
    coll = db[f"idx_{uuid.uuid4().hex[:8]}"]
    await coll.create_index("region")
    await coll.create_index("nik", unique=True)
    await coll.insert_many([{"_id": i, "region": f"r{i % 3}", "nik": f"n{i}"} for i in range(30)])
    names = {ix["name"] async for ix in await coll.list_indexes()}
    assert names == {"_id_", "region_1", "nik_1"}
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": 99, "region": "r0", "nik": "n7"})
    assert sorted(d["_id"] for d in await coll.find({"region": "r1"}).to_list(None)) == list(range(1, 30, 3))
    sizes = (await db.command("collStats", coll.name))["indexSizes"]
    assert set(sizes) == names and sizes["region_1"] == 0 and sizes["nik_1"] > 0
    await coll.drop_index("region_1")
    assert {ix["name"] async for ix in await coll.list_indexes()} == {"_id_", "nik_1"}
    await coll.create_index("region")  # and back
    assert await coll.count_documents({"region": "r2"}) == 10


async def test_a_nan_anywhere_in_a_request_is_refused_and_nothing_is_stored(build_client):
    """FerretDB refuses NaN (SQLite's JSON has none); our build finds it on the request's raw
    bytes instead of decoding the request twice, with the same outcome: the request fails."""
    from pymongo.errors import PyMongoError

    client = build_client
    coll = client["siks_test_build"][f"nan_{uuid.uuid4().hex[:8]}"]
    for doc in ({"_id": 1, "x": float("nan")}, {"_id": 2, "a": [1.0, {"b": [float("nan")]}], "s": "t"}):
        with pytest.raises(PyMongoError):
            await coll.insert_one(doc)
    await coll.insert_one({"_id": 3, "x": 2.5, "a": [1.5, {"b": -0.0}], "s": "NaN"})
    assert [d["_id"] for d in await coll.find({}).to_list(None)] == [3]
