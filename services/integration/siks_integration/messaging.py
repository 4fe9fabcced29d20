"""What integration says and hears on Kafka (subscribers are wired by siks_kit.runtime.service)."""

from siks_contracts.events import ChecksCompleted, ChecksPending, ProposalSubmitted, type_of
from siks_kit.bus.consumer import Batched, Handler
from siks_kit.runtime.service import ServiceSpec

from . import handlers
from .handlers import IntegrationDeps

SPEC = ServiceSpec(
    name=handlers.SERVICE,
    version="1.0.0",
    description="Cross-checks of each proposal against outside systems (Dukcapil, DTSEN, region data).",
    publishes=[type_of(ChecksCompleted), type_of(ChecksPending)],
    consumes=[type_of(ProposalSubmitted)],
    outbox_collections=["checks"],
)


def subscriptions(deps: IntegrationDeps) -> dict[str, Handler | Batched]:
    return {type_of(ProposalSubmitted): Batched(one=lambda env, p: handlers.on_proposal_submitted(deps, env, p),
                                                many=lambda items: handlers.on_proposals_submitted(deps, items))}
