"""What verification says and hears on Kafka (subscribers are wired by siks_kit.runtime.service)."""

from siks_contracts.events import BeneficiaryStatusChanged, CaseStageChanged, ChecksCompleted, ChecksPending, DecreeIssued, ProposalSubmitted, type_of
from siks_kit.bus.consumer import Batched, Handler
from siks_kit.runtime.service import ServiceSpec

from . import handlers
from .handlers import VerificationDeps

SPEC = ServiceSpec(
    name=handlers.SERVICE,
    version="1.1.0",
    description="The case of each proposal as it climbs the ladder: Dinas Sosial, BPS, the regent.",
    publishes=[type_of(CaseStageChanged)],
    consumes=[type_of(ProposalSubmitted), type_of(ChecksCompleted), type_of(ChecksPending), type_of(BeneficiaryStatusChanged), type_of(DecreeIssued)],
    outbox_collections=["cases"],
)


def subscriptions(deps: VerificationDeps) -> dict[str, Handler | Batched]:
    return {
        type_of(ProposalSubmitted): Batched(one=lambda env, p: handlers.on_proposal_submitted(deps, env, p),
                                            many=lambda items: handlers.on_proposals_submitted(deps, items)),
        type_of(ChecksCompleted): Batched(one=lambda env, p: handlers.on_checks_completed(deps, env, p),
                                          many=lambda items: handlers.on_checks_completed_many(deps, items)),
        type_of(ChecksPending): lambda env, p: handlers.on_checks_pending(deps, env, p),
        type_of(BeneficiaryStatusChanged): lambda env, p: handlers.on_beneficiary_status_changed(deps, env, p),
        type_of(DecreeIssued): lambda env, p: handlers.on_decree_issued(deps, env, p),  # v1 replays
    }
