"""One suite, two stores: the mongomock fake and a real MongoDB-wire server (FerretDB here)
must behave alike for every operation the services rely on."""

import asyncio
import uuid

import pytest
from siks_testkit.memory import MemoryDatabase
from siks_kit.store.documents import DuplicateKey, MongoDatabase, project


@pytest.fixture(params=["memory", pytest.param("ferretdb", marks=pytest.mark.stack)])
async def coll(request):
    if request.param == "memory":
        db = MemoryDatabase()
    else:
        db = MongoDatabase(request.getfixturevalue("mongo_url"), "siks_test_contract")
    c = db.collection(f"c_{uuid.uuid4().hex[:8]}")
    writes = []
    db.on_write = lambda name, doc_id, entries: writes.append((doc_id, [e["event_id"] for e in entries if isinstance(e, dict)]))
    c.writes, c.db = writes, db
    yield c
    await db.close()


async def test_insert_then_find_and_duplicate_id(coll):
    await coll.insert_one({"_id": "a", "n": 1})
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
    with pytest.raises(DuplicateKey):
        await coll.insert_one({"_id": "a", "n": 2})
    assert (await coll.find_one({"_id": "a"}))["n"] == 1


async def test_insert_in_order_stops_at_the_first_collision_and_says_how_many_went_in(coll):
    await coll.insert_one({"_id": "k3"})
    assert await coll.insert_in_order([{"_id": f"k{i}", "n": i} for i in (1, 2, 3, 4)]) == 2
    assert [d["_id"] for d in await coll.find({}, sort=[("_id", 1)])] == ["k1", "k2", "k3"]
    assert await coll.insert_in_order([{"_id": "k4", "outbox": [{"event_id": "x"}]}, {"_id": "k5"}]) == 2
    assert await coll.insert_in_order([]) == 0
    assert coll.writes == [("k4", ["x"])]


async def test_delete_many_removes_every_match_and_says_how_many(coll):
    await coll.insert_one({"_id": "u2", "n": 0})
    assert await coll.insert_each([{"_id": f"u{i}", "n": i, "g": "a"} for i in (1, 2, 3)]) == [1]
    assert [(d["_id"], d["n"]) for d in await coll.find({}, sort=[("_id", 1)])] == [("u1", 1), ("u2", 0), ("u3", 3)]
    assert await coll.delete_many({"g": "a"}) == 2
    assert [d["_id"] for d in await coll.find({})] == ["u2"]


async def test_iterate_reads_a_sorted_result_a_batch_at_a_time(coll):
    await coll.insert_each([{"_id": f"i{n:02d}", "g": n % 2} for n in range(25)])
    got = [d["_id"] async for d in coll.iterate({"g": 1}, sort=[("_id", -1)], projection={"_id": 1}, batch_size=4)]
    assert got == [f"i{n:02d}" for n in range(23, -1, -2)]


async def test_conditional_update_reports_whether_it_matched(coll):
    await coll.insert_one({"_id": "c", "stage": "submitted", "version": 1})
    assert await coll.update_one({"_id": "c", "stage": "submitted"}, {"$set": {"stage": "verified"}, "$inc": {"version": 1}})
    assert not await coll.update_one({"_id": "c", "stage": "submitted"}, {"$set": {"stage": "rejected"}})
    doc = await coll.find_one({"_id": "c"})
    assert (doc["stage"], doc["version"]) == ("verified", 2)


async def test_outbox_append_find_pending_and_remove_exact_entries(coll):
    e1, e2, e3 = ({"event_id": f"e{i}", "topic": "t", "key": "k", "value": "{}"} for i in range(3))
    await coll.insert_one({"_id": "h", "outbox": [e1]})
    await coll.insert_one({"_id": "quiet", "outbox": []})
    await coll.update_one({"_id": "h"}, {"$push": {"outbox": {"$each": [e2, e3]}}})
    pending = await coll.find({"outbox.0": {"$exists": True}}, projection={"outbox": 1})
    assert [d["_id"] for d in pending] == ["h"]
    assert [e["event_id"] for e in pending[0]["outbox"]] == ["e0", "e1", "e2"]
    await coll.update_one({"_id": "h"}, {"$pullAll": {"outbox": pending[0]["outbox"][:2]}})
    assert [e["event_id"] for e in (await coll.find_one({"_id": "h"}))["outbox"]] == ["e2"]


