"""The composition root: settings -> rules -> clients -> repositories -> handlers -> app and
subscribers. The one place that picks concrete adapters; tests pass fakes in."""

from pathlib import Path

from fastapi import FastAPI
from siks_contracts.programs import DEFAULT_PROGRAM_RULES, ProgramRules
from siks_kit.runtime.clock import Clock
from siks_kit.runtime.schedule import load_calendar
from siks_kit.runtime.service import create_service_app
from siks_kit.store.documents import Database
from siks_kit.bus.transport import Transport

from .api.routes import router
from .config import Settings
from .domain.case import CaseRules
from .handlers import VerificationDeps
from .messaging import SPEC, subscriptions


def load_rules(settings: Settings) -> CaseRules:
    programs = (ProgramRules.model_validate_json(Path(settings.program_rules_file).read_text())
                if settings.program_rules_file else DEFAULT_PROGRAM_RULES)
    return CaseRules(programs=programs, calendar=load_calendar(settings.schedule_file),
                     separation_of_duties=settings.separation_of_duties)


def build_app(settings: Settings | None = None, *, database: Database | None = None,
              transport: Transport | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    rules = load_rules(settings)
    return create_service_app(
        SPEC, settings, routers=[router],
        make_deps=lambda db, clk, _s: VerificationDeps.build(db, clk, rules),
        make_handlers=subscriptions, database=database, transport=transport, clock=clock,
    )
