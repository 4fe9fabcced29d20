"""Cases in MongoDB, one document per proposal (_id = proposal id). The repository maps the
domain's Case to its document and back; every save is one conditional write on the version
the case was loaded at, with the events' outbox entries in the same write."""

from datetime import date
from typing import Any

from siks_contracts.enums import ProposalKind, Program, RemovalReason, Role, Stage
from siks_contracts.events import CheckResult, HouseholdSnapshot
from siks_kit.store.documents import Collection, Database, Document, DuplicateKey, insert_new

from ..domain.case import Case, CheckRound, HistoryEntry

def _checks_doc(c: CheckRound) -> dict[str, Any]:
    # By hand rather than model_dump: every save of a case writes its checks, and pydantic's
    # dump of each was a tenth of this service's CPU in bulk. Evidence holds plain JSON values.
    return {"round": c.round, "checks": [{"name": x.name, "status": x.status, "detail": x.detail,
                                          "evidence": dict(x.evidence)} for x in c.checks],
            "passed": c.passed, "waiting_on": list(c.waiting_on), "desil": c.desil}


def _checks_of(d: dict[str, Any]) -> CheckRound:
    return CheckRound(d["round"], tuple(CheckResult.model_validate(x) for x in d.get("checks", [])), d.get("passed"),
                      tuple(d.get("waiting_on", [])), d.get("desil"))


def to_doc(case: Case) -> Document:
    return {
        "_id": case.proposal_id, "household_id": case.household_id, "program": case.program.value,
        "kind": case.kind.value, "region_code": case.region_code,
        "household": case.household.model_dump(mode="json"), "stage": case.stage.value, "round": case.round,
        "opened_at": case.opened_at, "check_round": _checks_doc(case.checks),
        "next_check_round": _checks_doc(case.next_checks) if case.next_checks else None,
        "history": [{"stage": h.stage.value, "actor": h.actor, "role": h.role.value, "at": h.at, "round": h.round,
                     "reason": h.reason, "note": h.note} for h in case.history],
        "version": case.version, "removal_reason": case.removal_reason.value if case.removal_reason else None,
        "desil": case.desil, "desil_reason": case.desil_reason, "tier": case.tier, "period": case.period,
        "approval_reference": case.approval_reference,
        "approval_date": case.approval_date.isoformat() if case.approval_date else None,
        "decree_id": case.decree_id, "decree_number": case.decree_number,
    }


def from_doc(doc: Document) -> Case:
    return Case(
        proposal_id=doc["_id"], household_id=doc["household_id"], program=Program(doc["program"]),
        kind=ProposalKind(doc["kind"]), region_code=doc["region_code"],
        household=HouseholdSnapshot.model_validate(doc["household"]), stage=Stage(doc["stage"]),
        round=doc.get("round", 1), opened_at=doc["opened_at"], checks=_checks_of(doc["check_round"]),
        next_checks=_checks_of(doc["next_check_round"]) if doc.get("next_check_round") else None,
        history=tuple(HistoryEntry(Stage(h["stage"]), h["actor"], Role(h["role"]), h["at"], h.get("round", 1),
                                   h.get("reason"), h.get("note")) for h in doc.get("history", [])),
        version=doc["version"],
        removal_reason=RemovalReason(doc["removal_reason"]) if doc.get("removal_reason") else None,
        desil=doc.get("desil"), desil_reason=doc.get("desil_reason"), tier=doc.get("tier"), period=doc.get("period"),
        approval_reference=doc.get("approval_reference"),
        approval_date=date.fromisoformat(doc["approval_date"]) if doc.get("approval_date") else None,
        decree_id=doc.get("decree_id"), decree_number=doc.get("decree_number"),
    )


def _change(case: Case, outbox: list[dict[str, Any]]) -> dict[str, Any]:
    """The update that writes a case and appends its new events."""
    change: dict[str, Any] = {"$set": {k: v for k, v in to_doc(case).items() if k != "_id"}}
    if outbox:
        change["$push"] = {"outbox": {"$each": outbox}}
    return change