async def test_seen_guard_makes_a_second_delivery_match_nothing(coll):
    await coll.insert_one({"_id": "x", "seen": [], "count": 0})
    for _ in range(2):
        await coll.update_one({"_id": "x", "seen": {"$ne": "ev-1"}}, {"$inc": {"count": 1}, "$push": {"seen": "ev-1"}})
    assert (await coll.find_one({"_id": "x"}))["count"] == 1


async def test_array_membership_regex_sort_skip_limit_projection(coll):
    for i, region in enumerate(["32.04.05.2001", "32.04.06.2003", "33.22.01.2001"]):
        await coll.insert_one({"_id": f"h{i}", "region_code": region, "members": [{"nik": f"n{i}", "name": f"Siti {i}"}],
                               "outbox": [{"event_id": "x"}]})
    assert (await coll.find_one({"members.nik": {"$in": ["n2", "zz"]}}, {"_id": 1})) == {"_id": "h2"}
    found = await coll.find({"region_code": {"$regex": r"^32\.04"}}, sort=[("_id", -1)], limit=1, skip=0,
                            projection={"outbox": 0})
    assert [d["_id"] for d in found] == ["h1"] and "outbox" not in found[0]
    assert [d["_id"] for d in await coll.find({}, sort=[("_id", 1)], skip=1, limit=5)] == ["h1", "h2"]
    assert await coll.count({"members.name": {"$regex": "siti", "$options": "i"}}) == 3


async def test_increment_is_one_then_two(coll):
    assert [await coll.increment("seq"), await coll.increment("seq")] == [1, 2]


async def test_writes_that_add_outbox_entries_hand_them_over_with_their_document(coll):
    await coll.insert_one({"_id": "w", "outbox": [{"event_id": "e"}]})
    await coll.insert_one({"_id": "quiet"})
    await coll.update_one({"_id": "quiet"}, {"$set": {"a": 1}})
    await coll.update_one({"_id": "quiet"}, {"$push": {"outbox": {"event_id": "f"}}})
    await coll.update_one({"_id": "quiet"}, {"$push": {"outbox": {"$each": [{"event_id": "h"}, {"event_id": "i"}]}}})
    await coll.update_one({"_id": "missing"}, {"$push": {"outbox": {"event_id": "g"}}})
    await coll.find_one({"_id": "w"})
    assert coll.writes == [("w", ["e"]), ("quiet", ["f"]), ("quiet", ["h", "i"])]


async def test_update_many_by_ids_pulls_each_documents_own_entries_from_a_shared_list(coll):
    """How the relay removes what it published: one statement for many documents."""
    for i in range(3):
        await coll.insert_one({"_id": f"b{i}", "outbox": [{"event_id": f"e{i}"}, {"event_id": f"keep{i}"}]})
    published = [{"event_id": f"e{i}"} for i in range(3)] + [{"event_id": "elsewhere"}]
    assert await coll.update_many({"_id": {"$in": ["b0", "b1", "b2", "none"]}}, {"$pullAll": {"outbox": published}}) == 3
    assert [d["outbox"] for d in await coll.find({}, sort=[("_id", 1)])] == [[{"event_id": f"keep{i}"}] for i in range(3)]
    assert coll.writes[3:] == []  # bookkeeping is not handed over as new outbox entries


async def test_insert_each_stores_the_new_and_names_the_ones_already_there(coll):
    await coll.insert_one({"_id": "old", "v": 1})
    docs = [{"_id": "n1", "outbox": [{"event_id": "a"}]}, {"_id": "old", "v": 2, "outbox": [{"event_id": "x"}]},
            {"_id": "n2"}, {"_id": "n1", "v": 3}]
    assert await coll.insert_each(docs) == [1, 3]
    assert (await coll.find_one({"_id": "old"}))["v"] == 1  # what was there stays
    assert [d["_id"] for d in await coll.find({}, sort=[("_id", 1)])] == ["n1", "n2", "old"]
    assert coll.writes == [("n1", ["a"])]  # only what was stored is handed to the relay
    assert await coll.insert_each([]) == []


