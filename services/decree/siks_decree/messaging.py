"""What decree says and hears on Kafka (subscribers are wired by siks_kit.runtime.service).

Interface break (issue 8): `decree.decree_issued.v1` carried the whole list and cannot pass
~7,500 beneficiaries under Kafka's 1 MiB message default; it is no longer published (still
read, for replays). An issued SK is `decree.decree_issued.v2` (count, hash, where to read the
list) and one `decree.beneficiary_status_changed.v1` per entry, sent by the publisher
(handlers.run_publisher), not the outbox."""

from siks_contracts.events import BeneficiaryStatusChanged, CaseStageChanged, DecreeIssued, DecreeIssuedV2, type_of
from siks_kit.bus.consumer import Handler
from siks_kit.runtime.service import ServiceSpec

from . import handlers
from .handlers import DecreeDeps

SPEC = ServiceSpec(
    name=handlers.SERVICE,
    version="2.0.0",
    description="Decrees (SK Mensos), frozen beneficiary lists and public status (Cek Bansos).",
    publishes=[type_of(DecreeIssuedV2), type_of(BeneficiaryStatusChanged)],
    # Its own beneficiary events come back to fill the roll and Cek Bansos (v1 records too, on a replay).
    consumes=[type_of(CaseStageChanged), type_of(BeneficiaryStatusChanged), type_of(DecreeIssued)],
    outbox_collections=["decrees"],
)


def subscriptions(deps: DecreeDeps) -> dict[str, Handler]:
    return {
        type_of(CaseStageChanged): lambda env, p: handlers.on_case_stage_changed(deps, env, p),
        type_of(BeneficiaryStatusChanged): lambda env, p: handlers.on_beneficiary_status_changed(deps, env, p),
        type_of(DecreeIssued): lambda env, p: handlers.on_decree_issued(deps, env, p),
    }