class CaseStore:
    def __init__(self, db: Database) -> None:
        self.coll: Collection = db.collection("cases")

    async def prepare(self) -> None:
        await self.coll.create_index([("region_code", 1), ("stage", 1)])

    async def load(self, case_id: str) -> tuple[Case | None, Document | None]:
        """The case, and its raw document (for what lives beside it: the first trace, early
        check results that came before the proposal)."""
        doc = await self.coll.find_one({"_id": case_id}, {"outbox": 0})
        if doc is None or "stage" not in doc:
            return None, doc
        return from_doc(doc), doc

    async def get(self, case_id: str) -> Case | None:
        return (await self.load(case_id))[0]

    async def get_many(self, case_ids: list[str]) -> dict[str, Case]:
        """The open cases among those ids, in one read."""
        return {case_id: from_doc(doc) for case_id, doc in (await self.load_many(case_ids)).items() if "stage" in doc}

    async def insert_many(self, new: list[tuple[Case, list[dict[str, Any]], dict[str, Any]]]) -> list[bool]:
        """New cases with their events and what lives beside them, in one write; per case,
        whether it went in (False: a document of that id exists, a case or a placeholder)."""
        collided = set(await self.coll.insert_each([{**to_doc(case), **extra, "outbox": outbox}
                                                    for case, outbox, extra in new]))
        return [i not in collided for i in range(len(new))]

    async def load_many(self, case_ids: list[str]) -> dict[str, Document]:
        """The documents of those ids as stored, cases and placeholders, in one read."""
        return {doc["_id"]: doc for doc in await self.coll.find({"_id": {"$in": case_ids}}, projection={"outbox": 0})}

    async def insert(self, case: Case, outbox: list[dict[str, Any]], extra: dict[str, Any],
                     placeholder: Document | None) -> bool:
        """Stores a new case, onto the placeholder of check results that came before it when the
        caller saw one. False when the document is not as the caller saw it: the case exists
        (a redelivered proposal), results made a placeholder or added to it meanwhile (the
        topics are consumed side by side); the caller looks again."""
        if placeholder is None:
            return await insert_new(self.coll, {**to_doc(case), **extra, "outbox": outbox})
        return await self.coll.update_one(*_onto_placeholder(case, outbox, extra, placeholder))

    async def open_onto_placeholders(self, opening: list[tuple[Case, list[dict[str, Any]], dict[str, Any], Document]]
                                     ) -> list[bool]:
        """Many new cases, each onto the placeholder it was decided with, in one write; per
        case, whether its placeholder was still as read."""
        return await self.coll.update_each([_onto_placeholder(*one) for one in opening])

    async def save(self, case: Case, loaded_version: int, outbox: list[dict[str, Any]]) -> bool:
        """One write, only if nobody saved the case since it was loaded (optimistic)."""
        return await self.coll.update_one({"_id": case.proposal_id, "version": loaded_version}, _change(case, outbox))

    async def save_many(self, saves: list[tuple[Case, int, list[dict[str, Any]]]]) -> list[bool]:
        """Many cases (each with the version it was loaded at and its new events) in one write;
        per case, whether it was saved (False: someone saved it since it was loaded)."""
        return await self.coll.update_each([({"_id": case.proposal_id, "version": loaded_version},
                                             _change(case, outbox)) for case, loaded_version, outbox in saves])

    async def keep_early(self, case_id: str, field: str, value: dict[str, Any]) -> bool:
        """Check results that came before their proposal (the topics are not ordered with each
        other) wait on a placeholder; False when the case is open by now."""
        try:
            return await self.coll.update_one({"_id": case_id, "stage": {"$exists": False}},
                                              {"$set": {f"early.{field}": value}, "$inc": {EARLY_WRITES: 1}},
                                              upsert=True)
        except DuplicateKey:
            return False

    async def keep_early_many(self, early: list[tuple[str, str, dict[str, Any]]]) -> list[bool]:
        """Results (case id, field, value) for cases not open yet, each on a new placeholder,
        in one write; per result, whether it went in (False: a case or a placeholder of that
        id exists, and keep_early settles it)."""
        collided = set(await self.coll.insert_each([{"_id": case_id, "early": {field: value}, EARLY_WRITES: 1}
                                                    for case_id, field, value in early]))
        return [i not in collided for i in range(len(early))]


# Counts the writes of early results onto a placeholder: a case opens onto the placeholder only
# as it read it, so results added meanwhile are not lost under the case it decided without them.
EARLY_WRITES = "early_writes"


def _onto_placeholder(case: Case, outbox: list[dict[str, Any]], extra: dict[str, Any],
                      placeholder: Document) -> tuple[Document, Document]:
    body = {k: v for k, v in {**to_doc(case), **extra}.items() if k != "_id"}
    return ({"_id": case.proposal_id, "stage": {"$exists": False}, EARLY_WRITES: placeholder.get(EARLY_WRITES)},
            {"$set": body, "$unset": {"early": "", EARLY_WRITES: ""}, "$push": {"outbox": {"$each": outbox}}})
