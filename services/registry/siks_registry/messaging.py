"""What the registry says and hears on Kafka (subscribers are wired by siks_kit.runtime.service)."""

from siks_contracts.events import CaseStageChanged, BeneficiaryStatusChanged, DecreeIssued, HouseholdRegistered, ProposalSubmitted, type_of
from siks_kit.bus.consumer import Handler
from siks_kit.runtime.service import ServiceSpec

from . import handlers
from .handlers import RegistryDeps

SPEC = ServiceSpec(
    name=handlers.SERVICE,
    version="1.0.0",
    description="Households, members, documents and proposals (usulan) entered by village operators.",
    publishes=[type_of(HouseholdRegistered), type_of(ProposalSubmitted)],
    consumes=[type_of(BeneficiaryStatusChanged), type_of(DecreeIssued), type_of(CaseStageChanged)],
    outbox_collections=["households", "proposals"],
)


def subscriptions(deps: RegistryDeps) -> dict[str, Handler]:
    return {
        type_of(BeneficiaryStatusChanged): lambda env, payload: handlers.on_beneficiary_status_changed(deps, env, payload),
        type_of(DecreeIssued): lambda env, payload: handlers.on_decree_issued(deps, env, payload),  # v1 replays
        type_of(CaseStageChanged): lambda env, payload: handlers.on_case_stage_changed(deps, env, payload),
    }