async def test_update_each_says_per_update_whether_it_matched_and_hands_on_only_those(coll):
    for i in range(4):
        await coll.insert_one({"_id": f"u{i}", "version": 1, "n": 0})
    changes = [
        ({"_id": "u0", "version": 1}, {"$set": {"version": 2}, "$push": {"outbox": {"event_id": "a"}}}),
        ({"_id": "u1", "version": 7}, {"$set": {"version": 8}, "$push": {"outbox": {"event_id": "lost"}}}),
        ({"_id": "gone", "version": 1}, {"$set": {"version": 2}}),
        ({"_id": "u2", "version": 1}, {"$inc": {"n": 1}, "$set": {"version": 2}}),
        ({"_id": "u2", "version": 2}, {"$inc": {"n": 1}, "$set": {"version": 3}}),  # sees the one before
        ({"_id": "u0", "version": 1}, {"$set": {"version": 9}}),  # guard moved by the first
    ]
    assert await coll.update_each(changes) == [True, False, False, True, True, False]
    got = {d["_id"]: (d["version"], d["n"]) for d in await coll.find({}, projection={"outbox": 0})}
    assert got == {"u0": (2, 0), "u1": (1, 0), "u2": (3, 2), "u3": (1, 0)}
    assert coll.writes == [("u0", ["a"])]  # only what matched reaches the relay
    assert await coll.update_each([]) == []
    with pytest.raises(ValueError):
        await coll.update_each([({"version": 1}, {"$set": {"version": 2}})])


async def test_update_each_of_all_matching_answers_from_the_count_alone(coll):
    await coll.insert_each([{"_id": f"m{i}", "v": 0} for i in range(300)])
    assert await coll.update_each([({"_id": f"m{i}", "v": 0}, {"$set": {"v": 1}}) for i in range(300)]) == [True] * 300
    assert await coll.count({"v": 1}) == 300


async def test_delete_one_reports_whether_it_deleted(coll):
    await coll.insert_one({"_id": "n1", "household_id": "h1"})
    assert not await coll.delete_one({"_id": "n1", "household_id": "h2"})
    assert not await coll.delete_one({"_id": "n0", "household_id": "h1"})
    assert await coll.delete_one({"_id": "n1", "household_id": "h1"})
    assert await coll.find_one({"_id": "n1"}) is None


async def test_concurrent_updates_of_one_document_are_never_lost(coll):
    # FerretDB 1.x applies updates as read-change-write: without our build's collection lock
    # one of two concurrent updates vanished (the relay's outbox removal against a stage move).
    await coll.insert_one({"_id": "race", "hits": [], "outbox": []})
    await asyncio.gather(*(coll.update_one({"_id": "race"}, {"$push": {"hits": i}}) for i in range(60)))
    assert sorted((await coll.find_one({"_id": "race"}))["hits"]) == list(range(60))


async def test_upsert_creates_once_and_then_collides_on_the_guard(coll):
    guard = {"_id": "u", "seen": {"$ne": "ev-1"}}
    change = {"$set": {"checks": ["ok"]}, "$push": {"seen": "ev-1"}}
    assert await coll.update_one(guard, change, upsert=True)
    assert await coll.find_one({"_id": "u"}) == {"_id": "u", "checks": ["ok"], "seen": ["ev-1"]}
    with pytest.raises(DuplicateKey):  # the same event again: matched nothing, insert collides
        await coll.update_one(guard, change, upsert=True)


async def test_find_one_by_id_with_guards(coll):
    await coll.insert_one({"_id": "g", "stage": "submitted", "outbox": [{"event_id": "e"}], "tags": ["a", "b"]})
    await coll.insert_one({"_id": "bare", "outbox": []})
    assert (await coll.find_one({"_id": "g", "stage": {"$exists": True}}, {"stage": 1})) == {"_id": "g", "stage": "submitted"}
    assert await coll.find_one({"_id": "bare", "stage": {"$exists": True}}) is None
    assert await coll.find_one({"_id": "g", "outbox.0": {"$exists": True}}) is not None
    assert await coll.find_one({"_id": "bare", "outbox.0": {"$exists": True}}) is None
    assert await coll.find_one({"_id": "g", "tags": {"$ne": "a"}}) is None
    assert await coll.find_one({"_id": "g", "tags": "b", "stage": {"$in": ["submitted"]}}) is not None


