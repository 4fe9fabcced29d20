"""Decree rules: which approved cases a draft takes, how the frozen list is hashed and numbered."""

import hashlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

DRAFT = "draft"
ISSUED = "issued"


def period_of(at: datetime, timezone: str = "Asia/Jakarta") -> str:
    """The decree period ("YYYY-MM") an approval falls in, in Indonesian time."""
    return at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def content_hash(program: str, period: str, beneficiaries: list[dict]) -> str:
    """SHA-256 over the canonical list: anyone holding the list can prove it is the decreed one."""
    rows = sorted((b["proposal_id"], b["household_id"], b["region_code"]) for b in beneficiaries)
    canonical = json.dumps({"program": program, "period": period, "beneficiaries": rows},
                           separators=(",", ":"), sort_keys=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def decree_number(sequence: int, year: int) -> str:
    """Kepmensos style: "<n>/HUK/<year>"."""
    return f"{sequence}/HUK/{year}"


def normalise_name(name: str) -> str:
    return " ".join(name.split()).casefold()
