"""What decree says and hears on Kafka (subscribers are wired by siks_kit.runtime.service)."""

from siks_contracts.events import CaseStageChanged, DecreeIssued, type_of
from siks_kit.bus.consumer import Handler
from siks_kit.runtime.service import ServiceSpec

from . import handlers
from .handlers import DecreeDeps

SPEC = ServiceSpec(
    name=handlers.SERVICE,
    version="1.0.0",
    description="Decrees (SK Mensos), frozen beneficiary lists and public status (Cek Bansos).",
    publishes=[type_of(DecreeIssued)],
    # Its own decree event comes back to fill the Cek Bansos index, exactly once per decree.
    consumes=[type_of(CaseStageChanged), type_of(DecreeIssued)],
    outbox_collections=["decrees"],
)


def subscriptions(deps: DecreeDeps) -> dict[str, Handler]:
    return {
        type_of(CaseStageChanged): lambda env, p: handlers.on_case_stage_changed(deps, env, p),
        type_of(DecreeIssued): lambda env, p: handlers.on_decree_issued(deps, env, p),
    }