async def test_upsert_copies_equality_guards_into_the_new_document(coll):
    assert await coll.update_one({"_id": "q", "kind": "k1", "seen": {"$ne": "e"}}, {"$set": {"n": 1}}, upsert=True)
    assert await coll.find_one({"_id": "q"}) == {"_id": "q", "kind": "k1", "n": 1}



async def test_projections_by_id_with_guards_include_or_exclude(coll):
    await coll.insert_one({"_id": "p", "stage": "s", "outbox": [1], "seen": ["e"], "n": 2})
    guarded = {"_id": "p", "stage": {"$exists": True}}
    assert await coll.find_one(guarded, {"outbox": 0, "seen": 0}) == {"_id": "p", "stage": "s", "n": 2}
    assert await coll.find_one(guarded, {"outbox": 1}) == {"_id": "p", "outbox": [1]}
    assert await coll.find_one(guarded, {"_id": 1}) == {"_id": "p"}
    assert await coll.find_one(guarded, {"n": 1, "_id": 0}) == {"n": 2}
    assert await coll.find_one(guarded, {"_id": 0}) == {"stage": "s", "outbox": [1], "seen": ["e"], "n": 2}


def test_a_projection_on_a_dotted_path_is_refused_not_guessed():
    with pytest.raises(ValueError, match="dotted path"):
        project({"_id": "p", "a": {"b": 1}}, {"a.b": 1})


async def test_update_many_claims_only_what_is_unclaimed_in_one_conditional_write(coll):
    for i in range(5):
        await coll.insert_one({"_id": f"c{i}", "period": "2026-12", "decree_id": "other" if i == 0 else None})
    claimed = await coll.update_many({"_id": {"$in": ["c0", "c1", "c2"]}, "decree_id": None},
                                     {"$set": {"decree_id": "d1"}})
    assert claimed == 2
    assert sorted(d["_id"] for d in await coll.find({"decree_id": "d1"})) == ["c1", "c2"]
    assert await coll.update_many({"decree_id": "d1"}, {"$set": {"decree_id": None}}) == 2


class Held:
    """A relay's published entries as the store sees them (store.Published)."""

    def __init__(self, entries):
        self.entries, self.kept = dict(entries), {}

    def take(self, collection, doc_id):
        return self.entries.pop(doc_id, [])

    def keep(self, collection, doc_id, entries):
        if entries:
            self.kept[doc_id] = entries


async def test_an_update_removes_its_documents_published_entries_in_passing(coll):
    sent = {f"p{i}": [{"event_id": f"e{i}", "topic": "t", "key": f"p{i}", "value": "{}"}] for i in range(1, 6)}
    await coll.insert_each([{"_id": doc_id, "n": 0, "outbox": entries} for doc_id, entries in sent.items()])
    held = coll.db.published = Held(sent)
    late = {"event_id": "late", "topic": "t", "key": "p4", "value": "{}"}
    assert await coll.update_one({"_id": "p1"}, {"$set": {"n": 1}})
    assert not await coll.update_one({"_id": "p2", "n": 9}, {"$set": {"n": 1}})  # no match: the relay's again
    assert await coll.update_each([({"_id": "p3"}, {"$inc": {"n": 1}}), ({"_id": "p4"}, {"$push": {"outbox": late}}),
                                   ({"_id": "p5", "n": 9}, {"$inc": {"n": 1}})]) == [True, True, False]
    outboxes = {d["_id"]: [e["event_id"] for e in d["outbox"]] for d in await coll.find({})}
    assert outboxes == {"p1": [], "p2": ["e2"], "p3": [], "p4": ["e4", "late"], "p5": ["e5"]}
    assert held.kept == {"p2": sent["p2"], "p5": sent["p5"]}  # what did not go, handed back
    assert held.entries == {"p4": sent["p4"]}  # an update that writes the outbox cannot pull from it too
